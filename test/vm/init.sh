#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# /init of the ftgt test guest (busybox sh, PID 1). prepare.sh copies it into the initramfs.
#
# Loads the modules listed in /etc/ftgt-modules, mounts the host's root read-only over 9p
# (mount tag "hostroot") with a tmpfs overlay on top so that tools can write anywhere,
# mounts the per-run share (mount tag "ftgtshare") on /ftgt, brings up eth0, chroots into the
# host's userland and runs /ftgt/run.sh. Then prints "ftgt-vm: RC=<n>" on the console and
# powers off.
#
# Kernel command line parameters (set by run-guest.sh):
#   ftgt.ip=A.B.C.D/NN   address of eth0        ftgt.gw=A.B.C.D   default route
#   ftgt.mods=PATH       host path of the full module tree (bound to /lib/modules/<ver>)
#   ftgt.cache=MODE      9p cache mode for the host root (default loose)

PATH=/sbin:/bin
export PATH

msg() {
	echo "ftgt-vm: $*"
}

finish() {
	msg "RC=$1"
	sync
	poweroff -f
	reboot -f
	echo o >/proc/sysrq-trigger
	sleep 60
}

fail() {
	msg "init failed: $*"
	finish 125
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
[ -e /dev/console ] || mknod /dev/console c 5 1
exec </dev/console >/dev/console 2>&1

KVER=$(cat /etc/ftgt-kver)
IP=""
GW=""
MODS=""
P9CACHE=loose
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	ftgt.ip=*) IP=${arg#ftgt.ip=} ;;
	ftgt.gw=*) GW=${arg#ftgt.gw=} ;;
	ftgt.mods=*) MODS=${arg#ftgt.mods=} ;;
	ftgt.cache=*) P9CACHE=${arg#ftgt.cache=} ;;
	esac
done

# Until the full module tree is mounted, the kernel's module autoloader uses busybox
# modprobe on the initramfs' tree; /sbin/ftgt-modprobe switches to the host's kmod on the
# full tree once the new root is ready.
cat >/sbin/ftgt-modprobe <<'EOF'
#!/bin/sh
if [ -e /etc/ftgt-newroot-ready ]; then
	exec /bin/chroot /newroot /sbin/modprobe "$@"
fi
exec /bin/busybox modprobe "$@"
EOF
chmod 0755 /sbin/ftgt-modprobe
echo /sbin/ftgt-modprobe >/proc/sys/kernel/modprobe

t0=$(cut -d' ' -f1 /proc/uptime)
nmods=0
while read -r ko; do
	out=$(insmod "$ko" 2>&1) || case "$out" in
	*"File exists"*) ;;
	*) msg "warning: insmod $ko: $out" ;;
	esac
	nmods=$((nmods + 1))
done </etc/ftgt-modules
msg "loaded $nmods modules in $(awk "BEGIN { print $(cut -d' ' -f1 /proc/uptime) - $t0 }") s"

mount -t configfs configfs /sys/kernel/config 2>/dev/null

mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache="$P9CACHE" hostroot /lower ||
	fail "cannot mount the host root over 9p"
mount -t tmpfs -o mode=0755 tmpfs /upper
mkdir -p /upper/rw /upper/work
mount -t overlay -o lowerdir=/lower,upperdir=/upper/rw,workdir=/upper/work overlay /newroot ||
	fail "cannot mount the overlay root"

R=/newroot
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -t configfs configfs $R/sys/kernel/config 2>/dev/null
mount -t devtmpfs devtmpfs $R/dev
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts devpts $R/dev/pts
mount -t tmpfs tmpfs $R/dev/shm
# No udev here: the links it would make. $R/dev is the same devtmpfs as /dev.
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
[ -e /dev/stdin ] || ln -s /proc/self/fd/0 /dev/stdin
[ -e /dev/stdout ] || ln -s /proc/self/fd/1 /dev/stdout
[ -e /dev/stderr ] || ln -s /proc/self/fd/2 /dev/stderr
# Fresh, empty state where tools keep it (the overlay would otherwise show the host's).
for d in /run /tmp /etc/iscsi/nodes /etc/iscsi/send_targets /var/lib/iscsi; do
	mkdir -p $R$d
	mount -t tmpfs -o mode=0755 tmpfs $R$d
done
chmod 1777 $R/tmp
mkdir -p $R/etc/nvme $R/run/lock
# The guest's own identity for nvme-cli and iscsiadm.
if [ -r /proc/sys/kernel/random/uuid ]; then
	uuid=$(cat /proc/sys/kernel/random/uuid)
	echo "nqn.2014-08.org.nvmexpress:uuid:$uuid" >$R/etc/nvme/hostnqn
	echo "$uuid" >$R/etc/nvme/hostid
	mkdir -p $R/etc/iscsi
	echo "InitiatorName=iqn.2004-10.com.ftgt:vm-${uuid%%-*}" >$R/etc/iscsi/initiatorname.iscsi
fi
echo ftgt-vm >$R/etc/hostname
hostname ftgt-vm

mkdir -p $R/lib/modules/$KVER
if [ -n "$MODS" ] && [ -f "/lower$MODS/modules.dep" ]; then
	mount --bind "/lower$MODS" $R/lib/modules/$KVER
else
	mount --bind /lib/modules/$KVER $R/lib/modules/$KVER
fi

if [ -x $R/sbin/modprobe ] || [ -x $R/bin/kmod ]; then
	: >/etc/ftgt-newroot-ready
fi

mkdir -p $R/ftgt
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=none ftgtshare $R/ftgt ||
	fail "cannot mount the per-run share"

ip link set lo up
if [ -n "$IP" ]; then
	ip link set eth0 up || fail "no eth0"
	ip addr add "$IP" dev eth0 || fail "cannot set $IP on eth0"
	if [ -n "$GW" ]; then
		ip route add default via "$GW" || true
	fi
fi

msg "starting /ftgt/run.sh at $(cut -d' ' -f1 /proc/uptime) s"
chroot $R /bin/sh -c 'cd /ftgt && exec /bin/sh /ftgt/run.sh' </dev/null
rc=$?
msg "script ended at $(cut -d' ' -f1 /proc/uptime) s"
finish "$rc"
