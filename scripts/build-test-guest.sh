#!/usr/bin/env bash
# Builds SwiftVirt's test guest: a Debian kernel and a busybox initramfs, from Debian packages that are
# downloaded and unpacked, never installed. The result is cached under .build/test-guest/:
#
#   vmlinuz       the kernel of Debian 12's current linux-image-amd64
#   initrd.img    gzip'd newc cpio: busybox-static, a few modules (evdev, button, virtio incl. virtio_balloon,
#                 ext4), Debian's qemu-ga with its shared libraries and the dynamic loader, /init
#   cmdline       a kernel command line that suits it (serial console on ttyS0; no_timer_check, because
#                 under TCG on a loaded host the kernel's IO-APIC timer check fails and it panics at boot)
#   VERSION       the kernel package it came from
#
# The guest's /init prints SWIFTVIRT-GUEST-READY on the serial console once the power button works, powers
# off (poweroff -f) on an ACPI power-button press (QMP system_powerdown, virsh shutdown --mode acpi), and
# otherwise runs a shell on the console (so console tests can type into it). Its host name is
# swiftvirt-guest; the first NIC (eth0) gets QEMU user networking's guest address 10.0.2.15/24 statically
# (and no router advertisements, so only its link-local IPv6 address);
# a virtio disk with serial `swiftvirt-fs` is mounted on /mnt (ext4); the balloon driver is loaded.
#
# A NIC (virtio-net, eth0) also asks for an address by DHCP (busybox udhcpc in the background, its
# script /etc/udhcpc.script replacing the static address with the leased one and adding the default route),
# for the virtual network tests; under QEMU's user networking the lease is the same 10.0.2.15.
#
# When the domain has the guest agent channel (virtio port org.qemu.guest_agent.0), Debian's qemu-ga
# (qemu-guest-agent, 7.2) serves it. Its guest-shutdown runs /sbin/shutdown, here a script that prints
# SWIFTVIRT-GUEST-AGENT-SHUTDOWN on the console and runs poweroff -f / reboot -f / halt -f; guest-set-time runs
# busybox's hwclock; guest-set-user-password runs chpasswd, here a script on /etc/shadow (busybox-static has
# none). The pvpanic driver is loaded, so a panic (`echo c >/proc/sysrq-trigger` typed on the console)
# reaches a <panic> device. The i6300esb watchdog driver is loaded (format 8): busybox's `watchdog` started on
# /dev/watchdog and left unfed makes an `<watchdog model='i6300esb'>` fire.
#
# Idempotent: does nothing when the guest is already built. FORCE=1 rebuilds.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.build/test-guest
format=8  # bump when the guest's contents change, so cached guests are rebuilt
if [ -z "${FORCE:-}" ] && [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.img" ] && [ -s "$out/cmdline" ] \
    && [ "$(cat "$out/FORMAT" 2>/dev/null)" = "$format" ]; then
    exit 0
fi

kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
if [ -z "$kpkg" ]; then
    echo "build-test-guest: cannot resolve linux-image-amd64 (run apt-get update?)" >&2
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/swiftvirt-test-guest.XXXXXX")
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"  # apt's _apt user must be able to write the downloads here

# qemu-guest-agent and the libraries it links (its own and glib's dependencies), unpacked like the rest.
agentdeps=$(apt-cache depends qemu-guest-agent libglib2.0-0 | awk '$1 == "Depends:" && $2 ~ /^lib/ { print $2 }' | sort -u)
echo "build-test-guest: downloading $kpkg, busybox-static, qemu-guest-agent and its libraries" >&2
# shellcheck disable=SC2086
(cd "$work" && apt-get download -q "$kpkg" busybox-static qemu-guest-agent $agentdeps >/dev/null 2>"$work/apt.log") || {
    cat "$work/apt.log" >&2
    exit 1
}
mkdir "$work/pkg"
for deb in "$work"/*.deb; do
    dpkg -x "$deb" "$work/pkg"
done

kver=${kpkg#linux-image-}
moddir="$work/pkg/lib/modules/$kver"
busybox="$work/pkg/bin/busybox"
[ -x "$busybox" ] || { echo "build-test-guest: busybox not found in busybox-static" >&2; exit 1; }
[ -d "$moddir" ] || { echo "build-test-guest: no modules for $kver" >&2; exit 1; }

root="$work/root"
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,run,etc,lib/modules}
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
    [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done

# Modules: the ones the guest needs, plus their dependencies (read from each module's .modinfo section,
# since the package ships no modules.dep: depmod runs at install time). Loaded in dependency order.
declare -A modpath=()
while IFS= read -r -d '' f; do
    name=$(basename "$f"); name=${name%%.ko*}; name=${name//-/_}
    modpath[$name]=$f
done < <(find "$moddir/kernel" -name '*.ko*' -print0)

modfile() {  # prints an uncompressed copy's path of module $1
    local src=${modpath[$1]:-}
    [ -n "$src" ] || { echo "build-test-guest: module $1 not found" >&2; return 1; }
    case "$src" in
        *.ko.xz) xz -dc "$src" >"$work/$1.ko" ;;
        *.ko.zst) zstd -qdc "$src" >"$work/$1.ko" ;;
        *.ko.gz) gzip -dc "$src" >"$work/$1.ko" ;;
        *) cp "$src" "$work/$1.ko" ;;
    esac
    echo "$work/$1.ko"
}

declare -A added=()
order=()
addmod() {
    local name=$1
    [ -z "${added[$name]:-}" ] || return 0
    added[$name]=1
    local f deps d
    f=$(modfile "$name")
    deps=$(grep -a -o 'depends=[a-z0-9_,-]*' "$f" | head -n1 | cut -d= -f2 || true)
    for d in ${deps//,/ }; do
        addmod "${d//-/_}"
    done
    cp "$f" "$root/lib/modules/$name.ko"
    order+=("$name")
}
for m in evdev button virtio_pci virtio_blk virtio_net virtio_console virtio_scsi virtio_rng pvpanic_mmio \
    virtio_balloon virtio_mem ext4 crc32c_generic i6300esb; do
    addmod "$m"
done
printf '%s\n' "${order[@]}" >"$root/lib/modules/load-order"

cat >"$root/etc/udhcpc.script" <<'EOF'
#!/bin/sh
# udhcpc's hook: the leased address (prefix length in $mask) and the first router as the default route.
case "$1" in
deconfig)
    # The static address stays until a lease replaces it (user networking leases the same one).
    ip link set "$interface" up
    ;;
bound|renew)
    if ! ip -4 -o addr show dev "$interface" | grep -q " $ip/${mask:-24} "; then
        ip -4 addr flush dev "$interface"
        ip addr add "$ip/${mask:-24}" dev "$interface"
    fi
    if [ -n "$router" ]; then
        ip route add default via "${router%% *}" dev "$interface" 2>/dev/null
    fi
    echo "SWIFTVIRT-GUEST-DHCP $ip"
    ;;
esac
exit 0
EOF
chmod 755 "$root/etc/udhcpc.script"
# qemu-ga with the shared libraries it needs (found by following DT_NEEDED through the unpacked packages)
# and the dynamic loader; glibc finds them in /lib/x86_64-linux-gnu without a cache.
qga="$work/pkg/usr/sbin/qemu-ga"
[ -x "$qga" ] || { echo "build-test-guest: qemu-ga not found in qemu-guest-agent" >&2; exit 1; }
mkdir -p "$root/usr/sbin" "$root/lib/x86_64-linux-gnu" "$root/lib64" "$root/etc" "$root/var" "$root/mnt"
cp "$qga" "$root/usr/sbin/qemu-ga"
declare -A libdone=()
addlibs() {
    local lib f
    for lib in $(readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
        [ -z "${libdone[$lib]:-}" ] || continue
        libdone[$lib]=1
        f=""
        for d in "$work/pkg/lib/x86_64-linux-gnu" "$work/pkg/usr/lib/x86_64-linux-gnu"; do
            [ -e "$d/$lib" ] && { f="$d/$lib"; break; }
        done
        [ -n "$f" ] || { echo "build-test-guest: library $lib of $(basename "$1") not found" >&2; return 1; }
        cp -L "$f" "$root/lib/x86_64-linux-gnu/$lib"
        addlibs "$f"
    done
}
addlibs "$qga"
cp -L "$work/pkg/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" "$root/lib/x86_64-linux-gnu/"
ln -s ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$root/lib64/ld-linux-x86-64.so.2"
ln -s ../run "$root/var/run"
# qemu-ga's guest-shutdown runs /sbin/shutdown -h -P|-H|-r +0 MESSAGE (its output goes to /dev/null);
# guest-set-time runs /sbin/hwclock; guest-set-user-password runs chpasswd from PATH.
cat >"$root/sbin/shutdown" <<'EOF'
#!/bin/sh
action=poweroff
for a in "$@"; do
    case "$a" in
    -r) action=reboot ;;
    -H) action=halt ;;
    esac
done
echo "SWIFTVIRT-GUEST-AGENT-SHUTDOWN" >/dev/console
sync
exec "$action" -f
EOF
chmod 755 "$root/sbin/shutdown"
ln -s ../bin/busybox "$root/sbin/hwclock"
# busybox-static has no chpasswd applet: this one reads USER:PASSWORD lines as chpasswd does (-e: the password
# is already crypted, else it is hashed with SHA-512) and rewrites the user's /etc/shadow entry.
cat >"$root/sbin/chpasswd" <<'EOF'
#!/bin/sh
crypted=
[ "$1" = "-e" ] && crypted=1
while IFS= read -r line || [ -n "$line" ]; do
    user=${line%%:*}
    pass=${line#*:}
    grep -q "^$user:" /etc/passwd || { echo "chpasswd: unknown user '$user'" >&2; exit 1; }
    [ -n "$crypted" ] || pass=$(mkpasswd -m sha512 "$pass") || exit 1
    awk -F: -v u="$user" -v p="$pass" 'BEGIN { OFS = ":" } $1 == u { $2 = p } { print }' /etc/shadow >/etc/shadow.new \
        && mv /etc/shadow.new /etc/shadow || exit 1
done
EOF
chmod 755 "$root/sbin/chpasswd"
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:*:19000:0:99999:7:::' >"$root/etc/shadow"
chmod 600 "$root/etc/shadow"
echo 'root:x:0:' >"$root/etc/group"
echo swiftvirt-guest >"$root/etc/hostname"
cat >"$root/etc/os-release" <<EOF
NAME="SwiftVirt test guest"
ID=swiftvirt-test-guest
VERSION_ID="$format"
PRETTY_NAME="SwiftVirt test guest $format"
EOF

cat >"$root/init" <<'EOF'
#!/bin/sh
# SwiftVirt test guest init.
export PATH=/bin:/sbin:/usr/sbin
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /tmp
while read -r m; do
    insmod "/lib/modules/$m.ko" 2>/dev/null
done </lib/modules/load-order

hostname -F /etc/hostname
# Networking: loopback, and the first NIC (if any) with QEMU user networking's guest address.
ip link set lo up
# No router advertisements (QEMU's user network sends them): the addresses stay the same from boot on.
if [ -e /sys/class/net/eth0 ]; then
    echo 0 >/proc/sys/net/ipv6/conf/eth0/accept_ra
    ip link set eth0 up
    ip addr add 10.0.2.15/24 dev eth0
    ip route add default via 10.0.2.2
fi
# A virtio disk whose serial is swiftvirt-fs holds a file system: mounted on /mnt.
for b in /sys/block/vd*; do
    [ "$(cat "$b/serial" 2>/dev/null)" = swiftvirt-fs ] && mount "/dev/${b##*/}" /mnt
