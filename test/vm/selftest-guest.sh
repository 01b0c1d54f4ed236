#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Guest half of selftest.sh (runs inside the QEMU guest through run-guest.sh).
# Usage: selftest-guest.sh TOKEN HTTP_PORT
set -u

TOKEN=$1
HTTP_PORT=$2
NQN=nqn.2026-11.io.ftgt:vm-selftest
fails=0

ok() { echo "GUEST-OK: $*"; }
bad() {
	echo "GUEST-FAIL: $*"
	fails=$((fails + 1))
}

# 1. The initiator and target modules are loaded.
for m in nvme_tcp nvme_rdma nvmet_tcp iscsi_tcp rdma_rxe fcoe null_blk configfs; do
	if [ -d /sys/module/$m ]; then
		ok "module $m"
	else
		bad "module $m is not loaded"
	fi
done

# 2. Module autoloading goes through /proc/sys/kernel/modprobe to the full module tree
#    (dummy is not in the initramfs; crc32c is asked for the same way by iscsi_tcp).
if ip link add ftgtdummy0 type dummy 2>/dev/null && [ -d /sys/module/dummy ]; then
	ok "kernel module autoload (dummy)"
	ip link del ftgtdummy0
else
	bad "kernel module autoload via $(cat /proc/sys/kernel/modprobe)"
fi
if grep -q '^name *: crc32c' /proc/crypto; then
	ok "crc32c available"
else
	bad "crc32c missing from /proc/crypto"
fi

# 3. The guest reaches a server in the test's namespace.
got=""
for _ in 1 2 3 4 5; do
	if exec 3<>"/dev/tcp/$FTGT_VM_HOST_IP/$HTTP_PORT"; then
		printf 'GET /token HTTP/1.0\r\nHost: %s\r\n\r\n' "$FTGT_VM_HOST_IP" >&3
		got=$(timeout 10 cat <&3 | tr -d '\r' | tail -n 1)
		exec 3>&-
		[ -n "$got" ] && break
	fi
	sleep 1
done
if [ "$got" = "$TOKEN" ]; then
	ok "http from the guest to $FTGT_VM_HOST_IP:$HTTP_PORT"
else
	bad "http from the guest to $FTGT_VM_HOST_IP:$HTTP_PORT returned '$got'"
fi

# 4. Soft-RoCE on eth0.
if rdma link add rxe0 type rxe netdev eth0 2>/dev/null && [ -d /sys/class/infiniband/rxe0 ]; then
	ok "rdma_rxe device rxe0 on eth0"
else
	bad "cannot create an rxe device"
fi

# 5. The kernel's NVMe/TCP target (nvmet) on a null_blk namespace, on the guest's address.
C=/sys/kernel/config/nvmet
S=$C/subsystems/$NQN
if mkdir $S && echo 1 >$S/attr_allow_any_host && mkdir $S/namespaces/1 &&
	echo -n /dev/nullb0 >$S/namespaces/1/device_path && echo 1 >$S/namespaces/1/enable &&
	mkdir $C/ports/1 && echo tcp >$C/ports/1/addr_trtype && echo ipv4 >$C/ports/1/addr_adrfam &&
	echo "$FTGT_VM_GUEST_IP" >$C/ports/1/addr_traddr && echo 4420 >$C/ports/1/addr_trsvcid &&
	ln -s $S $C/ports/1/subsystems/$NQN; then
	ok "nvmet-tcp target on $FTGT_VM_GUEST_IP:4420"
else
	bad "cannot configure nvmet through configfs"
fi

# 6. The kernel's NVMe/TCP initiator (driven by the host's nvme-cli) against that target.
if nvme discover -t tcp -a "$FTGT_VM_GUEST_IP" -s 4420 | grep -q "subnqn: *$NQN"; then
	ok "nvme discover"
else
	bad "nvme discover found no $NQN"
fi
if nvme connect -t tcp -a "$FTGT_VM_GUEST_IP" -s 4420 -n $NQN >/dev/null; then
	dev=""
	for _ in $(seq 50); do
		for b in /sys/block/nvme*n1; do
			[ -e "$b" ] && dev=/dev/$(basename "$b")
		done
		[ -n "$dev" ] && [ -b "$dev" ] && break
		sleep 0.2
	done
	if [ -n "$dev" ] && dd if="$dev" of=/dev/null bs=64k count=16 iflag=direct 2>/dev/null; then
		ok "nvme-tcp connect and 1 MiB read from $dev"
	else
		bad "no readable nvme block device after connect"
	fi
	nvme disconnect -n $NQN >/dev/null || bad "nvme disconnect"
else
	bad "nvme connect"
fi

# 7. Wait until the host has done its ICReq/ICResp handshake with the target (vmlib.py icreq).
for _ in $(seq 300); do
	[ -e /ftgt/probe-result ] && break
	sleep 0.2
done
if [ -e /ftgt/probe-result ]; then
	echo "host probe: $(cat /ftgt/probe-result)"
else
	bad "the host's probe did not report within 60 s"
fi

echo "guest memory:"
free -k | sed -n 1,2p
echo "GUEST-MEM-USED-KB: $(free -k | awk '/^Mem:/ { print $3 }')"
echo "GUEST-UPTIME: $(cut -d' ' -f1 /proc/uptime)"
exit $((fails > 0 ? 1 : 0))
