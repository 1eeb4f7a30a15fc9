#!/bin/bash
# host.sh init CLUSTER SUBNET_OCTET     prepare run dir, client ssh key and bridge 10.231.N.1/24; prints N
# host.sh up CLUSTER HOST IP IDX         overlay + identity + netns/veth + boot (returns once nspawn runs)
# host.sh down CLUSTER HOST [--kill] [--purge]
#                                        stop the host (polite shutdown; --kill: power cut), unmount, drop
#                                        netns/veth/cgroups (--purge: its disk too)
# host.sh initpid CLUSTER HOST           print the container's init pid (as seen from here)
#
# Boot recipe measured in ../shared/TEST-HOSTS.md (beside the repository). Every step that creates something has a matching
# removal in `down` and in cleanup.sh.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib.sh"
[ "$(id -u)" = 0 ] || die "host.sh needs root"
cmd="${1:-}"; shift || true

case "$cmd" in
init)
  # Prints the subnet octet actually used: the requested one, or the next free one when another cluster's
  # bridge already holds 10.231.N.1 (clusters of other test files may be running at the same time).
  CLUSTER="$1"; OCTET="$2"; check_cluster "$CLUSTER"
  [[ "$OCTET" =~ ^[0-9]{1,3}$ ]] && [ "$OCTET" -le 254 ] || die "bad subnet octet '$OCTET'"
  RD="$(run_dir "$CLUSTER")"
  mkdir -p "$RD/ssh" "$RD/hosts"; chmod 700 "$RD" "$RD/ssh"
  [ -f "$RD/ssh/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C "pag-test-$CLUSTER" -f "$RD/ssh/id_ed25519"
  : >"$RD/ssh/known_hosts"
  BR="$(bridge_name "$CLUSTER")"
  exec 8>"$PAG_RUN_ROOT/.net.lock"
  flock -w 60 8 || die "timed out waiting for $PAG_RUN_ROOT/.net.lock"
  if ip link show "$BR" >/dev/null 2>&1; then
    OCTET=$(ip -o -4 addr show dev "$BR" | sed -n 's#.* 10\.231\.\([0-9]*\)\.1/24 .*#\1#p' | head -1)
    [ -n "$OCTET" ] || die "bridge $BR exists without a 10.231.N.1/24 address"
  else
    TAKEN=" $(ip -o -4 addr show | sed -n 's#.* inet 10\.231\.\([0-9]*\)\.[0-9]*/.*#\1#p' | tr '\n' ' ') "
    for _ in $(seq 0 254); do
      case "$TAKEN" in *" $OCTET "*) OCTET=$(( (OCTET + 1) % 255 )) ;; *) break ;; esac
    done
    case "$TAKEN" in *" $OCTET "*) die "no free subnet in 10.231.0.0/16" ;; esac
    ip link add "$BR" type bridge
    ip link set "$BR" alias "$(link_alias "$CLUSTER")"
    ip addr add "10.231.$OCTET.1/24" dev "$BR"
    ip link set "$BR" up
  fi
  echo "OCTET=$OCTET" >"$RD/net.env"
  mkdir -p "$CG_V1/pag-test-$CLUSTER" "$CG_V2/pag-test-$CLUSTER"
  echo "$OCTET"
  ;;

