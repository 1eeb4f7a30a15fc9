#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pag-ansible contributors
# MIT License
"""Documentation of the pag_pack_dir action, which runs on the controller only (action_plugins/pag_pack_dir.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: pag_pack_dir
short_description: Pack a directory of the controller into a reproducible tar archive
description:
  - Writes O(dest), a tar archive of the directory O(src) whose members sit under one top-level directory O(name).
    The archive's bytes depend only on the names and contents of the files (sorted names, owner root, modes 0644 and
    0755, modification time 0), so an unchanged directory always gives the same archive, and a copy of it to the hosts
    reports ok.
  - A listing of the directory (names, sizes, modification times) is kept in C(<dest>.listing). While the directory
    still matches it, the archive is left as it is and the files are not read.
  - Runs on the controller only; nothing reaches the managed host. Use it with C(run_once).
  - Never reports changed (the archive is the controller's cache); RV(packed) tells whether it was written.
  - In check mode the archive is written too, so that a copy task after it can compare.
version_added: "0.1.0"
author: pag-ansible
options:
  src:
    description: The directory to pack, on the controller. Symbolic links are followed.
    type: path
    required: true
  dest:
    description: The archive to write, on the controller. Its directory is created.
    type: path
    required: true
  name:
    description: The top-level directory of the archive's members.
    type: str
    required: true
attributes:
  check_mode: {support: full}
  diff_mode: {support: none}
"""

EXAMPLES = r"""
- name: Pack the local package repository directory on the controller
  pag_pack_dir:
    src: /srv/site/apt-repository
    dest: "{{ playbook_dir }}/.cache/apt-repository.tar"
    name: apt-repository
  run_once: true
"""

RETURN = r"""
dest: {description: The archive's absolute path., returned: always, type: str}
files: {description: How many files the archive holds., returned: always, type: int}
packed: {description: Whether the archive was written by this run (the directory changed, or there was none)., returned: always, type: bool}
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402


def main():
    module = AnsibleModule(argument_spec=dict(src=dict(type="path", required=True), dest=dict(type="path", required=True),
                                              name=dict(type="str", required=True)), supports_check_mode=True)
    module.fail_json(msg="pag_pack_dir runs on the controller through its action plugin: is action_plugins/ on the path?")


if __name__ == "__main__":
    main()
