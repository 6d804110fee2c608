# Sourced by .ci/run: headless Chromium for the report's browser test (tests/test_report.py,
# which fails rather than skips when CI is set and chromium is missing). Installs Debian's
# package when no chromium is on PATH, and prints the version found.

if ! command -v chromium >/dev/null 2>&1; then
  debian_install chromium
fi
echo "$(chromium --version 2>/dev/null) at $(command -v chromium)"
