#!/bin/bash
# Build the cached base rootfs once (debootstrap + preparation from ../shared/TEST-HOSTS.md).
# Prints the base directory on stdout. Safe to run concurrently: a flock serialises builders, and the base
# counts as present only when its marker holds the current version stamp.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib.sh"
[ "$(id -u)" = 0 ] || die "build-base.sh needs root"

mkdir -p "$PAG_TEST_CACHE"
MARKER="$PAG_BASE_DIR/.pag-base-complete"
STAMP="$(pag_base_key)"
if [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$STAMP" ]; then echo "$PAG_BASE_DIR"; exit 0; fi

exec 9>"$PAG_TEST_CACHE/.base.lock"
flock -w 1800 9 || die "timed out waiting for $PAG_TEST_CACHE/.base.lock"
# Another process may have finished while we waited.
if [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$STAMP" ]; then echo "$PAG_BASE_DIR"; exit 0; fi

t0=$(now_ms)
TMP="$PAG_BASE_DIR.tmp.$$"
rm -rf "$PAG_BASE_DIR" "$PAG_BASE_DIR".tmp.*
trap 'rm -rf "$TMP"' EXIT
log "building base rootfs in $TMP (debootstrap $PAG_SUITE, a minute or more)"
debootstrap --variant=minbase --include="$PAG_BASE_PACKAGES" "$PAG_SUITE" "$TMP" "$PAG_MIRROR" \
  >"$PAG_TEST_CACHE/debootstrap-$PAG_SUITE.log" 2>&1 || { tail -30 "$PAG_TEST_CACHE/debootstrap-$PAG_SUITE.log" >&2; die "debootstrap failed"; }

# Extra packages go in with apt inside the new root, which resolves dependencies and alternatives properly
# (debootstrap's --include does not, and failed to configure large Python package sets).
if [ -n "$PAG_BASE_EXTRA" ]; then
  log "installing $(tr ',' '\n' <<<"$PAG_BASE_EXTRA" | wc -l) extra packages with apt"
  echo "deb $PAG_MIRROR $PAG_SUITE main" >"$TMP/etc/apt/sources.list"
  mount -t proc proc "$TMP/proc"
  trap 'umount "$TMP/proc" 2>/dev/null; rm -rf "$TMP"' EXIT
  # No service may start inside the build root.
  printf '#!/bin/sh\nexit 101\n' >"$TMP/usr/sbin/policy-rc.d"; chmod 755 "$TMP/usr/sbin/policy-rc.d"
  { chroot "$TMP" apt-get -q update &&
    DEBIAN_FRONTEND=noninteractive chroot "$TMP" apt-get -q -y --no-install-recommends install $(tr ',' ' ' <<<"$PAG_BASE_EXTRA")
  } >>"$PAG_TEST_CACHE/debootstrap-$PAG_SUITE.log" 2>&1 || { tail -30 "$PAG_TEST_CACHE/debootstrap-$PAG_SUITE.log" >&2; die "apt-get install of the extra packages failed"; }
  rm -f "$TMP/usr/sbin/policy-rc.d"
  umount "$TMP/proc"
  trap 'rm -rf "$TMP"' EXIT
fi

# Identity: every host gets its own at boot.
rm -f "$TMP"/etc/ssh/ssh_host_* "$TMP/etc/hostname"
: >"$TMP/etc/machine-id"
mkdir -p "$TMP/var/lib/dbus"
ln -sf /etc/machine-id "$TMP/var/lib/dbus/machine-id"
printf 'LANG=C.UTF-8\n' >"$TMP/etc/default/locale"
systemctl --root="$TMP" mask apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer \
  fstrim.timer e2scrub_reap.service console-getty.service >/dev/null 2>&1
# sshd: root by key only.
cat >"$TMP/etc/ssh/sshd_config.d/pag-test.conf" <<'CONF'
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
HostKey /etc/ssh/ssh_host_ed25519_key
CONF
# Offline hosts: no network sources at all (an offline repo is added per test when needed); apt clean.
: >"$TMP/etc/apt/sources.list"
rm -f "$TMP"/etc/apt/sources.list.d/*
rm -rf "$TMP"/var/lib/apt/lists/* "$TMP"/var/cache/apt/archives/*.deb
mkdir -p "$TMP/root/.ssh"
chmod 700 "$TMP/root/.ssh"

echo "$STAMP" >"$TMP/.pag-base-complete"
mv "$TMP" "$PAG_BASE_DIR"
trap - EXIT
log "base rootfs ready in $(( ($(now_ms) - t0) / 1000 )) s: $(du -sh "$PAG_BASE_DIR" | cut -f1)"
echo "$PAG_BASE_DIR"
