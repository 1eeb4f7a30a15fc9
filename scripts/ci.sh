#!/usr/bin/env bash
# The full test run, from a fresh machine: installs what the tests need (Debian packages, npm packages), then
# type-checks, runs the unit tests, lints the rendered example tree and runs the multi-host integration suite.
# Needs root (apt, systemd-nspawn) and the real Prefect wheelhouse (../shared/prefect-wheelhouse beside the checkout, or
# PAG_PREFECT_WHEELHOUSE). Set PAG_SKIP_INTEGRATION=1 to stop after the lint step.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  ansible-core ansible-lint yamllint          # the real tools the rendered tree is checked and run with
  openssh-client openssh-server               # ssh to the test hosts
  debootstrap systemd-container iproute2      # build and boot the test hosts
  dpkg-dev                                    # dpkg-scanpackages: the offline apt repository of the test hosts
  python3 python3-venv                        # the Prefect and pixi-unpack test doubles
  rsync util-linux
)

# Each step is stamped with the minutes since the start, so a slow CI run shows where its time went.
CI_STARTED=$SECONDS
step() { printf '\n==> [+%d:%02d] %s\n' $(((SECONDS - CI_STARTED) / 60)) $(((SECONDS - CI_STARTED) % 60)) "$*"; }

if [ "$(id -u)" -eq 0 ]; then
  missing=()
  for p in "${DEBIAN_PACKAGES[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
  if [ "${#missing[@]}" -gt 0 ]; then
    step "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  echo "warning: not root: Debian packages are not installed and the integration suite is skipped" >&2
  PAG_SKIP_INTEGRATION=1
fi

# The real-Prefect suites install Prefect from the shared wheelhouse beside the checkout. Without it they would each
# fail minutes into the run: say so now, in one line.
WHEELHOUSE="${PAG_PREFECT_WHEELHOUSE:-$(dirname "$(pwd)")/shared/prefect-wheelhouse}"
if [ "${PAG_SKIP_INTEGRATION:-0}" != "1" ] && [ ! -f "$WHEELHOUSE/SHA256SUMS" ]; then
  echo "ci: no Prefect wheelhouse at $WHEELHOUSE (the real-Prefect integration suites need one): clone beside ../shared/, set PAG_PREFECT_WHEELHOUSE to its directory, or set PAG_SKIP_INTEGRATION=1" >&2
  exit 3
fi

step "npm ci"
npm ci --no-audit --no-fund

# The integration suite's base root filesystems and offline repositories are mostly downloads: build them (or
# find them cached) while the unit tests use the CPU.
if [ "${PAG_SKIP_INTEGRATION:-0}" != "1" ]; then
  SETUP_LOG="$(mktemp)"
  bash scripts/integration-setup.sh >"$SETUP_LOG" 2>&1 &
  SETUP_PID=$!
fi

step "typecheck"
npm run --silent typecheck

# Built before the unit tests, so the tests of the built CLI (pipes, the launcher) run on this commit's build.
step "build"
npm run --silent build

step "unit tests"
npm test

step "fuzz sample: hostile values in every place of the inventories, Ansible as the oracle (seeded)"
npm run --silent fuzz:ci

step "lint the rendered example tree (syntax-check, ansible-lint, yamllint)"
npm run --silent lint:rendered

if [ "${PAG_SKIP_INTEGRATION:-0}" != "1" ]; then
  step "integration hosts' base root filesystems and repositories"
  if ! wait "$SETUP_PID"; then cat "$SETUP_LOG" >&2; echo "integration-setup.sh failed" >&2; exit 1; fi
  cat "$SETUP_LOG"
  step "integration tests on booted hosts"
  npm run test:integration
  step "nothing left running"
  bash scripts/check-no-leftovers.sh
fi
step "done"
