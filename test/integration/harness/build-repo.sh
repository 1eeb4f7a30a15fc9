#!/bin/bash
# build-repo.sh PKG... : build (or reuse) a flat offline apt repository holding PKG... and everything they
# need beyond the base rootfs. Prints the repository directory on stdout.
#
# The download uses a private apt configuration (its own sources list, lists and cache dirs under the
# cache), with the BASE's dpkg status as "installed", so exactly what a host lacks is fetched and the
# controller's own apt state is never touched. Cached by package list + base version; flock-serialised.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib.sh"
[ "$(id -u)" = 0 ] || die "build-repo.sh needs root"
[ $# -gt 0 ] || die "usage: build-repo.sh PKG..."
for p in "$@"; do [[ "$p" =~ ^[a-z0-9][a-z0-9.+-]+$ ]] || die "bad package name '$p'"; done

BASE="$("$HERE/build-base.sh")"
PKGS=$(printf '%s\n' "$@" | sort -u | paste -sd' ')
KEY=$(printf "%s|%s" "$(pag_base_key)" "$PKGS" | sha256sum | cut -c1-16)
REPO="$PAG_TEST_CACHE/repos/$KEY"
MARKER="$REPO/.pag-repo-complete"
if [ -f "$MARKER" ]; then echo "$REPO"; exit 0; fi

mkdir -p "$PAG_TEST_CACHE/repos"
exec 9>"$PAG_TEST_CACHE/.repo.lock"
flock -w 1800 9 || die "timed out waiting for $PAG_TEST_CACHE/.repo.lock"
if [ -f "$MARKER" ]; then echo "$REPO"; exit 0; fi

t0=$(now_ms)
APTDIR="$PAG_TEST_CACHE/apt-$PAG_SUITE"
mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" "$APTDIR/etc"
echo "deb $PAG_MIRROR $PAG_SUITE main" >"$APTDIR/etc/sources.list"
APT_OPTS=(
  -o "Dir::Etc::SourceList=$APTDIR/etc/sources.list"
  -o "Dir::Etc::SourceParts=/nonexistent"
  -o "Dir::State::Lists=$APTDIR/lists"
  -o "Dir::Cache=$APTDIR/cache"
  -o "Dir::State::status=$BASE/var/lib/dpkg/status"
  -o "APT::Update::Error-Mode=any"
  -o "APT::Install-Recommends=false"
  -o "Debug::NoLocking=true"
)
# Lists older than a day are refreshed; the repo itself is cached forever once complete.
if [ -z "$(find "$APTDIR/lists" -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then
  log "apt-get update (private lists in $APTDIR)"
  apt-get "${APT_OPTS[@]}" -qq update >&2
fi
TMP="$REPO.tmp.$$"
rm -rf "$REPO" "$REPO".tmp.*
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/partial"
log "downloading $PKGS and what the base lacks for them"
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" -o "Dir::Cache::archives=$TMP" -y -qq \
  install --download-only $PKGS >&2
rm -rf "$TMP/partial" "$TMP/lock"
(cd "$TMP" && dpkg-scanpackages -m . /dev/null >Packages 2>/dev/null && gzip -9kn Packages)
n=$(ls "$TMP"/*.deb | wc -l)
echo "$PKGS" >"$TMP/.pag-repo-complete"
mv "$TMP" "$REPO"
trap - EXIT
log "offline repo ready in $(( ($(now_ms) - t0) / 1000 )) s: $n packages, $(du -sh "$REPO" | cut -f1) ($REPO)"
echo "$REPO"