done

# The ACPI power button is an input device named "Power Button": wait for its event node, then power off
# on the first event it reports (a key press).
powerbutton() {
    i=0
    while [ $i -lt 100 ]; do
        for n in /sys/class/input/event*; do
            [ -r "$n/device/name" ] || continue
            if [ "$(cat "$n/device/name")" = "Power Button" ]; then
                echo "${n##*/}"
                return 0
            fi
        done
        i=$((i + 1))
        sleep 0.05
    done
    return 1
}
# The event device is opened here, before the marker, so a press right after the marker is not lost.
if ev=$(powerbutton) && [ -c "/dev/input/$ev" ] && exec 3<"/dev/input/$ev"; then
    (
        dd of=/dev/null bs=24 count=1 <&3 2>/dev/null
        echo "SWIFTVIRT-GUEST-POWEROFF"
        sync
        poweroff -f
    ) &
    exec 3<&-
else
    echo "SWIFTVIRT-GUEST-NO-POWER-BUTTON"
fi

# The guest agent (Debian's qemu-ga) on the virtio port named org.qemu.guest_agent.0 (no udev here: found
# through sysfs). Ports appear a little after the virtio-serial device (the host announces them): wait for
# them only when there is such a device.
agentport() {
    i=0
    while [ $i -lt 60 ]; do
        for p in /sys/class/virtio-ports/*; do
            [ -r "$p/name" ] || continue
            if [ "$(cat "$p/name")" = "org.qemu.guest_agent.0" ]; then
                echo "/dev/${p##*/}"
                return 0
            fi
        done
        ls /sys/bus/virtio/drivers/virtio_console 2>/dev/null | grep -q '^virtio' || return 1
        i=$((i + 1))
        sleep 0.05
    done
    return 1
}
if port=$(agentport) && [ -c "$port" ]; then
    (
        while :; do
            qemu-ga -m virtio-serial -p "$port" -t /run </dev/null >/tmp/qemu-ga.log 2>&1
            sleep 1
        done
    ) &
    echo "SWIFTVIRT-GUEST-AGENT"
fi

# A NIC: up, and its address by DHCP. udhcpc runs in the background from the start (the boot never waits for
# a DHCP server), asks again every few seconds until it has a lease, then keeps renewing it.
ip link set lo up
if [ -e /sys/class/net/eth0 ]; then
    ip link set eth0 up
    udhcpc -i eth0 -s /etc/udhcpc.script -f -t 5 -T 2 -A 2 >/dev/null 2>&1 &
fi

echo "SWIFTVIRT-GUEST-READY"
while :; do
    setsid cttyhack sh
    sleep 1
done
EOF
chmod 755 "$root/init"

mkdir -p "$out"
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | "$busybox" cpio -o -H newc 2>/dev/null) | gzip -9 >"$work/initrd.img"
cp "$work/pkg/boot/vmlinuz-$kver" "$out/vmlinuz.new"
mv "$work/initrd.img" "$out/initrd.img"
mv "$out/vmlinuz.new" "$out/vmlinuz"
echo "console=ttyS0 panic=-1 quiet no_timer_check" >"$out/cmdline"
echo "$kpkg" >"$out/VERSION"
echo "$format" >"$out/FORMAT"
echo "build-test-guest: built $out ($kpkg)" >&2
