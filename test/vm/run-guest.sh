#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Boots the QEMU test guest (Debian's kernel, software emulation) and runs a script in it,
# chrooted into the host's own userland (read-only over 9p, writable through a tmpfs overlay).
#
# Usage:
#   run-guest.sh [options] --script FILE [-- ARGS...]
# Options:
#   --netns NAME      run QEMU inside this existing network namespace; the guest's eth0 is a
#                     tap device in it (created here, and removed afterwards, unless it exists)
#   --create-netns    create a namespace ftgtvm-<pid> for this run (removed afterwards)
#   --tap IF          tap device name (default ftgttap<subnet>)
#   --subnet N        host side 10.99.N.1/24, guest 10.99.N.2/24 (default 1)
#   --timeout S       kill the guest after S seconds, exit 124 (default 300)
#   --mem MB          guest memory (default 1024)
#   --smp N           guest CPUs (default 1)
#   --share DIR       directory shared read-write with the guest as /ftgt (default: a
#                     temporary one, removed afterwards); the script is copied into it
#   --log FILE        keep the console log there (default: a temporary file, removed)
#   --verbose         also copy the console to stderr as it comes
# Without --netns or --create-netns the guest has no network interface.
#
# In the guest the script runs as root, with bash if it starts with a bash shebang (else
# sh), in /ftgt, stdin /dev/null, and these variables:
#   FTGT_VM_HOST_IP  FTGT_VM_GUEST_IP  (empty without a network)   FTGT_VM_SHARE=/ftgt
# Exit status: the script's own, 124 on timeout, 125 if the guest ended without reporting a
# status (boot failure), 77 if QEMU or the kernel cannot be had (skip), 2 bad usage.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

NETNS=""
CREATE_NETNS=0
TAP=""
SUBNET=1
TIMEOUT=300
MEM=1024
SMP=1
SHARE=""
LOG=""
VERBOSE=${FTGT_VM_VERBOSE:-0}
SCRIPT=""

usage() {
	sed -n '4,29p' "$0" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
	--netns) NETNS=$2; shift ;;
	--create-netns) CREATE_NETNS=1 ;;
	--tap) TAP=$2; shift ;;
	--subnet) SUBNET=$2; shift ;;
	--timeout) TIMEOUT=$2; shift ;;
	--mem) MEM=$2; shift ;;
	--smp) SMP=$2; shift ;;
	--share) SHARE=$2; shift ;;
	--log) LOG=$2; shift ;;
	--verbose) VERBOSE=1 ;;
	--script) SCRIPT=$2; shift ;;
	--) shift; break ;;
	-h | --help) usage ;;
	*) echo "run-guest.sh: unknown argument $1" >&2; usage ;;
	esac
	shift
done
[ -n "$SCRIPT" ] && [ -r "$SCRIPT" ] || { echo "run-guest.sh: --script FILE is required" >&2; usage; }
case "$SUBNET" in
'' | *[!0-9]*) echo "run-guest.sh: bad --subnet" >&2; exit 2 ;;
esac
[ "$SUBNET" -ge 1 ] && [ "$SUBNET" -le 254 ] || { echo "run-guest.sh: --subnet 1..254" >&2; exit 2; }
[ -n "$TAP" ] || TAP=ftgttap$SUBNET
HOST_IP=10.99.$SUBNET.1
GUEST_IP=10.99.$SUBNET.2

QEMU=${FTGT_VM_QEMU:-$(command -v qemu-system-x86_64 || true)}
if [ -z "$QEMU" ]; then
	echo "run-guest.sh: qemu-system-x86_64 is not installed (Debian package qemu-system-x86); skipping" >&2
	exit 77
fi
rc=0
KDIR=$("$HERE/prepare.sh" --quiet) || rc=$?
if [ "$rc" -ne 0 ]; then
	echo "run-guest.sh: the guest kernel cannot be prepared; skipping" >&2
	exit 77
