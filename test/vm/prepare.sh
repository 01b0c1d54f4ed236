#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Prepares (once) a kernel and an initramfs for the QEMU test guest and prints the
# directory that holds them:
#
#   <cache>/<kernel-version>/vmlinuz           Debian's kernel (bzImage)
#   <cache>/<kernel-version>/vmlinux           the same, decompressed: QEMU boots it through
#                                             its PVH entry, which saves ~8 s of decompressing
#                                             under software emulation
#   <cache>/<kernel-version>/initramfs.cpio    busybox + the modules the tests need + /init
#   <cache>/<kernel-version>/modules/          the kernel's whole module tree (depmod'ed);
#                                             the guest reaches it over 9p for anything else
#   <cache>/<kernel-version>/stamp             hash of the recipe that built the initramfs
#
# The kernel version is resolved at run time from Debian's linux-image-amd64 metapackage.
# Nothing is installed on the host: the kernel package is fetched with `apt-get download`
# and unpacked with `dpkg-deb -x`.
#
# Usage: prepare.sh [--force] [--quiet]
# Environment:
#   FTGT_VM_CACHE       cache root (default /var/cache/ftgt-vm)
#   FTGT_VM_KVER        use this kernel version (e.g. 6.1.0-56-amd64) instead of resolving it
#   FTGT_VM_KERNEL_DEB  use this linux-image .deb instead of downloading one
# Exit status: 0 ready (directory on stdout), 77 cannot prepare (reason on stderr).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE_ROOT=${FTGT_VM_CACHE:-/var/cache/ftgt-vm}
FORCE=0
QUIET=0

while [ $# -gt 0 ]; do
	case "$1" in
	--force)
		FORCE=1
		rm -f "$CACHE_ROOT/resolved"
		;;
	--quiet) QUIET=1 ;;
	-h | --help)
		sed -n '3,24p' "$0"
		exit 0
		;;
	*)
		echo "prepare.sh: unknown argument $1" >&2
		exit 2
		;;
	esac
	shift
done

log() {
	if [ "$QUIET" -eq 0 ]; then
		echo "ftgt-vm prepare: $*" >&2
	fi
}

skip() {
	echo "ftgt-vm prepare: cannot prepare the guest: $*" >&2
	exit 77
}

# Modules the guest loads at boot, in this order (each with its dependencies first).
# The first group is needed to boot; a missing module in the second group is a warning.
BOOT_MODULES=(virtio_pci virtio_net virtio_blk virtio_rng 9pnet_virtio 9p overlay configfs)
TEST_MODULES=(
	crc32c_generic crc32c_intel crc32_pclmul
	nvme_core nvme_fabrics nvme_tcp nvme_rdma
	nvmet nvmet_tcp nvmet_rdma
	scsi_mod sd_mod sg libiscsi scsi_transport_iscsi libiscsi_tcp iscsi_tcp
	ib_core ib_uverbs rdma_cm rdma_ucm ib_umad rdma_rxe
	scsi_transport_fc libfc libfcoe fcoe
	null_blk brd loop
)

for tool in apt-get apt-cache dpkg-deb depmod modprobe cpio sha256sum flock python3; do
	command -v "$tool" >/dev/null 2>&1 || skip "'$tool' is not installed"
done
BUSYBOX=""
for b in /bin/busybox /usr/bin/busybox; do
	if [ -x "$b" ] && ! LC_ALL=C ldd "$b" 2>&1 | grep -q '=>'; then
		BUSYBOX=$b
		break
	fi
done
[ -n "$BUSYBOX" ] || skip "a static busybox is not installed (Debian package busybox-static)"

recipe_hash() {
	{
		cat "$HERE/prepare.sh" "$HERE/init.sh" "$HERE/extract-vmlinux.py"
		printf '%s\n' "${BOOT_MODULES[@]}" "${TEST_MODULES[@]}"
		sha256sum "$BUSYBOX"
	} | sha256sum | cut -d' ' -f1
}

