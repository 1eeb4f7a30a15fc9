# -*- coding: utf-8 -*-
# Copyright: pag-ansible contributors
# MIT License
"""pag_worker_unit_problems: what is wrong with the worker hosts' unit settings, for main.yml's pre-flight check.

One pass over the worker hosts, reading each host's variables once: the check it replaces looped over the hosts and
looked each host's variables up four times, about 12 ms a worker host on every run. Only names are reported (hosts,
pools, variable names), never a value."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: pag_worker_unit_problems
short_description: The problems of the worker hosts' unit settings, one message each
description:
  - For each host of the list, reads its C(prefect_worker_unit_settings) and C(prefect_worker_pools) from I(hostvars)
    once, and returns one message for each unit whose pool cannot name a unit (letters, digits, C(_), C(.) and C(-)),
    whose pool is not in the host's C(prefect_worker_pools), or whose C(env) has a name that is not an environment
    variable name. An empty list when there is none.
  - The messages name the host, the pool and the variable, never a value.
options:
  _input:
    description: The worker hosts' inventory names.
    type: list
    elements: str
    required: true
  hostvars:
    description: Ansible's C(hostvars).
    type: dict
    required: true
"""

_POOL = re.compile(r"^[A-Za-z0-9_.-]+$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def pag_worker_unit_problems(hosts, hostvars):
    if not isinstance(hosts, list):
        raise AnsibleFilterError("pag_worker_unit_problems: expected a list of host names")
    problems = []
    for host in hosts:
        host_vars = hostvars[host]
        units = host_vars.get("prefect_worker_unit_settings") or []
        pools = host_vars.get("prefect_worker_pools") or []
        if not isinstance(units, list) or not all(isinstance(u, dict) for u in units):
            problems.append("%s: prefect_worker_unit_settings is not a list of mappings" % host)
            continue
        for unit in units:
            pool = unit.get("pool")
            if not isinstance(pool, str) or not _POOL.match(pool):
                problems.append("%s: the pool %r cannot name a unit (letters, digits, '_', '.' and '-')" % (host, pool))
            elif pool not in pools:
                problems.append("%s: the pool %s of a worker unit is not in prefect_worker_pools" % (host, pool))
            env = unit.get("env") or {}
            if not isinstance(env, dict):
                problems.append("%s: the env of the %s worker unit is not a mapping" % (host, pool))
                continue
            for name in env:
                if not isinstance(name, str) or not _ENV_NAME.match(name):
                    problems.append("%s: the env of the %s worker unit has %r, which is not an environment variable name"
                                    % (host, pool, name))
    return problems


class FilterModule(object):
    def filters(self):
        return {"pag_worker_unit_problems": pag_worker_unit_problems}
