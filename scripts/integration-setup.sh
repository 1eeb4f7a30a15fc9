#!/bin/bash
# Pre-build what the integration tests need (as root): the cached base root filesystems (Debian 12 for the
# suites on the Prefect double, Debian 13 with the real-Prefect wheelhouse's Debian packages) and the offline apt
# repositories with PostgreSQL, then remove leftovers of earlier runs. Idempotent; the tests build all of it on
# demand anyway, so CI runs this beside the unit tests to overlap the downloads with them.
# Cache: $PAG_TEST_CACHE (default /var/cache/pag-ansible-test).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
H="$ROOT/test/integration/harness"
[ "$(id -u)" = 0 ] || { echo "integration-setup.sh: run as root" >&2; exit 1; }
for tool in debootstrap systemd-nspawn nsenter dpkg-scanpackages ssh ansible; do
  command -v "$tool" >/dev/null || { echo "integration-setup.sh: $tool missing" >&2; exit 3; }
done
echo "base (bookworm): $(bash "$H/build-base.sh")"
echo "repo (bookworm): $(bash "$H/build-repo.sh" postgresql python3-psycopg2)"

# The same base as realPrefectBase() in test/integration/support.ts: acl plus debian-packages.txt, sorted.
WHEELHOUSE="${PAG_PREFECT_WHEELHOUSE:-$ROOT/../shared/prefect-wheelhouse}"
if [ -f "$WHEELHOUSE/debian-packages.txt" ]; then
  export PAG_SUITE=trixie
  PAG_BASE_EXTRA="$( { echo acl; sed -e 's/#.*//' -e 's/[[:space:]]//g' "$WHEELHOUSE/debian-packages.txt"; } | grep -v '^$' | LC_ALL=C sort -u | paste -sd, )"
  export PAG_BASE_EXTRA
  echo "base (trixie, real Prefect): $(bash "$H/build-base.sh")"
  echo "repo (trixie): $(bash "$H/build-repo.sh" postgresql-17)"
else
  echo "integration-setup.sh: no wheelhouse at $WHEELHOUSE: the real-Prefect suites will fail" >&2
fi
bash "$H/cleanup.sh"
