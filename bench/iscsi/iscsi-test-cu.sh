#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Run libiscsi's iscsi-test-cu, suite by suite with a per-suite timeout, against a
# target URL and print per-suite and total counts (machine-readable lines "suite ...",
# "total ...").
#   bench/iscsi/iscsi-test-cu.sh iscsi://127.0.0.1:3260/iqn.../0 [FAMILY ...] 
# FAMILY defaults to "SCSI iSCSI". Env: SUITE_TIMEOUT (s, default 60), OUT (log dir).
set -u
url=$1
shift
families=${*:-SCSI iSCSI}
timeout_s=${SUITE_TIMEOUT:-60}
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
tot_run=0 tot_pass=0 tot_fail=0 hung=0
for fam in $families; do
	for suite in $(iscsi-test-cu -l | sed -n "s/^\(${fam}\.[A-Za-z0-9_]*\)$/\1/p"); do
		log="$out/$suite.log"
		timeout -k 5 "$timeout_s" iscsi-test-cu -d -n -t "$suite" "$url" >"$log" 2>&1
		rc=$?
		line=$(grep -E '^ +tests ' "$log" | tail -1)
		run=$(echo "$line" | awk '{print $3}')
		pass=$(echo "$line" | awk '{print $4}')
		fail=$(echo "$line" | awk '{print $5}')
		if [ -z "$line" ]; then
			run=0 pass=0 fail=0
		fi
		if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
			hung=$((hung + 1))
			echo "suite $suite run=$run pass=$pass fail=$fail TIMEOUT"
		else
			echo "suite $suite run=$run pass=$pass fail=$fail"
		fi
		tot_run=$((tot_run + run)) tot_pass=$((tot_pass + pass)) tot_fail=$((tot_fail + fail))
	done
done
echo "total run=$tot_run pass=$tot_pass fail=$tot_fail suites_timed_out=$hung logs=$out"
