# Sourced by .ci/run: the openssl CLI, which makes the self-signed certificates of
# target-threatq's TLS test (tests/test_target_threatq_hostile.py). Installs Debian's package
# when it is missing.

if ! command -v openssl >/dev/null 2>&1; then
  debian_install openssl
fi
echo "$(openssl version) at $(command -v openssl)"
