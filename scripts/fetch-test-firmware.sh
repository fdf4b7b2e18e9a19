#!/usr/bin/env bash
# Unpacks Debian's ovmf package (downloaded, never installed) for the firmware tests, cached under
# .build/test-firmware/:
#
#   root/          the package's files (dpkg -x): usr/share/OVMF/*.fd, usr/share/qemu/firmware/*.json
#   descriptors/   the package's firmware descriptors, their image paths pointing into root/ (so that the
#                  images exist for whoever reads the descriptors, with nothing installed on the host)
#   VERSION        the package version
#
# Tests point libvirtd (through a private mount namespace) and virtd (through its configuration) at
# descriptors/, or at an empty directory for a host without descriptors.
#
# Idempotent: does nothing when already unpacked. FORCE=1 unpacks again.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.build/test-firmware
if [ -z "${FORCE:-}" ] && [ -s "$out/VERSION" ] && ls "$out"/descriptors/*.json >/dev/null 2>&1; then
    exit 0
fi
rm -rf "$out"
mkdir -p "$out/dl"
abs=$(cd "$out" && pwd)
(cd "$out/dl" && apt-get download ovmf 2>/dev/null) || {
    apt-get update -qq && (cd "$out/dl" && apt-get download ovmf)
}
deb=$(ls "$out"/dl/ovmf_*.deb | head -n 1)
dpkg -x "$deb" "$out/root"
mkdir -p "$out/descriptors"
for f in "$out"/root/usr/share/qemu/firmware/*.json; do
    sed "s|\"/usr/share/OVMF/|\"$abs/root/usr/share/OVMF/|g" "$f" > "$out/descriptors/$(basename "$f")"
done
dpkg-deb -f "$deb" Version > "$out/VERSION"
rm -rf "$out/dl"
echo "unpacked ovmf $(cat "$out/VERSION") into $out"
