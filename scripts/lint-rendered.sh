#!/usr/bin/env bash
# Renders inventory.example.yml and checks the tree the way an Ansible reviewer would:
# ansible-playbook --syntax-check, ansible-lint (production profile), yamllint.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$(mktemp -d /tmp/pag-lint-XXXXXX)"
trap 'rm -rf "$out"' EXIT

node "$root/bin/pag-ansible.js" render -i "$root/inventory.example.yml" -s "$root/secrets.example.yml" -o "$out/tree"
cd "$out/tree"
export ANSIBLE_CONFIG="$out/tree/ansible.cfg" ANSIBLE_INVENTORY_UNPARSED_FAILED=true

echo "--- ansible-playbook --syntax-check"
ansible-playbook --syntax-check main.yml
ansible-playbook --syntax-check prefect-flow-deployment.yml -e flow_dir=/tmp -e flow_entrypoint=main.py:my_workflow
ansible-playbook --syntax-check prefect-backup.yml prefect-restore.yml
ansible-playbook --syntax-check prefect-flow-remove.yml -e deployment_name=x

echo "--- yamllint"
yamllint -s -c "$out/tree/.yamllint" .

echo "--- ansible-lint --profile production"
ansible-lint --offline --profile production --nocolor main.yml prefect-flow-deployment.yml prefect-backup.yml prefect-restore.yml prefect-flow-remove.yml roles/
echo "rendered tree is clean"
