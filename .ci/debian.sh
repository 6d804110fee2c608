# Sourced by .ci/run first: debian_install PACKAGE installs Debian's package (sudo when not
# root), for the tools the suite needs that may be missing on a new machine.

debian_install() {
  echo "$1 is missing: installing it from Debian's packages"
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
}
