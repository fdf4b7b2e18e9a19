#!/usr/bin/env bash
# Runs SwiftVirt's whole test suite on a Debian 12 machine with the Swift toolchain:
# installs what it needs (Debian packages, host permissions, the test guest, test firmware), builds once, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
if [ -x scripts/build-test-guest.sh ]; then
    scripts/build-test-guest.sh
fi
scripts/fetch-test-firmware.sh
scripts/fetch-libvirt-python-tests.sh
swift build --build-tests
swift test --skip-build 2>&1 | tee .build/test-output.txt
