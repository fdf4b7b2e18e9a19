#!/usr/bin/env bash
# Installs the Debian packages SwiftVirt's build and tests need, when any is missing, and gives the host what
# udev and a libvirtd run would have given it on a fresh machine (a container, a CI runner without udev):
#
#   /dev/kvm      group kvm, mode 0660, as Debian's udev rule (60-qemu-system-common / 50-udev-default)
#                 sets it; without it QEMU run as libvirt-qemu fails with "failed to initialize kvm:
#                 Permission denied". The group kvm is created when missing.
#   /run/libvirt  mode 0755 when it exists with another mode (libvirtd creates it 0755; left 0700, the swtpm
#                 that libvirtd runs as tss cannot open its socket under it).
#   vm.unprivileged_userfaultfd = 1, as libvirt's qemu-postcopy-migration sysctl file sets it: post-copy
#                 migration needs userfaultfd for QEMU's (unprivileged) user.
#
# virt-manager, xvfb, x11-utils (xwininfo), x11-apps (xwd), netpbm (xwdtopnm, pnmtopng) and dbus-daemon (a session
# bus of the test's own) are for VirtManagerTests: Debian's virt-manager under Xvfb, screenshots of its windows.
#
# SWIFTVIRT_KVM_DEVICE, SWIFTVIRT_KVM_GROUP and SWIFTVIRT_RUN_LIBVIRT replace the device, the group and the
# directory (tests use them on files of their own); SWIFTVIRT_SKIP_PACKAGES=1 skips the packages.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

if [ -z "${SWIFTVIRT_SKIP_PACKAGES:-}" ]; then
    pkgs=(libxml2-dev qemu-system-x86 qemu-utils swtpm swtpm-tools libvirt-clients libvirt-daemon-system
          python3-libvirt tini hyperfine bindfs valgrind iproute2 openssh-server netcat-openbsd gnutls-bin
          prometheus-libvirt-exporter collectd-core dnsmasq-base dhcpcd-base nftables binutils e2fsprogs virtinst pci.ids
          ansible python3-lxml openssl curl ca-certificates
          virt-manager xvfb x11-utils x11-apps netpbm dbus-daemon)
    missing=()
    for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing: ${missing[*]}"
        $SUDO apt-get update -qq
        # Packages with services (openssh-server, libvirt-daemon-system) must not start them on this host: the
        # tests start their own sshd and libvirtd. A policy-rc.d of our own says so while apt runs.
        policy_made=""
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
            $SUDO chmod 0755 /usr/sbin/policy-rc.d
            policy_made=1
        fi
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        [ -z "$policy_made" ] || $SUDO rm -f /usr/sbin/policy-rc.d
    fi
fi

kvm_dev=${SWIFTVIRT_KVM_DEVICE:-/dev/kvm}
kvm_group=${SWIFTVIRT_KVM_GROUP:-kvm}
run_libvirt=${SWIFTVIRT_RUN_LIBVIRT:-/run/libvirt}

if [ -e "$kvm_dev" ]; then
    if ! getent group "$kvm_group" >/dev/null; then
        echo "creating group $kvm_group"
        $SUDO groupadd --system "$kvm_group"
    fi
    if [ "$(stat -c %G "$kvm_dev")" != "$kvm_group" ]; then
        echo "$kvm_dev: group $(stat -c %G "$kvm_dev") -> $kvm_group"
        $SUDO chgrp "$kvm_group" "$kvm_dev"
    fi
    if [ "$(stat -c %a "$kvm_dev")" != "660" ]; then
        echo "$kvm_dev: mode $(stat -c %a "$kvm_dev") -> 660"
        $SUDO chmod 0660 "$kvm_dev"
    fi
else
    echo "warning: $kvm_dev does not exist: KVM tests will fail (is the kvm module loaded?)" >&2
fi

if [ -d "$run_libvirt" ] && [ "$(stat -c %a "$run_libvirt")" != "755" ]; then
    echo "$run_libvirt: mode $(stat -c %a "$run_libvirt") -> 755"
    $SUDO chmod 0755 "$run_libvirt"
fi

uffd=/proc/sys/vm/unprivileged_userfaultfd
if [ -e "$uffd" ] && [ "$(cat "$uffd")" != "1" ]; then
    echo "vm.unprivileged_userfaultfd: $(cat "$uffd") -> 1 (post-copy migration)"
    echo 1 | $SUDO tee "$uffd" >/dev/null || echo "warning: cannot set vm.unprivileged_userfaultfd" >&2
fi

# The cgroup tests set block-I/O throttles on /dev/loop0 and /dev/loop1 (no data is read or written): the loop
# driver must be there, and without udev its device nodes may be missing.
if [ ! -b /dev/loop1 ]; then
    $SUDO modprobe loop 2>/dev/null || true
    for n in 0 1; do
        if [ ! -e /dev/loop$n ] && [ -e /sys/block/loop$n/dev ]; then
            IFS=: read -r major minor </sys/block/loop$n/dev
            $SUDO mknod -m 0660 /dev/loop$n b "$major" "$minor" && echo "/dev/loop$n: created ($major:$minor)"
        fi
    done
    [ -b /dev/loop1 ] || echo "warning: no /dev/loop0 and /dev/loop1 block devices: the cgroup tests will fail" >&2
fi
