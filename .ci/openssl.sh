# Sourced by .ci/run: the openssl CLI, which makes the self-signed certificates of
# target-threatq's TLS test (tests/test_target_threatq_hostile.py). Installs Debian's package
# when it is missing.

if ! command -v openssl >/dev/null 2>&1; then
  echo "openssl is missing: installing it from Debian's packages"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
fi
echo "$(openssl version) at $(command -v openssl)"
