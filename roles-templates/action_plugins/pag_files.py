# -*- coding: utf-8 -*-
# Copyright: pag-ansible contributors
# MIT License
"""Controller side of pag_files: renders the template entries, then runs the module once."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible import constants as C
from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

# Keys of an entry that only the controller reads.
_CONTROLLER_KEYS = ("template", "vars", "secret", "each", "role")


class _FileNames(dict):
    """The element's fields for naming a path: each must be one plain file name."""

    def __getitem__(self, key):
        value = to_text(dict.__getitem__(self, key))
        if not value or "/" in value or value in (".", "..") or "\0" in value:
            raise ValueError("%s %r is not a plain file name" % (key, value))
        return value


class ActionModule(ActionBase):
    """Turns `template: NAME` entries (with `vars:`) into file content, as the template module would, so that the
    module converges all the paths in one round trip.

    An entry with `each: LIST` stands for one entry per element of LIST, like a loop: its path is formatted with the
    element's fields (`/etc/prefect/{unit}.env`), its template sees the element as `item`, and its result's label
    is the element's field named by the entry's `label` (none by default), and its `changed_mark` is formatted as its
    path is.

    `merge: {find, paths, services}` adds the files that another role gives this task (main.yml's environment play
    writes a worker host's units with the environment's files): its find patterns and paths after the task's own, its
    services where the task gives none. One argument, so the task templates the other role's variables once, not once
    for each part. An entry with `role: NAME` takes its template from that role's templates/, found as Ansible finds
    roles (roles/ beside the playbook, then roles_path), instead of the task's role."""

    TRANSFERS_FILES = False

    @staticmethod
    def _role_template(role, name, task_vars):
        """The absolute path of template NAME of role ROLE."""
        base = task_vars.get("playbook_dir") or os.getcwd()
        for roles_dir in [os.path.join(base, "roles")] + list(C.DEFAULT_ROLES_PATH or []):
            path = os.path.join(os.path.expanduser(roles_dir), role, "templates", name)
            if os.path.isfile(path):
                return path
        raise AnsibleActionFail("pag_files: template %s of role %s not found (roles/ beside the playbook, roles_path)"
                                % (name, role))

    def _render(self, name, template_vars, task_vars):
        lookup = self._shared_loader_obj.lookup_loader.get(
            "ansible.builtin.template", loader=self._loader, templar=self._templar)
        # The lookup searches the role's templates/ as the template module does, and sets ansible_managed.
        return to_text(lookup.run([name], task_vars, template_vars=template_vars or {})[0])

    @staticmethod
    def _merge(args, merge):
        """Adds another role's find patterns, paths and services (merge) to the task's own."""
        if not isinstance(merge, dict) or not set(merge) <= {"find", "paths", "services"}:
            raise AnsibleActionFail("pag_files: merge takes a dictionary of find, paths and services")
        for key in ("find", "paths"):
            extra = merge.get(key) or []
            if not isinstance(extra, list):
                raise AnsibleActionFail("pag_files: merge's %s must be a list" % key)
            if extra:
                args[key] = list(args.get(key) or []) + extra
        if merge.get("services") is not None:
            if args.get("services") is not None:
                raise AnsibleActionFail("pag_files: services given both by the task and by merge")
            args["services"] = merge["services"]

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        args = dict(self._task.args)
        self._merge(args, args.pop("merge", None) or {})
        entries = []
        for entry in args.get("paths") or []:
            if not isinstance(entry, dict):
                raise AnsibleActionFail("pag_files: each entry of paths must be a dictionary")
            if entry.get("each") is None:
                entries.append(entry)
                continue
            for element in entry["each"]:
                if not isinstance(element, dict):
                    raise AnsibleActionFail("pag_files: the elements of each must be dictionaries")
                # A field that names a file must stay one file name: no directory, no way out of the directory.
                try:
                    named = dict((key, to_text(entry[key]).format_map(_FileNames(element)))
                                 for key in ("path", "changed_mark") if entry.get(key) is not None)
                except (KeyError, ValueError) as exc:
                    raise AnsibleActionFail("pag_files: cannot name a path from %s: %s" % (entry["path"], exc))
                # Only the named field is reported: the element may hold what a secret file is made of.
                label = element.get(entry["label"]) if entry.get("label") else None
                entries.append(dict(entry, each=None, vars=dict(entry.get("vars") or {}, item=element), label=label,
                                    **named))
        paths = []
        for entry in entries:
            item = {k: v for k, v in entry.items() if k not in _CONTROLLER_KEYS}
            text = None
            if entry.get("template") is not None:
                template = entry["template"]
                if entry.get("role") is not None:
                    template = self._role_template(entry["role"], template, task_vars)
                text = self._render(template, entry.get("vars"), task_vars)
            if text is not None:
                item["secret_content" if entry.get("secret") else "content"] = text
            elif entry.get("secret") and "content" in item:
                item["secret_content"] = item.pop("content")
            paths.append(item)
        args["paths"] = paths
        result.update(self._execute_module(module_name="pag_files", module_args=args, task_vars=task_vars))
        return result
