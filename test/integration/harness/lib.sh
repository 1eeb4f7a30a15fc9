# Shared settings for the pag-ansible integration harness. Sourced by the other scripts; never executed.
# shellcheck shell=bash

die() { echo "pag-harness: $*" >&2; exit 1; }
log() { echo "pag-harness: $*" >&2; }

# Bump when the base recipe changes in a way its inputs below do not show.
PAG_BASE_VERSION="pagt-base-4"
# The Debian release of the hosts (bookworm, trixie) and packages beyond the standard base (comma-separated):
# each combination is its own cached base.
PAG_SUITE="${PAG_SUITE:-bookworm}"
PAG_BASE_EXTRA="${PAG_BASE_EXTRA:-}"
PAG_TEST_CACHE="${PAG_TEST_CACHE:-/var/cache/pag-ansible-test}"
PAG_BASE_PACKAGES="systemd,systemd-sysv,dbus,openssh-server,python3,python3-apt,python3-venv,python3-pip,sudo,iproute2,ca-certificates"

# The Debian mirror this machine's apt already uses (never a host name written into the repository):
# the first non-security URI of /etc/apt/sources.list.d/*.sources (deb822), else of /etc/apt/sources.list.
apt_mirror() {
  local uri
  uri=$(awk 'tolower($1) == "uris:" { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' \
          /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
  [ -n "$uri" ] || uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z+]+:\/\//) { if ($i !~ /security/) print $i; break } }' \
          /etc/apt/sources.list 2>/dev/null | head -n 1)
  [ -n "$uri" ] || die "no Debian mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list (set PAG_MIRROR)"
  echo "${uri%/}"
}
PAG_MIRROR="${PAG_MIRROR:-$(apt_mirror)}"

# The base is cached by content: the recipe (build-base.sh and this file's package list), the suite and the
# extra packages. Change any of them and a new base is built beside the old one.
pag_base_key() {
  { echo "$PAG_BASE_VERSION|$PAG_SUITE|$PAG_BASE_PACKAGES|$PAG_BASE_EXTRA"; cat "$(dirname "${BASH_SOURCE[0]}")/build-base.sh"; } |
    sha256sum | cut -c1-12
}
PAG_BASE_DIR="$PAG_TEST_CACHE/base-$PAG_SUITE-$(pag_base_key)"
PAG_RUN_ROOT="${PAG_RUN_ROOT:-/var/tmp/pag-ansible-test}"
PAG_NETNS_DIR=/run/netns


# dbg MSG: progress with a timestamp on stderr when PAG_HARNESS_DEBUG is set.
dbg() { [ -z "${PAG_HARNESS_DEBUG:-}" ] || echo "pag-harness: $(date +%T.%3N) $*" >&2; }

# now_ms: milliseconds since the epoch (for measurements printed to stderr).
now_ms() { date +%s%3N; }

# Names must be short and safe: they become interface names (<= 15 chars), netns and cgroup names.
check_name() {
  [[ "$1" =~ ^[a-z][a-z0-9-]{0,30}$ ]] || die "bad name '$1' (want ^[a-z][a-z0-9-]{0,30}\$)"
}

# ---- cluster layout -------------------------------------------------------------------------------------
# Run dir:   $PAG_RUN_ROOT/CLUSTER/{net.env,etc-hosts,ssh/,hosts/HOST/{upper,work,root,console.log,...}}
# cgroups:   /sys/fs/cgroup/{systemd,unified}/pag-test-CLUSTER/HOST
# netns:     pag-test-CLUSTER-HOST      machine name: CLUSTER-HOST
# links:     bridge CLUSTERbr0, veth CLUSTERvN; both carry the alias "pag-test:CLUSTER" so cleanup finds them
CG_V1=/sys/fs/cgroup/systemd
CG_V2=/sys/fs/cgroup/unified

check_cluster() {
  [[ "$1" =~ ^[a-z][a-z0-9]{0,7}$ ]] || die "bad cluster name '$1' (want ^[a-z][a-z0-9]{0,7}\$: it prefixes interface names)"
}
run_dir() { echo "$PAG_RUN_ROOT/$1"; }
host_dir() { echo "$PAG_RUN_ROOT/$1/hosts/$2"; }
netns_name() { echo "pag-test-$1-$2"; }
machine_name() { echo "$1-$2"; }
bridge_name() { echo "${1}br0"; }
link_alias() { echo "pag-test:$1"; }

