# -*- coding: utf-8 -*-
# Copyright: pag-ansible contributors
# MIT License
"""Controller side of pag_files: renders the template entries, then answers from a read-only check on the host, or
runs the module once."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import shlex

from ansible import constants as C
from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

try:
    # How Ansible picks a module's interpreter; private, so a release without it only loses the read-only check.
    from ansible.executor.module_common import _get_shebang
except ImportError:
    _get_shebang = None

display = Display()

# Keys of an entry that only the controller reads.
_CONTROLLER_KEYS = ("template", "vars", "secret", "each", "role")


# Runs the module's file on the host as a program of the standard library only, and calls its read-only check with the
# arguments (read from stdin with the program, like a pipelined module's, so never in a command line).
_READ_ONLY_PROGRAM = """import json
namespace = {"__name__": "pag_files_read_only"}
exec(compile(%r, "pag_files.py", "exec"), namespace)
namespace["read_only_check"](json.loads(%r))
"""


class _LookupVariables(dict):
    """The task's variables as given to the template lookup. The lookup deep-copies them for each template only to add
    a few names of its own (ansible_managed, template_path, its template_vars), and its own comment asks why that is
    not a layer over them instead: a copy of the top level does the same for a fraction of the CPU."""

    def __deepcopy__(self, memo):
        return dict(self)


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
    roles (roles/ beside the playbook, then roles_path), instead of the task's role.

    Before the module, a read-only check: the module's own code, run in check mode by the host's Python with the
    standard library only. When it finds nothing to change, its result is the task's; otherwise, or when it cannot run
    (no pipelining, an interpreter not yet discovered, arguments that AnsibleModule would convert), the module runs."""

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
        lookup_variables = _LookupVariables(task_vars)
        for entry in entries:
            item = {k: v for k, v in entry.items() if k not in _CONTROLLER_KEYS}
            text = None
            if entry.get("template") is not None:
                template = entry["template"]
                if entry.get("role") is not None:
                    template = self._role_template(entry["role"], template, task_vars)
                text = self._render(template, entry.get("vars"), lookup_variables)
            if text is not None:
                item["secret_content" if entry.get("secret") else "content"] = text
            elif entry.get("secret") and "content" in item:
                item["secret_content"] = item.pop("content")
            paths.append(item)
        args["paths"] = paths
        unchanged = self._read_only_check(args, task_vars)
        if unchanged is not None:
            display.vvv("pag_files: nothing to change (read-only check)", host=task_vars.get("inventory_hostname"))
            result.update(unchanged)
            return result
        result.update(self._execute_module(module_name="pag_files", module_args=args, task_vars=task_vars))
        return result

    def _read_only_command(self, task_vars):
        """The command that runs the read-only check, as the module would be run (same Python, environment and become),
        or None where it cannot run like that."""
        if _get_shebang is None or self._task.delegate_to or self._task.async_val or not self._is_pipelining_enabled("new"):
            return None
        if getattr(self._connection._shell, "SHELL_FAMILY", None) != "sh":
            return None
        try:
            # As the module's shebang is chosen: the interpreter variable, ansible.cfg, or the discovered one.
            _shebang, interpreter = _get_shebang("/usr/bin/python", task_vars, self._templar)
        except Exception:  # pylint: disable=broad-except
            # Discovery not run yet on this host, or Ansible changed: the module's own run discovers it.
            return None
        if not re.match(r"^/[A-Za-z0-9_./+-]+$", to_text(interpreter)):
            return None
        environment = self._compute_environment_string()
        # -I -S: no user site, no PYTHON* variables, no site-packages; the check needs the standard library only.
        return " ".join(part for part in (environment, shlex.quote(to_text(interpreter)), "-I -S -") if part)

    def _read_only_check(self, args, task_vars):
        """The module's result when the host needs no change, or None when the module must run."""
        command = self._read_only_command(task_vars)
        if command is None:
            return None
        found = self._shared_loader_obj.module_loader.find_plugin("pag_files")
        if not found:
            return None
        with open(found, "r") as handle:
            source = handle.read()
        try:
            program = _READ_ONLY_PROGRAM % (source, json.dumps(args))
        except (TypeError, ValueError):
            return None
        response = self._low_level_execute_command(command, sudoable=True, in_data=to_bytes(program))
        if response.get("rc") != 0:
            return None
        try:
            answer = json.loads(response.get("stdout") or "")
        except ValueError:
            return None
        if not isinstance(answer, dict) or answer.get("unchanged") is not True or not isinstance(answer.get("result"), dict):
            return None
        return answer["result"]
