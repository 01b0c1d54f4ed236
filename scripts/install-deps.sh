#!/usr/bin/env bash
# Installs the Debian packages ftgt needs to build, run and test.
# The package list lives here and nowhere else.
set -euo pipefail

PACKAGES=(
	build-essential pkg-config meson ninja-build
	clang clang-format libclang-rt-14-dev
	libdpdk-dev dpdk
	libjansson-dev liburing-dev libisal-dev libssl-dev libnuma-dev
	libcunit1-dev
	python3
	# Real peers for the tests: the Linux initiators run in a QEMU guest (test/vm),
	# whose kernel package is only downloaded, never installed.
	qemu-system-x86 busybox-static kmod cpio iproute2
	nvme-cli fio open-iscsi libiscsi-bin sg3-utils
)

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

if [ "${#missing[@]}" -eq 0 ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages: ${missing[*]} (run as root to install them)" >&2
	exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
