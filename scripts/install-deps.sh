#!/usr/bin/env bash
# Installs the Debian packages SwiftVirt's build and tests need, when any is missing.
set -euo pipefail
pkgs=(libxml2-dev qemu-system-x86 qemu-utils swtpm swtpm-tools libvirt-clients libvirt-daemon-system
      python3-libvirt tini hyperfine bindfs)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
