#!/usr/bin/env bash
# The integration suite (as root), in two lanes at once: two jest processes, each running its test files one after
# the other (one booted cluster per file; every file has its own cluster name and subnet, and the harness's caches
# take locks). Much of a file's time is waiting on hosts, Prefect's start and Ansible's ssh round trips, so two lanes
# on two cores take far less time than one.
#   bash scripts/test-integration.sh                       both lanes (PAG_INTEGRATION_LANES=1: one lane, as before)
#   bash scripts/test-integration.sh test/integration/X.test.ts …   those files, in one lane
# Lane A holds the files named below, lane B every other file (a new file lands there). The split keeps the two
# bundle suites in one lane (they share the bundle download cache) and balances the times measured in CI, in s:
#   A: real-prefect-scale 664, real-prefect-postgres 359, bundle-e2e 310, bundle-build 112, pag-files-systemd 19
#   B: real-prefect 556, cluster 472, examples-deploy 240, harness 65
set -euo pipefail
cd "$(dirname "$0")/.."

JEST=(node --experimental-vm-modules --no-warnings=ExperimentalWarning node_modules/jest/bin/jest.js -c jest.integration.config.js --runInBand)

if [ "$#" -gt 0 ] || [ "${PAG_INTEGRATION_LANES:-2}" = "1" ]; then
  exec "${JEST[@]}" "$@"
fi

LANE_A=(
  test/integration/real-prefect-scale.test.ts
  test/integration/real-prefect-postgres.test.ts
  test/integration/bundle-e2e.test.ts
  test/integration/bundle-build.test.ts
  test/integration/pag-files-systemd.test.ts
)
LANE_B=()
while IFS= read -r file; do
  case " ${LANE_A[*]} " in *" $file "*) ;; *) LANE_B+=("$file") ;; esac
done < <(find test/integration -name '*.test.ts' | LC_ALL=C sort)
for file in "${LANE_A[@]}"; do [ -f "$file" ] || { echo "test-integration.sh: $file is gone: update LANE_A" >&2; exit 2; }; done

# Each lane's lines carry its letter; jest's summary of each lane comes at its end.
lane() {
  local name="$1"; shift
  # --runTestsByPath: the names are files, not patterns (real-prefect would match real-prefect-scale too).
  "${JEST[@]}" --runTestsByPath "$@" 2>&1 | sed -u "s/^/[$name] /"
}
lane A "${LANE_A[@]}" &
PID_A=$!
lane B "${LANE_B[@]}" &
PID_B=$!
status=0
wait "$PID_A" || { status=$?; echo "test-integration.sh: lane A failed (exit $status)" >&2; }
wait "$PID_B" || { s=$?; echo "test-integration.sh: lane B failed (exit $s)" >&2; status=$((status ? status : s)); }
exit "$status"
