#!/bin/bash
# Pre-build what the integration tests need (as root): the cached base rootfs and the offline apt repository
# with PostgreSQL, then remove leftovers of earlier runs. Idempotent; the tests build both on demand anyway.
# Cache: $PAG_TEST_CACHE (default /var/cache/pag-ansible-test).
set -euo pipefail
H="$(cd "$(dirname "${BASH_SOURCE[0]}")/../test/integration/harness" && pwd)"
[ "$(id -u)" = 0 ] || { echo "integration-setup.sh: run as root" >&2; exit 1; }
for tool in debootstrap systemd-nspawn nsenter dpkg-scanpackages ssh ansible; do
  command -v "$tool" >/dev/null || { echo "integration-setup.sh: $tool missing" >&2; exit 3; }
done
echo "base: $(bash "$H/build-base.sh")"
echo "repo: $(bash "$H/build-repo.sh" postgresql python3-psycopg2)"
bash "$H/cleanup.sh"