# Newest version already in the cache, if any (offline fallback).
cached_version() {
	local d
	for d in $(ls -1d "$CACHE_ROOT"/*/vmlinuz 2>/dev/null | sort -rV); do
		basename "$(dirname "$d")"
		return 0
	done
	return 1
}

resolve_version() {
	local pkg
	if [ -n "${FTGT_VM_KVER:-}" ]; then
		echo "$FTGT_VM_KVER"
		return 0
	fi
	if [ -n "${FTGT_VM_KERNEL_DEB:-}" ]; then
		pkg=$(dpkg-deb -f "$FTGT_VM_KERNEL_DEB" Package)
		echo "${pkg#linux-image-}"
		return 0
	fi
	# apt-cache takes 1-2 s; reuse an answer younger than an hour (each guest boot asks).
	if [ -n "$(find "$CACHE_ROOT/resolved" -mmin -60 2>/dev/null)" ]; then
		pkg=$(cat "$CACHE_ROOT/resolved")
		if [ -s "$CACHE_ROOT/$pkg/stamp" ]; then
			echo "$pkg"
			return 0
		fi
	fi
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	if [ -n "$pkg" ]; then
		echo "${pkg#linux-image-}" >"$CACHE_ROOT/resolved"
		echo "${pkg#linux-image-}"
		return 0
	fi
	cached_version
}

mkdir -p "$CACHE_ROOT" || skip "cannot create $CACHE_ROOT"
exec 9>"$CACHE_ROOT/.lock"
flock -w 600 9 || skip "timed out waiting for the lock on $CACHE_ROOT"

KVER=$(resolve_version) || skip "cannot resolve the kernel version (apt-cache depends linux-image-amd64 found nothing; run apt-get update)"
case "$KVER" in
*/* | "" | .*) skip "odd kernel version '$KVER'" ;;
esac
DIR=$CACHE_ROOT/$KVER
HASH=$(recipe_hash)

if [ "$FORCE" -eq 0 ] && [ -s "$DIR/vmlinuz" ] && [ -s "$DIR/initramfs.cpio" ] &&
	[ -f "$DIR/modules/modules.dep" ] && [ "$(cat "$DIR/stamp" 2>/dev/null)" = "$HASH" ]; then
	echo "$DIR"
	exit 0
fi

START=$(date +%s.%N)
WORK=$(mktemp -d "$CACHE_ROOT/.work-XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# 1. The kernel package: reuse what is cached, else download and unpack it.
if [ "$FORCE" -eq 1 ] || [ ! -s "$DIR/vmlinuz" ] || [ ! -f "$DIR/modules/modules.dep" ]; then
	if [ -n "${FTGT_VM_KERNEL_DEB:-}" ]; then
		deb=$FTGT_VM_KERNEL_DEB
	else
		log "downloading linux-image-$KVER"
		(cd "$WORK" && apt-get -q -o APT::Sandbox::User=root download "linux-image-$KVER" >&2) ||
			skip "apt-get download linux-image-$KVER failed"
		deb=$(ls "$WORK"/linux-image-*.deb)
	fi
	log "unpacking $(basename "$deb")"
	dpkg-deb -x "$deb" "$WORK/pkg" || skip "dpkg-deb -x $deb failed"
	rm -f "$WORK"/*.deb
	[ -s "$WORK/pkg/boot/vmlinuz-$KVER" ] || skip "no /boot/vmlinuz-$KVER in the package"
	modsrc=$WORK/pkg/lib/modules/$KVER
	[ -d "$modsrc" ] || modsrc=$WORK/pkg/usr/lib/modules/$KVER
	[ -d "$modsrc" ] || skip "no module tree for $KVER in the package"
	# Make the tree self-contained: ROOT/lib/modules/KVER, as depmod and modprobe expect.
	mkdir -p "$WORK/tree/lib/modules"
	mv "$modsrc" "$WORK/tree/lib/modules/$KVER"
	depmod -b "$WORK/tree" "$KVER" || skip "depmod -b failed"
	rm -rf "$DIR"
	mkdir -p "$DIR"
	mv "$WORK/pkg/boot/vmlinuz-$KVER" "$DIR/vmlinuz"
	mv "$WORK/pkg/boot/config-$KVER" "$DIR/config" 2>/dev/null || true
	mv "$WORK/tree/lib/modules/$KVER" "$DIR/modules"
	rm -rf "$WORK/pkg" "$WORK/tree"
fi

# 2. The uncompressed kernel. Optional: run-guest.sh falls back to vmlinuz.
if [ ! -s "$DIR/vmlinux" ]; then
	if python3 "$HERE/extract-vmlinux.py" "$DIR/vmlinuz" "$WORK/vmlinux"; then
		mv "$WORK/vmlinux" "$DIR/vmlinux"
	else
		echo "ftgt-vm prepare: warning: cannot decompress vmlinuz; the guest boots slower" >&2
	fi
fi

# 3. The initramfs.
log "building the initramfs for $KVER"
# modprobe wants ROOT/lib/modules/KVER; point a throw-away root at the cached tree.
mkdir -p "$WORK/modroot/lib/modules"
ln -s "$DIR/modules" "$WORK/modroot/lib/modules/$KVER"
IRD=$WORK/initramfs
mkdir -p "$IRD"/{bin,sbin,etc,proc,sys,dev,run,tmp,lower,share,newroot,upper}
mkdir -p "$IRD/lib/modules/$KVER"
: >"$IRD/etc/ftgt-modules"
declare -A SEEN=()
add_module() { # $1 module name, $2 1 if required
	local out line path rel
	if ! out=$(modprobe -d "$WORK/modroot" -S "$KVER" --show-depends "$1" 2>&1); then
		if [ "$2" -eq 1 ]; then
			skip "required module $1 is missing from $KVER: $out"
		fi
		echo "ftgt-vm prepare: warning: module $1 is not in $KVER; skipped" >&2
		return 0
	fi
	while read -r line; do
		case "$line" in
		insmod\ *)
			path=${line#insmod }
			path=${path%% *}
			rel=${path#"$WORK/modroot/lib/modules/$KVER/"}
			if [ -z "${SEEN[$rel]:-}" ]; then
				SEEN[$rel]=1
				mkdir -p "$IRD/lib/modules/$KVER/$(dirname "$rel")"
				cp "$DIR/modules/$rel" "$IRD/lib/modules/$KVER/$rel"
				echo "/lib/modules/$KVER/$rel" >>"$IRD/etc/ftgt-modules"
			fi
			;;
		esac
	done <<<"$out"
}
for m in "${BOOT_MODULES[@]}"; do
	add_module "$m" 1
done
for m in "${TEST_MODULES[@]}"; do
	add_module "$m" 0
done
for f in modules.order modules.builtin modules.builtin.modinfo; do
	[ -f "$DIR/modules/$f" ] && cp "$DIR/modules/$f" "$IRD/lib/modules/$KVER/"
done
depmod -b "$IRD" "$KVER"

cp "$BUSYBOX" "$IRD/bin/busybox"
for applet in $("$BUSYBOX" --list); do
	[ "$applet" = busybox ] && continue
	[ -e "$IRD/bin/$applet" ] || ln -s busybox "$IRD/bin/$applet"
done
for s in modprobe insmod rmmod lsmod depmod poweroff reboot halt switch_root chroot ip; do
	ln -sf ../bin/busybox "$IRD/sbin/$s"
done
install -m 0755 "$HERE/init.sh" "$IRD/init"
echo "$KVER" >"$IRD/etc/ftgt-kver"

(cd "$IRD" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) >"$WORK/initramfs.cpio"
mv "$WORK/initramfs.cpio" "$DIR/initramfs.cpio"
echo "$HASH" >"$DIR/stamp"
# Keep the cache bounded: drop kernels that Debian no longer points at.
for old in "$CACHE_ROOT"/*/stamp; do
	old=$(dirname "$old")
	[ "$old" = "$DIR" ] || rm -rf "$old"
done
END=$(date +%s.%N)
log "ready in $DIR ($(du -sh "$DIR/initramfs.cpio" | cut -f1) initramfs, $(wc -l <"$IRD/etc/ftgt-modules") modules, $(awk "BEGIN { printf \"%.1f\", $END - $START }") s)"
echo "$DIR"
