"""What Ansible itself reads from inventories: one Python process (Ansible's own InventoryManager and
VariableManager, the code behind `ansible-inventory --list`) for many inventories.

stdin: JSON list; each item an inventory path, or {"inventory": path, "template": true} (also template every
variable through query('ansible.builtin.vars', name) with Ansible's Templar, as a task would), or {"yaml": path}
(a plain YAML file read with Ansible's loader, e.g. the secrets file). stdout: JSON list, one entry per item:
  {"error": "..."} or {"groups": {group: [hosts]}, "hostvars": {host: {var: value}}, "not_unsafe": ["host.var.path", ...],
   "templated_differs": ["host.var", ...]} or {"data": value}
Values are tagged with their Python type so int/float/bool/str differences show: {"int": "8"}, {"float": "1.0"}, ...
"""
import json
import sys

from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.utils.unsafe_proxy import AnsibleUnsafe
from ansible.vars.manager import VariableManager

MAGIC = {
    'inventory_hostname', 'inventory_hostname_short', 'group_names', 'groups', 'inventory_file', 'inventory_dir',
    'omit', 'playbook_dir', 'ansible_version', 'ansible_config_file', 'ansible_playbook_python', 'ansible_check_mode',
    'ansible_diff_mode', 'ansible_forks', 'ansible_inventory_sources', 'ansible_skip_tags', 'ansible_run_tags',
    'ansible_verbosity', 'hostvars', 'environment', 'role_names', 'ansible_role_names', 'ansible_dependent_role_names',
    'ansible_play_batch', 'ansible_play_hosts', 'ansible_play_hosts_all', 'ansible_play_role_names', 'play_hosts',
    'ansible_collection_name', 'ansible_search_path', 'ansible_facts',
}


def typed(value, path, bad):
    if isinstance(value, bool):
        return {'bool': value}
    if isinstance(value, int):
        return {'int': str(value)}
    if isinstance(value, float):
        return {'float': repr(value)}
    if value is None:
        return None
    if isinstance(value, str):
        if not isinstance(value, AnsibleUnsafe) and not type(value).__name__.startswith('AnsibleVault'):
            bad.append(path)
        if type(value).__name__.startswith('AnsibleVault'):
            return {'vault': True}
        return value
    if isinstance(value, dict):
        return {str(k): typed(v, path + '.' + str(k), bad) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [typed(v, path + '[%d]' % i, bad) for i, v in enumerate(value)]
    return {type(value).__name__: str(value)}


def read_yaml(path):
    from ansible.parsing.yaml.loader import AnsibleLoader
    with open(path, 'rb') as f:
        text = f.read().decode('utf-8')
    loader = AnsibleLoader(text, path)
    try:
        data = loader.get_single_data()
    finally:
        loader.dispose()
    return {'data': typed(data, '', [])}


def read(path, template=False):
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[path])
    if not inventory.hosts and not [g for g in inventory.groups if g not in ('all', 'ungrouped')]:
        return {'error': 'no inventory parsed'}
    variables = VariableManager(loader=loader, inventory=inventory)
    groups = {name: sorted(h.name for h in group.get_hosts()) for name, group in inventory.groups.items()}
    hostvars = {}
    bad = []
    differs = []
    for host in inventory.get_hosts():
        all_vars = variables.get_vars(host=host, include_hostvars=False)
        hostvars[host.name] = {k: typed(v, host.name + '.' + k, bad) for k, v in all_vars.items() if k not in MAGIC}
        if template:
            from ansible.template import Templar
            templar = Templar(loader=loader, variables=all_vars)
            for k in hostvars[host.name]:
                got = templar.template("{{ query('ansible.builtin.vars', %r) }}" % k)
                if typed(got[0], '', []) != hostvars[host.name][k]:
                    differs.append(host.name + '.' + k)
    return {'groups': groups, 'hostvars': hostvars, 'not_unsafe': bad, 'templated_differs': differs}


def main():
    out = []
    for item in json.load(sys.stdin):
        try:
            if isinstance(item, str):
                out.append(read(item))
            elif 'yaml' in item:
                out.append(read_yaml(item['yaml']))
            else:
                out.append(read(item['inventory'], item.get('template', False)))
        except Exception as e:  # one bad inventory must not hide the others
            out.append({'error': '%s: %s' % (type(e).__name__, e)})
    json.dump(out, sys.stdout)


if __name__ == '__main__':
    main()
