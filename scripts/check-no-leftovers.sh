#!/usr/bin/env bash
# After the integration suite: fail if any test cluster left something behind on this machine (nspawn
# processes, mounts, network namespaces, links, cgroups or run directories). Same criteria as the harness's
# leftovers(), for every cluster at once. Zombie processes hold nothing and are ignored.
set -uo pipefail
RUN_ROOT="${PAG_RUN_ROOT:-/var/tmp/pag-ansible-test}"

scan() {
  local found=()
  for p in /proc/[0-9]*; do
    [ "$(awk '{print $3}' "$p/stat" 2>/dev/null)" = "Z" ] && continue
    if { tr "\0" " " < "$p/cmdline"; } 2>/dev/null | grep -q "^[^ ]*systemd-nspawn .*$RUN_ROOT/"; then found+=("process ${p#/proc/}"); fi
  done
  while read -r m; do found+=("mount $m"); done < <(awk -v r="$RUN_ROOT/" '$5 ~ "^"r {print $5}' /proc/self/mountinfo)
  for n in /run/netns/pag-test-*; do [ -e "$n" ] && found+=("netns $n"); done
  while read -r l; do [ -n "$l" ] && found+=("link $l"); done < <(ip -o link show | grep 'alias pag-test:' | awk -F': ' '{print $2}')
  for c in /sys/fs/cgroup/*/pag-test-*; do [ -e "$c" ] && found+=("cgroup $c"); done
  for d in "$RUN_ROOT"/*; do [ -e "$d" ] && found+=("run dir $d"); done
  printf '%s\n' "${found[@]}"
}

for _ in 1 2 3 4 5 6 7 8 9 10; do
  left="$(scan)"
  [ -z "$left" ] && { echo "no test hosts, mounts, namespaces or processes left behind"; exit 0; }
  sleep 1   # the harness's reaper may still be finishing
done
echo "the integration suite left these behind:" >&2
echo "$left" >&2
exit 1