# pids_in_cgroup DIR: every pid in the cgroup subtree DIR (v1 or v2).
pids_in_cgroup() {
  [ -d "$1" ] || return 0
  find "$1" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -un
}

# is_container_init PID: true when PID is PID 1 of a nested pid namespace (NSpid: <host> 1).
is_container_init() {
  awk '/^NSpid:/ { exit !(NF >= 3 && $NF == 1) }' "/proc/$1/status" 2>/dev/null
}

# pid_alive PID: running and not a zombie (an exited nspawn stays a zombie until PID 1 gets round to it).
pid_alive() {
  local st
  st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# rm_cgroup_tree DIR: rmdir depth-first (cgroup dirs cannot be rm -rf'd).
rm_cgroup_tree() {
  [ -d "$1" ] || return 0
  find "$1" -depth -type d -exec rmdir {} \; 2>/dev/null || true
}

# umount_under DIR: unmount everything mounted at or below DIR, deepest first.
umount_under() {
  local d="$1" m
  [ -n "$d" ] || return 0
  while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done < <(awk -v d="$d" '{ gsub(/\\040/, " ", $5); if ($5 == d || index($5, d "/") == 1) print $5 }' \
             /proc/self/mountinfo | sort -r)
}

# stop_processes MODE CGROUP_NAME NSPAWN_PIDS...
#  MODE=term (a polite shutdown): TERM nspawn every second (systemd drops a SIGTERM that arrives during early
#    boot), KILL after PAG_STOP_TIMEOUT s (default 8), SIGRTMIN+3 to orphaned container inits, and finally
#    KILL whatever is left in the cgroup subtrees.
#  MODE=kill (a power cut; what cleanup uses): KILL every container process at once; each nspawn sees its
#    payload die and exits by itself (KILLed too after 2 s).
# Callers under `set -e` call it as `stop_processes ... || true`: processes vanish between look and kill.
stop_processes() {
  local mode="$1" cg="$2"; shift 2
  local pids=("$@") alive p i left
  if [ "$mode" = term ]; then
    local deadline=$(( $(date +%s) + ${PAG_STOP_TIMEOUT:-8} ))
    while :; do
      alive=()
      for p in "${pids[@]}"; do [ -n "$p" ] && pid_alive "$p" && alive+=("$p"); done
      [ ${#alive[@]} -eq 0 ] && break
      if [ "$(date +%s)" -ge "$deadline" ]; then kill -KILL "${alive[@]}" 2>/dev/null || true; break; fi
      kill -TERM "${alive[@]}" 2>/dev/null || true
      for i in 1 2 3 4 5 6 7 8 9 10; do
        sleep 0.1
        for p in "${alive[@]}"; do pid_alive "$p" && continue 2; done
        break
      done
    done
  fi
  for i in $(seq 1 50); do
    left=$( { pids_in_cgroup "$CG_V1/$cg"; pids_in_cgroup "$CG_V2/$cg"; printf '%s\n' "${pids[@]}"; } | sort -un |
            while read -r p; do [ -n "$p" ] && pid_alive "$p" && echo "$p"; done)
    [ -z "$left" ] && return 0
    for p in $left; do
      if [ "$mode" = term ]; then
        # Orphaned inits (their nspawn was KILLed) get 2 s for a clean halt, then everything is KILLed.
        if [ "$i" -le 10 ]; then is_container_init "$p" && kill -s RTMIN+3 "$p" 2>/dev/null
        else kill -KILL "$p" 2>/dev/null; fi || true
      elif [ "$(cat "/proc/$p/comm" 2>/dev/null)" != systemd-nspawn ] || [ "$i" -gt 10 ]; then
        kill -KILL "$p" 2>/dev/null || true
      fi
    done
    sleep 0.2
  done
  log "warning: processes still in cgroup $cg: $left"
}

# rm_nspawn_state MACHINE: stale entries nspawn leaves under /run/systemd/nspawn/ (propagate/, unix-export/).
rm_nspawn_state() {
  local m="$1" d
  for d in /run/systemd/nspawn/propagate /run/systemd/nspawn/unix-export /run/systemd/nspawn/incoming; do
    [ -e "$d/$m" ] && { umount_under "$d/$m"; rm -rf --one-file-system "${d:?}/$m"; }
  done
  return 0
}
