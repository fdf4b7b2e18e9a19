#!/usr/bin/env bash
# Unpacks the source of Debian's python3-libvirt (libvirt-python, the installed version) for the test that
# runs libvirt-python's own tests against virtd and libvirtd, cached under .build/libvirt-python/:
#
#   src/       the upstream source tree (tests/ is what the test runs)
#   VERSION    the upstream version
#
# The tarball is Debian's `.orig.tar.gz`: its SHA-256 is read from Debian's source description (.dsc) of the
# installed version, and the file is taken from Debian's archive or, when the archive does not serve it, from
# PyPI (the same upstream tarball); a file whose checksum differs is refused.
#
# Idempotent: does nothing when already unpacked. FORCE=1 unpacks again.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.build/libvirt-python
deb_version=$(dpkg-query -W -f '${source:Version}' python3-libvirt)
upstream=${deb_version%-*}
upstream=${upstream#*:}
if [ -z "${FORCE:-}" ] && [ "$(cat "$out/VERSION" 2>/dev/null)" = "$upstream" ] && [ -d "$out/src/tests" ]; then
    exit 0
fi
rm -rf "$out"
mkdir -p "$out/dl"
pool=http://deb.debian.org/debian/pool/main/libv/libvirt-python
orig="libvirt-python_${upstream}.orig.tar.gz"
curl -fsSL --retry 3 -o "$out/dl/source.dsc" "$pool/libvirt-python_${deb_version#*:}.dsc"
sha=$(awk -v f="$orig" '/^Checksums-Sha256:/ {on=1; next} /^[^ ]/ {on=0} on && $3 == f {print $1}' "$out/dl/source.dsc")
if [ -z "$sha" ]; then
    echo "no SHA-256 for $orig in Debian's .dsc" >&2
    exit 1
fi
if ! curl -fsSL --retry 3 -o "$out/dl/$orig" "$pool/$orig" 2>/dev/null; then
    url=$(curl -fsSL --retry 3 https://pypi.org/simple/libvirt-python/ \
        | grep -o "https://[^\"#]*/libvirt-python-${upstream}\.tar\.gz" | head -n 1)
    if [ -z "$url" ]; then
        echo "libvirt-python ${upstream} is neither in Debian's pool nor on PyPI" >&2
        exit 1
    fi
    curl -fsSL --retry 3 -o "$out/dl/$orig" "$url"
fi
echo "$sha  $out/dl/$orig" | sha256sum -c --quiet -
mkdir -p "$out/src"
tar -xzf "$out/dl/$orig" -C "$out/src" --strip-components=1
echo "$upstream" > "$out/VERSION"
rm -rf "$out/dl"
echo "unpacked libvirt-python $upstream into $out/src"
