#!/bin/bash
# cleanup.sh [--force] [CLUSTER...]: remove everything the harness may have left behind: for the named
# clusters, or with no argument for every cluster (run dirs under $PAG_RUN_ROOT, cgroups pag-test-*, netns
# pag-test-*, links whose alias is pag-test:*) except those whose test process (owner.pid) is still alive;
# --force takes those too. Idempotent; safe to run when nothing is left.
# Never touches the cached base or repos ($PAG_TEST_CACHE). Hosts are killed, not shut down
# (PAG_STOP_MODE=term for a polite shutdown).
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib.sh"
[ "$(id -u)" = 0 ] || die "cleanup.sh needs root"

FORCE=0
if [ "${1:-}" = --force ]; then FORCE=1; shift; fi
if [ $# -gt 0 ]; then CLUSTERS=("$@")
else
  mapfile -t CLUSTERS < <( {
    ls -1 "$PAG_RUN_ROOT" 2>/dev/null
    ls -1 "$CG_V1" "$CG_V2" 2>/dev/null | sed -n 's/^pag-test-//p'
    ip -o link show 2>/dev/null | sed -n 's/.* alias pag-test:\([a-z0-9]*\).*/\1/p'
    ls -1 "$PAG_NETNS_DIR" 2>/dev/null | sed -n 's/^pag-test-\([a-z0-9]*\)-.*/\1/p'
  } | sort -u)
  # Without names, spare clusters whose test process is still alive (another test file may be running one)
  # unless --force.
  if [ "$FORCE" = 0 ]; then
    KEEP=()
    for C in "${CLUSTERS[@]}"; do
      o="$(cat "$(run_dir "$C")/owner.pid" 2>/dev/null || true)"
      if [ -n "$o" ] && pid_alive "$o"; then log "sparing cluster $C: its test process $o is alive"; else KEEP+=("$C"); fi
    done
    CLUSTERS=("${KEEP[@]}")
  fi
fi

for C in "${CLUSTERS[@]}"; do
  [[ "$C" =~ ^[a-z][a-z0-9]{0,7}$ ]] || continue
  RD="$(run_dir "$C")"
  # 0. The cluster's reaper (unless it is the one running us): it would otherwise clean up a new cluster of
  #    the same name when the old test process is gone.
  RP="$PAG_RUN_ROOT/.reaper-$C.pid"
  if [ -f "$RP" ]; then
    p="$(cat "$RP")"
    if [ "$p" != "$$" ] && grep -qz 'reaper.sh' "/proc/$p/cmdline" 2>/dev/null; then kill -TERM "$p" 2>/dev/null; fi
    rm -f "$RP"
  fi
  # Ansible's persistent SSH masters (ControlPersist) for this cluster's hosts.
  for sock in "$RD"/cp/*; do
    [ -S "$sock" ] && timeout 5 ssh -o ControlPath="$sock" -O exit pag-test >/dev/null 2>&1
  done
  dbg "cleanup $C: ssh masters closed"
  # 1. Every nspawn running a root under this cluster's run dir (whatever state files say), all at once.
  NSPAWNS=()
  for p in $(pgrep -x systemd-nspawn 2>/dev/null); do
    grep -qz -- "^$RD/hosts/" "/proc/$p/cmdline" 2>/dev/null && NSPAWNS+=("$p")
  done
  stop_processes "${PAG_STOP_MODE:-kill}" "pag-test-$C" "${NSPAWNS[@]}"
  dbg "cleanup $C: processes gone"
  # 2. Mounts, nspawn state, namespaces, links, cgroups, run dir.
  umount_under "$RD"
  for m in $(ls -1 /run/systemd/nspawn/propagate /run/systemd/nspawn/unix-export 2>/dev/null | grep "^$C-" | sort -u); do
    rm_nspawn_state "$m"
  done
  for ns in $(ls -1 "$PAG_NETNS_DIR" 2>/dev/null | grep "^pag-test-$C-"); do ip netns del "$ns" 2>/dev/null; done
  for l in $(ip -o link show 2>/dev/null | awk -v a="alias pag-test:$C" 'index($0, a) { split($2, n, "@"); sub(":", "", n[1]); print n[1] }'); do
    ip link del "$l" 2>/dev/null
  done
  ip link del "$(bridge_name "$C")" 2>/dev/null
  rm_cgroup_tree "$CG_V1/pag-test-$C"; rm_cgroup_tree "$CG_V2/pag-test-$C"
  dbg "cleanup $C: mounts, netns, links, cgroups gone"
  if [ -d "$RD" ]; then
    if awk -v d="$RD" 'index($5, d) == 1 { f = 1 } END { exit !f }' /proc/self/mountinfo; then
      log "warning: mounts remain under $RD; not removing it"
    else
      rm -rf --one-file-system "${RD:?}"
    fi
  fi
done
exit 0
