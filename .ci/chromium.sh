# Sourced by .ci/run: headless Chromium for the report's browser test (tests/test_report.py,
# which fails rather than skips when CI is set and chromium is missing). Installs Debian's
# package when no chromium is on PATH, and prints the version found.

if ! command -v chromium >/dev/null 2>&1; then
  echo "Chromium is missing: installing it from Debian's packages"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
echo "$(chromium --version 2>/dev/null) at $(command -v chromium)"