up)
  CLUSTER="$1"; HOST="$2"; IP="$3"; IDX="$4"; check_cluster "$CLUSTER"; check_name "$HOST"
  [[ "$IDX" =~ ^[0-9]{1,3}$ ]] || die "bad index '$IDX'"
  BASE="$("$HERE/build-base.sh")"
  RD="$(run_dir "$CLUSTER")"; HD="$(host_dir "$CLUSTER" "$HOST")"; ROOT="$HD/root"
  [ -f "$RD/net.env" ] || die "cluster $CLUSTER not initialised"
  . "$RD/net.env"
  NS="$(netns_name "$CLUSTER" "$HOST")"; M="$(machine_name "$CLUSTER" "$HOST")"
  VETH="${CLUSTER}v$IDX"; BR="$(bridge_name "$CLUSTER")"
  if [ -f "$HD/nspawn.pid" ] && pid_alive "$(cat "$HD/nspawn.pid")"; then die "$HOST is already running"; fi
  FIRST=0; [ -d "$HD/upper" ] || FIRST=1
  mkdir -p "$HD/upper" "$HD/work" "$ROOT"
  mountpoint -q "$ROOT" || mount -t overlay overlay -o "lowerdir=$BASE,upperdir=$HD/upper,workdir=$HD/work" "$ROOT"
  if [ "$FIRST" = 1 ]; then
    systemd-id128 new >"$ROOT/etc/machine-id"
    echo "$HOST" >"$ROOT/etc/hostname"
    rm -f "$ROOT"/etc/ssh/ssh_host_*
    ssh-keygen -q -t ed25519 -N '' -C "root@$HOST" -f "$ROOT/etc/ssh/ssh_host_ed25519_key"
    install -d -m 700 "$ROOT/root/.ssh"
    install -m 600 "$RD/ssh/id_ed25519.pub" "$ROOT/root/.ssh/authorized_keys"
  fi
  echo "$IP,$HOST $(cat "$ROOT/etc/ssh/ssh_host_ed25519_key.pub" | cut -d' ' -f1,2)" >"$HD/host_key"
  [ -f "$RD/etc-hosts" ] && install -m 644 "$RD/etc-hosts" "$ROOT/etc/hosts"
  echo "$IP" >"$HD/ip"; echo "$IDX" >"$HD/idx"

  # Network: own namespace, veth peer on the bridge, no default route (offline by construction).
  [ -e "$PAG_NETNS_DIR/$NS" ] || ip netns add "$NS"
  ip link del "$VETH" 2>/dev/null || true
  # A fixed MAC per host, like a real NIC across reboots: otherwise the controller's neighbour entry may still
  # hold the previous boot's MAC, and SYNs go nowhere for up to ~30 s after startHost. Flush it anyway.
  MAC=$(printf '02:70:61:%02x:%02x:%02x' "$OCTET" $(( IDX / 256 )) $(( IDX % 256 )))
  ip link add "$VETH" type veth peer name eth0 address "$MAC" netns "$NS"
  ip neigh flush dev "$BR" to "$IP" 2>/dev/null || true
  ip link set "$VETH" alias "$(link_alias "$CLUSTER")"
  ip link set "$VETH" master "$BR" up
  ip -n "$NS" link set lo up
  ip -n "$NS" addr add "$IP/24" dev eth0
  ip -n "$NS" link set eth0 up

  # Own cgroup in both hierarchies, or every container's PID 1 fights over the same /payload/init.scope.
  mkdir -p "$CG_V1/pag-test-$CLUSTER/$HOST" "$CG_V2/pag-test-$CLUSTER/$HOST"
  (
    echo "$BASHPID" >"$CG_V1/pag-test-$CLUSTER/$HOST/cgroup.procs"
    echo "$BASHPID" >"$CG_V2/pag-test-$CLUSTER/$HOST/cgroup.procs"
    exec setsid systemd-nspawn -q -D "$ROOT" -M "$M" --register=no --keep-unit --boot \
      --console=read-only --network-namespace-path="$PAG_NETNS_DIR/$NS" --resolv-conf=off \
      </dev/null >>"$HD/console.log" 2>&1
  ) &
  PID=$!
  echo "$PID" >"$HD/nspawn.pid"
  # Wait for the container's init to exist, so exec() via nsenter works as soon as we return.
  for _ in $(seq 1 100); do
    pid_alive "$PID" || { tail -20 "$HD/console.log" >&2; die "systemd-nspawn for $HOST exited"; }
    for c in $(cat "/proc/$PID/task/$PID/children" 2>/dev/null); do
      if is_container_init "$c"; then echo "$c" >"$HD/init.pid"; echo "$PID $c"; exit 0; fi
    done
    sleep 0.05
  done
  die "no init process for $HOST after 5 s"
  ;;

initpid)
  CLUSTER="$1"; HOST="$2"; HD="$(host_dir "$CLUSTER" "$HOST")"
  P="$(cat "$HD/nspawn.pid" 2>/dev/null)" && pid_alive "$P" || die "$HOST is not running"
  cat "$HD/init.pid"
  ;;

down)
  CLUSTER="$1"; HOST="$2"; shift 2; check_cluster "$CLUSTER"; check_name "$HOST"
  MODE=term; PURGE=0
  for a in "$@"; do case "$a" in --kill) MODE=kill ;; --purge) PURGE=1 ;; *) die "unknown option $a" ;; esac; done
  HD="$(host_dir "$CLUSTER" "$HOST")"; NS="$(netns_name "$CLUSTER" "$HOST")"
  PID="$(cat "$HD/nspawn.pid" 2>/dev/null || true)"
  # Only signal the pid if it still is our nspawn (pids get reused).
  if [ -n "$PID" ] && ! grep -qz -- "$HD/root" "/proc/$PID/cmdline" 2>/dev/null; then PID=""; fi
  stop_processes "$MODE" "pag-test-$CLUSTER/$HOST" $PID || true
  rm -f "$HD/nspawn.pid" "$HD/init.pid"
  umount_under "$HD/root"
  rm_nspawn_state "$(machine_name "$CLUSTER" "$HOST")"
  ip netns del "$NS" 2>/dev/null || true   # takes the veth pair with it
  [ -f "$HD/ip" ] && ip neigh flush dev "$(bridge_name "$CLUSTER")" to "$(cat "$HD/ip")" 2>/dev/null || true
  [ -f "$HD/idx" ] && ip link del "${CLUSTER}v$(cat "$HD/idx")" 2>/dev/null || true
  rm_cgroup_tree "$CG_V1/pag-test-$CLUSTER/$HOST"; rm_cgroup_tree "$CG_V2/pag-test-$CLUSTER/$HOST"
  if [ "$PURGE" = 1 ]; then rm -rf --one-file-system "${HD:?}"; fi
  ;;

*) die "usage: host.sh init|up|down|initpid ..." ;;
esac
