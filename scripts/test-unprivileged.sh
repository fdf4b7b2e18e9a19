#!/usr/bin/env bash
# Runs the test suite without the tests that need what a contributor's machine may lack: real QEMU, /dev/kvm,
# root, or Debian's libvirtd as the reference daemon. Those tests carry the Swift Testing tags .qemu, .kvm,
# .root and .referenceLibvirtd (Tests/VirtTestSupport/Tags.swift); SwiftPM's `--skip` takes regular
# expressions on test names, not tags, so this script reads the tags from the sources and skips the suites and
# tests that carry them. The rest still needs Debian's virsh and python3-libvirt (libvirt-clients,
# python3-libvirt) for the test:///default comparisons.
#
#   scripts/test-unprivileged.sh                      # skips .qemu .kvm .root .referenceLibvirtd
#   SKIP_TAGS="root referenceLibvirtd" scripts/test-unprivileged.sh   # QEMU and KVM available, no root
#   scripts/test-unprivileged.sh --filter VirtRPCTests                # extra arguments go to `swift test`
#   LIST_ONLY=1 scripts/test-unprivileged.sh                          # print the skip pattern and stop
#
# CI runs everything (scripts/test.sh): there a test whose need is missing fails, it is never skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
SKIP_TAGS="${SKIP_TAGS:-qemu kvm root referenceLibvirtd}"
pattern=$(SKIP_TAGS="$SKIP_TAGS" /usr/bin/env python3 - <<'PY'
import os, re, pathlib
skip = set(os.environ["SKIP_TAGS"].split())
names = []
for path in sorted(pathlib.Path("Tests").rglob("*.swift")):
    parts = path.relative_to("Tests").parts
    if len(parts) < 2 or parts[0] == "VirtTestSupport":
        continue
    module, text = parts[0], path.read_text()
    for m in re.finditer(r"\.tags\(([^)]*)\)", text):
        tags = {t.strip().lstrip(".") for t in m.group(1).split(",")}
        if not tags & skip:
            continue
        # The declaration the attribute belongs to: the next `struct NAME` or `func NAME`.
        decl = re.compile(r"\b(struct|func)\s+(\w+)").search(text, m.end())
        if decl is None:
            continue
        if decl.group(1) == "struct":
            names.append(re.escape(f"{module}.{decl.group(2)}/"))
        else:
            suites = re.findall(r"^(?:@Suite[^\n]*\s+)?struct\s+(\w+)", text[:decl.start()], re.M)
            if suites:
                names.append(re.escape(f"{module}.{suites[-1]}/{decl.group(2)}("))
print("|".join(sorted(set(names))))
PY
)
if [ -n "${LIST_ONLY:-}" ]; then
    echo "$pattern" | tr '|' '\n'
    exit 0
fi
swift build --build-tests
if [ -n "$pattern" ]; then
    exec swift test --skip-build --skip "$pattern" "$@"
else
    exec swift test --skip-build "$@"
fi