fi

# --- state to undo -------------------------------------------------------------------------
QPID=""
TAILPID=""
MADE_NETNS=""
MADE_TAP=""
TMP=$(mktemp -d /tmp/ftgtvm-run-XXXXXX)

cleanup() {
	local _
	trap - EXIT INT TERM
	if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then
		kill -TERM "$QPID" 2>/dev/null || true
		for _ in $(seq 20); do
			kill -0 "$QPID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$QPID" 2>/dev/null || true
		wait "$QPID" 2>/dev/null || true
	fi
	if [ -n "$TAILPID" ]; then
		kill "$TAILPID" 2>/dev/null || true
		wait "$TAILPID" 2>/dev/null || true
	fi
	if [ -n "$MADE_TAP" ]; then
		ip -n "$NETNS" link del "$MADE_TAP" 2>/dev/null || true
	fi
	if [ -n "$MADE_NETNS" ]; then
		ip netns pids "$MADE_NETNS" 2>/dev/null | while read -r p; do
			kill -KILL "$p" 2>/dev/null || true
		done
		ip netns del "$MADE_NETNS" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- network -------------------------------------------------------------------------------
if [ "$CREATE_NETNS" -eq 1 ]; then
	NETNS=ftgtvm-$$
	ip netns add "$NETNS"
	MADE_NETNS=$NETNS
	ip -n "$NETNS" link set lo up
fi
NETARGS=()
KNET=""
if [ -n "$NETNS" ]; then
	[ -e "/run/netns/$NETNS" ] || { echo "run-guest.sh: no network namespace $NETNS" >&2; exit 2; }
	if ! ip -n "$NETNS" link show "$TAP" >/dev/null 2>&1; then
		ip -n "$NETNS" tuntap add dev "$TAP" mode tap
		MADE_TAP=$TAP
		ip -n "$NETNS" addr add "$HOST_IP/24" dev "$TAP"
		ip -n "$NETNS" link set "$TAP" up
	fi
	mac=$(printf '52:54:00:99:%02x:02' "$SUBNET")
	NETARGS=(-netdev "tap,id=n0,ifname=$TAP,script=no,downscript=no"
		-device "virtio-net-pci,netdev=n0,mac=$mac,romfile=")
	KNET="ftgt.ip=$GUEST_IP/24 ftgt.gw=$HOST_IP"
else
	HOST_IP=""
	GUEST_IP=""
fi

# --- share and script ----------------------------------------------------------------------
if [ -z "$SHARE" ]; then
	SHARE=$TMP/share
fi
mkdir -p "$SHARE"
cp "$SCRIPT" "$SHARE/script"
chmod 0755 "$SHARE/script"
interp=/bin/sh
if head -n1 "$SCRIPT" | grep -q '^#!.*bash'; then
	interp=/bin/bash
fi
{
	echo '# generated by run-guest.sh'
	echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
	echo 'export HOME=/root TERM=dumb LANG=C.UTF-8'
	printf 'export FTGT_VM_HOST_IP=%q FTGT_VM_GUEST_IP=%q FTGT_VM_SHARE=/ftgt\n' "$HOST_IP" "$GUEST_IP"
	printf 'exec %s /ftgt/script' "$interp"
	for a in "$@"; do
		printf ' %q' "$a"
	done
	echo
} >"$SHARE/run.sh"

if [ -z "$LOG" ]; then
	LOG=$TMP/console.log
fi
: >"$LOG"

# --- boot ----------------------------------------------------------------------------------
BIOS=()
if [ -r /usr/share/qemu/qboot.rom ] && [ -z "${FTGT_VM_SEABIOS:-}" ]; then
	BIOS=(-bios /usr/share/qemu/qboot.rom)
fi
KERNEL=$KDIR/vmlinuz
if [ -s "$KDIR/vmlinux" ] && [ -z "${FTGT_VM_BZIMAGE:-}" ]; then
	KERNEL=$KDIR/vmlinux
fi
KCMD="console=ttyS0 panic=-1 loglevel=4 quiet mitigations=off clocksource=hpet random.trust_cpu=on"
KCMD+=" ftgt.mods=$KDIR/modules $KNET ${FTGT_VM_KCMD:-}"
QARGS=(-accel tcg -cpu max -m "$MEM" -smp "$SMP" -machine pc
	-nodefaults -no-user-config -display none -vga none -no-reboot
	"${BIOS[@]}"
	-kernel "$KERNEL" -initrd "$KDIR/initramfs.cpio" -append "$KCMD"
	-chardev "file,id=con,path=$LOG" -serial chardev:con
	-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap,id=hostroot"
	-virtfs "local,path=$SHARE,mount_tag=ftgtshare,security_model=none,id=ftgtshare"
	-device virtio-rng-pci
	"${NETARGS[@]}")

START=$(date +%s%N)
if [ -n "$NETNS" ]; then
	ip netns exec "$NETNS" "$QEMU" "${QARGS[@]}" </dev/null >"$TMP/qemu.out" 2>&1 &
else
	"$QEMU" "${QARGS[@]}" </dev/null >"$TMP/qemu.out" 2>&1 &
fi
QPID=$!
if [ "$VERBOSE" = 1 ]; then
	tail -n +1 -f "$LOG" >&2 &
	TAILPID=$!
fi

timed_out=0
deadline=$((START + TIMEOUT * 1000000000))
rc_seen_at=0
started_at=0
while kill -0 "$QPID" 2>/dev/null; do
	now=$(date +%s%N)
	if [ "$now" -ge "$deadline" ]; then
		timed_out=1
		break
	fi
	if [ "$started_at" -eq 0 ] && grep -aq '^ftgt-vm: starting' "$LOG"; then
		started_at=$now
	fi
	# The guest powers off right after the status line; don't wait forever if it hangs.
	if [ "$rc_seen_at" -eq 0 ] && grep -aq '^ftgt-vm: RC=' "$LOG"; then
		rc_seen_at=$now
	elif [ "$rc_seen_at" -ne 0 ] && [ $((now - rc_seen_at)) -gt 10000000000 ]; then
		break
	fi
	sleep 0.2
done
END=$(date +%s%N)
if kill -0 "$QPID" 2>/dev/null; then
	kill -KILL "$QPID" 2>/dev/null || true
fi
qrc=0
wait "$QPID" 2>/dev/null || qrc=$?
QPID=""
if [ -n "$TAILPID" ]; then
	sleep 0.3
	kill "$TAILPID" 2>/dev/null || true
	wait "$TAILPID" 2>/dev/null || true
	TAILPID=""
fi

secs=$(awk "BEGIN { printf \"%.1f\", ($END - $START) / 1e9 }")
boot=""
if [ "$started_at" -ne 0 ]; then
	boot=$(awk "BEGIN { printf \"%.1f\", ($started_at - $START) / 1e9 }")
fi
status=$(tr -d '\r' <"$LOG" | sed -n 's/^ftgt-vm: RC=\([0-9][0-9]*\)$/\1/p' | tail -n1)
if [ "$timed_out" -eq 1 ]; then
	echo "run-guest.sh: guest timed out after ${TIMEOUT} s; last console lines:" >&2
	tail -n 50 "$LOG" | tr -d '\r' >&2
	exit 124
fi
if [ -z "$status" ]; then
	echo "run-guest.sh: guest ended after $secs s without a status (qemu exit $qrc); last console lines:" >&2
	tail -n 20 "$TMP/qemu.out" >&2
	tail -n 50 "$LOG" | tr -d '\r' >&2
	exit 125
fi
echo "run-guest.sh: guest script exited $status after $secs s (script started at ${boot:-?} s)" >&2
exit "$status"
