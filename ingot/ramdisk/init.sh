#!/bin/busybox sh
# /init of ingot's deploy ramdisk: load the drivers, take an address by DHCP, then run
# `ingot agent --kernel-cmdline` until it says what to do with the machine: power off
# (exit code 0) or reboot (3).
/bin/busybox mkdir -p /proc /sys /dev /run /tmp /var/tmp
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
say() { echo "ingot-ramdisk: $*"; }
say "started, kernel $(busybox uname -r)"
for module in $(cat /usr/lib/ingot/modules/load-order); do
    busybox insmod "/usr/lib/ingot/modules/$module" 2>/dev/null \
        || say "module $module not loaded"
done
busybox ip link set lo up

bootif=""
for word in $(cat /proc/cmdline); do
    case "$word" in
        # iPXE gives aa:bb:..., PXE firmware 01-aa-bb-...
        BOOTIF=*) bootif=$(echo "${word#BOOTIF=}" | busybox sed 's/^01-//; s/-/:/g' \
                           | busybox tr 'A-F' 'a-f') ;;
    esac
done

# The NICs show up as their drivers probe them: wait a little for at least one.
nics=""
for attempt in 1 2 3 4 5 6 7 8 9 10; do
    nics=""
    for path in /sys/class/net/*; do
        [ -e "$path/device" ] && nics="$nics ${path##*/}"
    done
    [ -n "$nics" ] && break
    busybox sleep 1
done
say "network interfaces:$nics${bootif:+ (booted from $bootif)}"
configured=""
for nic in $nics; do
    mac=$(cat "/sys/class/net/$nic/address")
    [ -n "$bootif" ] && [ "$mac" != "$bootif" ] && continue
    busybox ip link set "$nic" up
    if busybox udhcpc -i "$nic" -n -q -t 10 -T 2 -s /usr/lib/ingot/udhcpc.script; then
        configured="$configured $nic"
    fi
done
[ -n "$configured" ] || say "no address from DHCP on:$nics"

# PID 1 must not exit: run the agent until it ends normally (told to power off),
# starting it again after a failure (no node found yet, no disk...).
while :; do
    python3 -m ingot.cli.agent --kernel-cmdline /proc/cmdline
    rc=$?
    busybox sync
    if [ "$rc" = 0 ]; then
        say "powering off"
        busybox poweroff -f
    fi
    if [ "$rc" = 3 ]; then  # standby.run_image (service.EXIT_REBOOT)
        say "rebooting"
        busybox reboot -f
    fi
    say "agent ended (exit code $rc); starting it again in 10 s"
    busybox sleep 10
done
