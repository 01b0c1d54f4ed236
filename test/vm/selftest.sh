#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Proves the QEMU guest harness works here, the way an integration test uses it:
#   1. the test creates a network namespace and a tap device in it (10.99.1.1/24),
#   2. starts its servers inside the namespace (here: an HTTP server, and a user-space
#      NVMe/TCP probe that waits for the guest's kernel target),
#   3. boots the guest in that namespace (run-guest.sh --netns), whose script
#      (selftest-guest.sh) checks the kernel modules, module autoloading, reaches the HTTP
#      server, creates a Soft-RoCE device, configures the kernel nvmet-tcp target on
#      10.99.1.2:4420 and connects to it with the kernel nvme-tcp initiator and nvme-cli,
#   4. checks that the host-side probe got an ICResp from the guest's kernel target.
# Everything is torn down on exit, also on failure, timeout or signal.
# Exit: 0 pass, 1 fail, 77 skip (no QEMU, not root, or no kernel can be prepared).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T0=$(date +%s%N)
elapsed() {
	awk "BEGIN { printf \"%.1f\", ($(date +%s%N) - $T0) / 1e9 }"
}

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: selftest needs root (network namespaces, tap devices)"
	exit 77
fi
if ! command -v qemu-system-x86_64 >/dev/null || ! command -v python3 >/dev/null; then
	echo "SKIP: qemu-system-x86_64 or python3 is not installed"
	exit 77
fi
if ! command -v nvme >/dev/null || ! command -v rdma >/dev/null ||
	! [ -x /bin/busybox ]; then
	echo "SKIP: the guest needs the host's nvme-cli, iproute2 (rdma) and busybox"
	exit 77
fi

rc=0
"$HERE/prepare.sh" >/dev/null || rc=$?
if [ "$rc" -ne 0 ]; then
	echo "SKIP: the guest kernel cannot be prepared"
	exit 77
fi
T_PREP=$(elapsed)

NS=ftgtvm-st-$$
TAP=ftgttap1
HOST_IP=10.99.1.1
GUEST_IP=10.99.1.2
HTTP_PORT=8080
MEM_MB=1024
TMP=$(mktemp -d /tmp/ftgtvm-selftest-XXXXXX)
PIDS=()

cleanup() {
	local p
	trap - EXIT INT TERM
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	if [ -e "/run/netns/$NS" ]; then
		for p in $(ip netns pids "$NS" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null || true
		done
		ip netns del "$NS" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" tuntap add dev "$TAP" mode tap
ip -n "$NS" addr add "$HOST_IP/24" dev "$TAP"
ip -n "$NS" link set "$TAP" up

mkdir -p "$TMP/www" "$TMP/share"
TOKEN=ftgt-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
echo -n "$TOKEN" >"$TMP/www/token"
ip netns exec "$NS" python3 -m http.server --bind "$HOST_IP" --directory "$TMP/www" \
	"$HTTP_PORT" >"$TMP/http.log" 2>&1 &
PIDS+=($!)
ip netns exec "$NS" python3 "$HERE/vmlib.py" icreq "$GUEST_IP" 4420 --timeout 240 \
	--out "$TMP/share/probe-result" >"$TMP/probe.log" 2>&1 &
PROBE=$!
PIDS+=("$PROBE")

grc=0
"$HERE/run-guest.sh" --netns "$NS" --tap "$TAP" --subnet 1 --share "$TMP/share" \
	--timeout 240 --mem "$MEM_MB" --log "$TMP/console.log" --script "$HERE/selftest-guest.sh" \
	-- "$TOKEN" "$HTTP_PORT" 2>"$TMP/run-guest.err" || grc=$?
T_END=$(elapsed)

prc=0
if kill -0 "$PROBE" 2>/dev/null; then
	kill "$PROBE" 2>/dev/null || true
fi
wait "$PROBE" 2>/dev/null || prc=$?

fails=0
tr -d '\r' <"$TMP/console.log" | grep -E '^(GUEST-|host probe:|ftgt-vm:)' || true
cat "$TMP/run-guest.err"
if [ "$grc" -ne 0 ]; then
	echo "FAIL: guest script exited $grc; console:"
	tr -d '\r' <"$TMP/console.log" | tail -n 80
	fails=$((fails + 1))
fi
if [ "$prc" -eq 0 ] && grep -q '^ICResp' "$TMP/share/probe-result" 2>/dev/null; then
	echo "OK: host-side NVMe/TCP ICReq got an ICResp from the guest's nvmet-tcp: $(cat "$TMP/share/probe-result")"
else
	echo "FAIL: host-side NVMe/TCP probe: $(cat "$TMP/probe.log")"
	fails=$((fails + 1))
fi

boot=$(sed -n 's/.*script started at \([0-9.?]*\) s.*/\1/p' "$TMP/run-guest.err")
mem=$(tr -d '\r' <"$TMP/console.log" | sed -n 's/^GUEST-MEM-USED-KB: //p')
echo "timings: prepare ${T_PREP} s, boot-to-script ${boot:-?} s, selftest total ${T_END} s;" \
	"guest memory used ${mem:-?} KiB of ${MEM_MB} MiB"
if [ "$fails" -ne 0 ]; then
	echo "selftest: FAIL ($fails)"
	exit 1
fi
echo "selftest: PASS"
exit 0
