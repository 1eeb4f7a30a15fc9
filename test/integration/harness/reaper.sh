#!/bin/bash
# reaper.sh CLUSTER PID: started detached by cluster.ts; when PID (the test process) dies for any reason,
# even SIGKILL, tear the cluster down. destroy() stops the reaper once it has cleaned up itself.
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CLUSTER="$1"; WATCH="$2"
trap 'exit 0' TERM
while kill -0 "$WATCH" 2>/dev/null; do sleep 1 & wait $!; done
exec "$HERE/cleanup.sh" "$CLUSTER" >/dev/null 2>&1
