#!/usr/bin/env bash
# Install the Debian packages a make target needs, only those missing.
# Usage: scripts/system-deps.sh run|test
# As root it runs apt-get (after one 'apt-get update'); otherwise it prints the command.
set -euo pipefail
what=${1:-run}

# command-or-file  debian-package
run_deps=(
  "python3-venv-ok python3-venv"
  "node nodejs"
  "npm npm"
)
test_deps=(
  "/usr/bin/chromium chromium"
  "nginx nginx-light"
  "wrk wrk"
  "zbarimg zbar-tools"
  "avahi-daemon avahi-daemon"
  "avahi-browse avahi-utils"
  "dbus-daemon dbus"
  "ip iproute2"
  "tc iproute2"
  "dig dnsutils"
  "dnsmasq dnsmasq-base"
  "dhclient isc-dhcp-client"
  "brotli brotli"
  "curl curl"
  "convert imagemagick"
  "nmcli network-manager"
  "openssl openssl"
  "faketime faketime"
  "fusermount3 fuse3"
  "debootstrap debootstrap"
  "systemd-nspawn systemd-container"
  "/usr/bin/firefox-esr firefox-esr"
  "WebKitWebDriver webkit2gtk-driver"
  "Xvfb xvfb"
)

have() {
  local probe=$1
  case "$probe" in
    python3-venv-ok) python3 -c 'import ensurepip, venv' 2>/dev/null ;;
    /*) [ -x "$probe" ] ;;
    *) command -v "$probe" >/dev/null 2>&1 || [ -x "/usr/sbin/$probe" ] || [ -x "/sbin/$probe" ] ;;
  esac
}

deps=("${run_deps[@]}")
[ "$what" = test ] && deps+=("${test_deps[@]}")
missing=()
for pair in "${deps[@]}"; do
  probe=${pair% *}; pkg=${pair#* }
  have "$probe" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing system packages: ${missing[*]}" >&2
  echo "Install them with: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The tests only need nmcli's offline mode: never let installing NetworkManager start it
# (it would take over this machine's network). policy-rc.d vetoes service starts.
guard=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  guard=/usr/sbin/policy-rc.d
  printf '#!/bin/sh\nexit 101\n' > "$guard"
  chmod +x "$guard"
fi
trap '[ -n "$guard" ] && rm -f "$guard"' EXIT
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
if printf '%s\n' "${missing[@]}" | grep -qx network-manager && \
   command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
  systemctl disable --now NetworkManager.service >/dev/null 2>&1 || true
fi
