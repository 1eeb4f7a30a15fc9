#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pag-ansible contributors
# MIT License
"""Converge many files, directories and links of a host in one task (one round trip instead of one per file)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: pag_files
short_description: Converge a host's system account, directories, files, links and services in one task
description:
  - Brings each listed path to its state (directory, file with given content, symbolic link, absent) with its owner,
    group and mode, in order, in one module run. Every path is reported in RV(results); RV(diff) has one entry per
    changed path.
  - Writes are atomic (a temporary file in the same directory, renamed over the path).
  - Optionally makes sure a system group and user exist first, and lists paths matching glob patterns as they were
    before any change (RV(found)).
  - Optionally returns the SHA-256 checksum of listed files as they were before any change (RV(checksums)), so that
    the controller can tell whether a copy of its own file on the host is current without a task per file.
  - Optionally tells which of a list of Debian packages are not installed (RV(packages_missing)), reading dpkg's
    status only, so that the apt task after it runs only when there is something to install.
  - Optionally enables and starts (or stops) systemd services after the paths (O(services)), reloading systemd
    first when a path this task changed is a unit file, so a worker whose unit was just written starts in the same
    round trip. Each service is reported in RV(service_results).
  - Its action plugin renders C(template) entries on the controller (the template lookup, with the entry's
    C(vars)), so a task gives templates as the template module does. An entry with C(secret) gets its content as
    O(paths[].secret_content). An entry with C(each) stands for one path per element of a list, and one with C(role)
    takes its template from that role (see the action plugin). O(merge) adds the files another role gives.
version_added: "0.1.0"
author: pag-ansible
options:
  account:
    description: A system group and user to create (or correct) before the paths.
    type: dict
    suboptions:
      user: {description: User name., type: str, required: true}
      group: {description: Primary group (created as a system group)., type: str, required: true}
      home: {description: Home directory (not created)., type: path, required: true}
      shell: {description: Login shell., type: path, default: /usr/sbin/nologin}
  find:
    description: Glob patterns; the paths they matched before this task changed anything are returned in RV(found).
    type: list
    elements: path
    default: []
  checksums:
    description: Files whose SHA-256, before this task changed anything, is returned in RV(checksums).
    type: list
    elements: path
    default: []
  packages:
    description:
      - Debian package names to look up in dpkg's status (read only; nothing is installed).
      - A name with a version or a wildcard (C(=), C(*), C(?)) is always reported missing, for apt to decide.
    type: list
    elements: str
    default: []
  paths:
    description: The paths, converged in order.
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: Absolute path., type: path, required: true}
      state:
        description: What the path must be.
        type: str
        choices: [directory, file, link, absent]
        default: file
      content: {description: Text of a file., type: str}
      secret_content: {description: Text of a file that holds secrets (never shown; no diff)., type: str, no_log: true}
      src: {description: Target of a link., type: path}
      owner: {description: Owner name., type: str, default: root}
      group: {description: Group name., type: str, default: root}
      mode: {description: Octal mode as a string., type: str}
      label: {description: Returned as is with the path's result, to tell the items apart., type: raw}
      changed_mark:
        description:
          - A path created empty (owner root, mode 0600) right after this entry changed a path that existed before the
            task, unless it exists; not in check mode. A mark for a later task (a restart owed to a changed
            configuration), made in the same step as the change so that a run stopped in between still leaves it.
          - For an entry with C(each), formatted with the element's fields as C(path) is (see the action plugin).
        type: path
      requires:
        description:
          - A glob pattern. The entry is converged only when a path matches it at that point of the task; otherwise
            the path is left as it is and its result has C(skipped=true).
          - For a link to a directory that a later task may still have to complete.
        type: str
  services:
    description:
      - systemd services to converge after the paths, in order. Their states are read with one C(systemctl show).
      - A masked service, or one systemd cannot find (outside check mode), fails the task.
    type: dict
    suboptions:
      names: {description: Unit names (C(prefect-worker-cpu.service))., type: list, elements: str, required: true}
      enabled: {description: Whether the services start at boot., type: bool, default: true}
      state: {description: Whether the services run., type: str, choices: [started, stopped], default: started}
      existing_only:
        description:
          - Converge only the services that systemd knew before this task wrote anything. One whose unit file the task
            writes for the first time is left as it is, for a later task to start (when what it needs is up), and
            reported with C(skipped=true).
        type: bool
        default: false
  merge:
    description:
      - Files that another role gives this task, read by the action plugin, which passes them on as the task's own.
      - Its C(find) patterns and C(paths) come after the task's, and its C(services) (as O(services)) apply when the task
        gives none; both giving services fails the task.
      - One argument, so that a task templates the other role's variables once, not once for each part.
    type: dict
    suboptions:
      find: {description: Glob patterns, as O(find)., type: list, elements: str}
      paths: {description: Entries, as O(paths)., type: list, elements: dict}
      services: {description: Services, as O(services)., type: dict}
notes:
  - Supports check mode and diff mode.
  - With pipelining, the action plugin first runs this file's code read-only on the host, in check mode and with the
    standard library only (no module payload to unpack and compile). When that finds nothing to change, its result is
    the task's; anything else (a change, a failure, arguments AnsibleModule would convert) runs the module as usual.
"""

RETURN = r"""
results:
  description: One entry per path, in order; C(skipped=true) for an entry whose O(paths[].requires) matched nothing.
  type: list
  elements: dict
  returned: always
  sample: [{"path": "/etc/prefect/client.env", "state": "file", "changed": false, "label": null}]
found:
  description: The paths matched by O(find) before any change, sorted.
  type: list
  elements: str
  returned: always
checksums:
  description: For each path of O(checksums), the hex SHA-256 of its content, or null when it is not a regular file.
  type: dict
  returned: always
  sample: {"/opt/prefect/api-ca.crt": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}
account_changed:
  description: Whether the system group or user was created or corrected.
  type: bool
  returned: always
packages_missing:
  description: The names of O(packages) that dpkg does not list as installed, in their order.
  type: list
  elements: str
  returned: always
service_results:
  description: One entry per name of O(services.names), in order, with what was done to it.
  type: list
  elements: dict
  returned: always
  sample: [{"name": "prefect-worker-cpu.service", "changed": true, "enabled": true, "disabled": false, "started": true,
            "stopped": false}]
marked:
  description: The O(paths[].changed_mark) paths this task created.
  type: list
  elements: str
  returned: always
"""

import errno
import glob
import grp
import hashlib
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile

try:
    from ansible.module_utils.basic import AnsibleModule
except ImportError:
    # The action plugin's read-only check runs this file with the standard library only (read_only_check).
    AnsibleModule = None

HIDDEN = "[content hidden: it holds secrets]\n"


def _uid(name):
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        return None


def _gid(name):
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


def _ensure_account(module, account, check):
    """Creates or corrects a system group and user; returns the list of commands it ran (or would run)."""
    commands = []
    group, user = account["group"], account["user"]
    if _gid(group) is None:
        commands.append(["groupadd", "--system", group])
    entry = None
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        pass
    if entry is None:
        commands.append(["useradd", "--system", "--gid", group, "--home-dir", account["home"], "--no-create-home",
                         "--shell", account["shell"], user])
    else:
        fix = []
        gid = _gid(group)
        if gid is None or entry.pw_gid != gid:
            fix += ["--gid", group]
        if entry.pw_dir != account["home"]:
            fix += ["--home", account["home"]]
        if entry.pw_shell != account["shell"]:
            fix += ["--shell", account["shell"]]
        if fix:
            commands.append(["usermod"] + fix + [user])
    if not check:
        for argv in commands:
            rc, out, err = module.run_command(argv)
            if rc != 0:
                module.fail_json(msg="%s failed: %s" % (argv[0], (err or out).strip()), rc=rc)
    return commands


def _missing_packages(module, names):
    """The names dpkg does not list as installed (status "?i"); all of them when dpkg-query cannot tell."""
    plain = [n for n in names if not any(c in n for c in "=*?")]
    installed = set()
    if plain:
        # Exit 1 with names it does not know is expected: the known ones are still printed.
        rc, out, _err = module.run_command(["dpkg-query", "-W", "-f", "${binary:Package}\t${Package}\t${db:Status-Abbrev}\n", "--"] + plain)
        if rc in (0, 1):
            for line in out.splitlines():
                fields = line.split("\t")
                if len(fields) == 3 and fields[2][1:2] == "i":
                    installed.update(fields[:2])
    return [n for n in names if n not in installed]


def _ids(module, item, check):
    uid, gid = _uid(item["owner"]), _gid(item["group"])
    if (uid is None or gid is None) and not check:
        module.fail_json(msg="%s: owner %s or group %s does not exist" % (item["path"], item["owner"], item["group"]))
    return uid, gid


def _attrs_differ(st, uid, gid, mode):
    return ((uid is None or st.st_uid != uid) or (gid is None or st.st_gid != gid)
            or (mode is not None and stat.S_IMODE(st.st_mode) != mode))


def _describe(st):
    """Mode and ownership as a diff shows them: 0750 prefect:prefect."""
    try:
        owner = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        owner = str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    return "%04o %s:%s\n" % (stat.S_IMODE(st.st_mode), owner, group)


def _wanted(item):
    return "%s %s:%s\n" % (item.get("mode") or "(mode kept)", item["owner"], item["group"])


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def _sha256(path):
    """The hex SHA-256 of a regular file (links followed), or None."""
    if not os.path.isfile(path):
        return None
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except (IOError, OSError):
        return None
    return digest.hexdigest()


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def _converge(module, item, check):
    """Brings one path to its state; returns (changed, diff or None)."""
    path, state = item["path"], item["state"]
    mode = int(item["mode"], 8) if item.get("mode") else None
    exists = os.path.lexists(path)
    st = os.lstat(path) if exists else None
    header = {"before_header": path, "after_header": path}

    if state == "absent":
        if not exists:
            return False, None
        if not check:
            _remove(path)
        return True, dict(header, before="%s present\n" % path, after="%s absent\n" % path)

    uid, gid = _ids(module, item, check)

    if state == "directory":
        if exists and not stat.S_ISDIR(st.st_mode):
            module.fail_json(msg="%s exists and is not a directory" % path)
        if exists and not _attrs_differ(st, uid, gid, mode):
            return False, None
        if not check:
            if not exists:
                os.makedirs(path)
            os.chown(path, uid, gid)
            if mode is not None:
                os.chmod(path, mode)
        return True, dict(header, before=_describe(st) if exists else "absent\n", after=_wanted(item))

    if state == "link":
        target = item.get("src")
        if target is None:
            module.fail_json(msg="%s: a link needs src" % path)
        if exists and stat.S_ISDIR(st.st_mode):
            module.fail_json(msg="%s is a directory, not a link" % path)
        current = os.readlink(path) if exists and stat.S_ISLNK(st.st_mode) else None
        if current == target and not _attrs_differ(st, uid, gid, None):
            return False, None
        if not check:
            tmp = "%s.pag-tmp-%d" % (path, os.getpid())
            os.symlink(target, tmp)
            os.lchown(tmp, uid, gid)
            os.rename(tmp, path)
        return True, dict(header, before="-> %s\n" % current if current else "absent\n", after="-> %s\n" % target)

    secret = item.get("secret_content") is not None
    text = item.get("secret_content") if secret else item.get("content")
    if text is None:
        module.fail_json(msg="%s: a file needs content" % path)
    wanted = text.encode("utf-8")
    if exists and not stat.S_ISREG(st.st_mode):
        module.fail_json(msg="%s exists and is not a regular file" % path)
    old = _read(path) if exists else None
    content_differs = old != wanted
    if not content_differs and not _attrs_differ(st, uid, gid, mode):
        return False, None
    if not check:
        directory = os.path.dirname(path)
        fd, tmp = tempfile.mkstemp(prefix=".pag-", dir=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(wanted)
            os.chown(tmp, uid, gid)
            # mkstemp's 0600 stands when no mode is given for a new file; an existing file keeps its own.
            os.chmod(tmp, mode if mode is not None else (stat.S_IMODE(st.st_mode) if st else 0o644))
            os.rename(tmp, path)
        except BaseException:
            if os.path.lexists(tmp):
                os.unlink(tmp)
            raise
    if not content_differs:
        return True, dict(header, before=_describe(st), after=_wanted(item))
    if secret:
        return True, dict(header, before=HIDDEN if exists else "", after=HIDDEN)
    return True, dict(header, before=old.decode("utf-8", "replace") if old is not None else "", after=text)


# Directories whose unit files systemd reads only on a daemon-reload.
UNIT_DIRS = ("/etc/systemd/system/", "/run/systemd/system/", "/usr/lib/systemd/system/", "/lib/systemd/system/")
RUNNING = ("active", "activating", "reloading")
# What `systemctl is-enabled` answers 0 for, less enabled-runtime (gone at the next boot).
ENABLED = ("enabled", "static", "alias", "indirect", "generated")


def _mark(path):
    """Creates PATH empty (root, 0600) unless it exists; returns whether it created it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        if exc.errno == errno.EEXIST:
            return False
        raise
    os.close(fd)
    return True


def _systemctl(module, *args):
    rc, out, err = module.run_command(["systemctl"] + list(args))
    if rc != 0:
        module.fail_json(msg="systemctl %s failed: %s" % (" ".join(args), (err or out).strip()), rc=rc)
    return out


def _unit_states(module, names):
    """LoadState, ActiveState and UnitFileState of each name, in order, from one `systemctl show`."""
    out = _systemctl(module, "show", "--property=LoadState,ActiveState,UnitFileState", "--", *names)
    blocks = [dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
              for block in out.strip("\n").split("\n\n")]
    if len(blocks) != len(names):
        module.fail_json(msg="systemctl show returned %d units for %d names" % (len(blocks), len(names)))
    return blocks


def _converge_services(module, spec, check, known=None):
    """Brings each service to spec's enabled and state; returns (results, diffs). With `known` (the names systemd knew
    before the task), a name not in it is left as it is (spec's existing_only)."""
    results, diffs = [], []
    names = [n for n in spec["names"] if known is None or n in known]
    states = dict(zip(names, _unit_states(module, names))) if names else {}
    for name in spec["names"]:
        if name not in states:
            results.append({"name": name, "changed": False, "skipped": True})
            continue
        unit = states[name]
        load, active, file_state = unit.get("LoadState", ""), unit.get("ActiveState", ""), unit.get("UnitFileState", "")
        if load == "masked" or file_state.startswith("masked"):
            module.fail_json(msg="%s is masked: unmask it (systemctl unmask %s) for pag-ansible to manage it" % (name, name))
        if load == "not-found" and (not check or getattr(module, "read_only", False)):
            module.fail_json(msg="systemd cannot find %s: is its unit file written?" % name)
        enable = spec["enabled"] and file_state not in ENABLED
        disable = not spec["enabled"] and file_state in ("enabled", "enabled-runtime")
        start = spec["state"] == "started" and active not in RUNNING
        stop = spec["state"] == "stopped" and active in RUNNING
        if not check:
            if enable or disable:
                _systemctl(module, "enable" if enable else "disable", "--", name)
            if start or stop:
                _systemctl(module, "start" if start else "stop", "--", name)
        changed = enable or disable or start or stop
        if changed:
            diffs.append({"before_header": name, "after_header": name,
                          "before": "%s, %s\n" % (file_state or "not found", active or "inactive"),
                          "after": "%s, %s\n" % ("enabled" if spec["enabled"] else "disabled",
                                                  "active" if spec["state"] == "started" else "inactive")})
        results.append({"name": name, "changed": changed, "enabled": enable, "disabled": disable,
                        "started": start, "stopped": stop})
    return results, diffs


PATH_SPEC = dict(
    path=dict(type="path", required=True),
    state=dict(type="str", default="file", choices=["directory", "file", "link", "absent"]),
    content=dict(type="str"),
    secret_content=dict(type="str", no_log=True),
    src=dict(type="path"),
    owner=dict(type="str", default="root"),
    group=dict(type="str", default="root"),
    mode=dict(type="str"),
    label=dict(type="raw"),
    requires=dict(type="str"),
    changed_mark=dict(type="path"),
)
ARGUMENT_SPEC = dict(
    account=dict(type="dict", options=dict(
        user=dict(type="str", required=True),
        group=dict(type="str", required=True),
        home=dict(type="path", required=True),
        shell=dict(type="path", default="/usr/sbin/nologin"),
    )),
    find=dict(type="list", elements="path", default=[]),
    checksums=dict(type="list", elements="path", default=[]),
    packages=dict(type="list", elements="str", default=[]),
    paths=dict(type="list", elements="dict", options=PATH_SPEC, default=[]),
    # Read by the action plugin, which never passes it on.
    merge=dict(type="dict"),
    services=dict(type="dict", options=dict(
        names=dict(type="list", elements="str", required=True),
        enabled=dict(type="bool", default=True),
        state=dict(type="str", choices=["started", "stopped"], default="started"),
        existing_only=dict(type="bool", default=False),
    )),
)


def converge(module):
    """Converges the host as module.params say, and exits through module.exit_json (or fail_json)."""
    check = module.check_mode
    found = sorted(set(p for pattern in module.params["find"] for p in glob.glob(pattern)))
    checksums = dict((p, _sha256(p)) for p in module.params["checksums"])
    diffs = []
    account_commands = []
    if module.params["account"]:
        account_commands = _ensure_account(module, module.params["account"], check)
        if account_commands:
            diffs.append({"before_header": "account", "after_header": "account", "before": "",
                          "after": "".join(" ".join(argv) + "\n" for argv in account_commands)})
    services = module.params["services"]
    # Read before any unit file is written: what systemd knows now is what existed before this task.
    known = None
    if services and services["existing_only"] and services["names"]:
        known = set(name for name, unit in zip(services["names"], _unit_states(module, services["names"]))
                    if unit.get("LoadState") not in ("", "not-found"))
    results = []
    marked = []
    for item in module.params["paths"]:
        if item["requires"] and not glob.glob(item["requires"]):
            results.append({"path": item["path"], "state": item["state"], "changed": False, "skipped": True,
                            "label": item.get("label")})
            continue
        existed = os.path.lexists(item["path"])
        try:
            changed, diff = _converge(module, item, check)
            if changed and existed and item["changed_mark"] and not check and _mark(item["changed_mark"]):
                marked.append(item["changed_mark"])
        except (IOError, OSError) as exc:
            module.fail_json(msg="%s: %s" % (item["path"], exc), results=results)
        if diff:
            diffs.append(diff)
        results.append({"path": item["path"], "state": item["state"], "changed": changed, "label": item.get("label")})
    service_results = []
    if services:
        # systemd reads a changed unit file only on a reload; in check mode nothing was written to read.
        if not check and any(r["changed"] and r["path"].startswith(UNIT_DIRS) for r in results):
            _systemctl(module, "daemon-reload")
        service_results, service_diffs = _converge_services(module, services, check, known)
        diffs.extend(service_diffs)
    module.exit_json(
        changed=bool(account_commands) or any(r["changed"] for r in results) or any(r["changed"] for r in service_results),
        results=results,
        found=found,
        checksums=checksums,
        account_changed=bool(account_commands),
        packages_missing=_missing_packages(module, module.params["packages"]),
        service_results=service_results,
        marked=marked,
        diff=diffs,
    )


def main():
    converge(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True))


# The read-only check. The action plugin runs this file's own code on the host before the module, with a Python of the
# standard library only, and uses its answer when the host needs no change. A re-run then costs one small process on
# the host instead of the module's payload, which spends most of its CPU compiling Ansible's libraries from a zip.


class _NotSure(Exception):
    """The check cannot vouch for an answer: the action plugin runs the module, which decides as always."""


def _normalised(spec, params):
    """PARAMS with SPEC's defaults, as AnsibleModule gives them, when every value already has its option's type.
    Whatever AnsibleModule would convert, refuse or warn about is left to it (_NotSure)."""
    if not isinstance(params, dict) or set(params) - set(spec):
        raise _NotSure()
    out = {}
    for name, option in spec.items():
        value = params.get(name)
        if value is None:
            if option.get("required") or (name in params and option.get("default") is not None):
                raise _NotSure()
            default = option.get("default")
            out[name] = list(default) if isinstance(default, list) else default
        else:
            out[name] = _typed(option, option.get("type", "str"), value)
    return out


def _typed(option, kind, value):
    if kind == "list":
        if not isinstance(value, list):
            raise _NotSure()
        return [_typed(option, option.get("elements", "str"), element) for element in value]
    if kind == "dict":
        if not isinstance(value, dict):
            raise _NotSure()
        return _normalised(option["options"], value) if option.get("options") else value
    if (kind in ("str", "path") and not isinstance(value, str)) or (kind == "bool" and not isinstance(value, bool)):
        raise _NotSure()
    if option.get("choices") and value not in option["choices"]:
        raise _NotSure()
    # AnsibleModule's type path expands variables and ~ the same way.
    return os.path.expanduser(os.path.expandvars(value)) if kind == "path" else value


class _ReadOnlyModule(object):
    """What converge() uses of AnsibleModule, for a run that writes nothing: check mode, where every failure, even one
    that check mode lets pass, ends the check."""

    check_mode = True
    read_only = True

    def __init__(self, params):
        self.params = params
        self.result = None

    @staticmethod
    def run_command(argv):
        process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = process.communicate(b"")
        return process.returncode, out.decode("utf-8", "surrogateescape"), err.decode("utf-8", "surrogateescape")

    def fail_json(self, **_result):
        raise _NotSure()

    def exit_json(self, **result):
        self.result = result


def _mentions(value, secrets):
    if isinstance(value, dict):
        return any(_mentions(k, secrets) or _mentions(v, secrets) for k, v in value.items())
    if isinstance(value, list):
        return any(_mentions(v, secrets) for v in value)
    return isinstance(value, str) and any(secret in value for secret in secrets)


def read_only_check(args):
    """Prints, as one JSON object, whether converging ARGS (the arguments the action plugin would give the module)
    changes nothing on this host, with the module's result if so: {"unchanged": true, "result": {...}}."""
    answer = {"unchanged": False}
    try:
        module = _ReadOnlyModule(_normalised(ARGUMENT_SPEC, args))
        converge(module)
        secrets = [p["secret_content"] for p in module.params["paths"] if p["secret_content"]]
        # AnsibleModule would mask a secret found in its result; such a rare result is left to it.
        if module.result is not None and not module.result["changed"] and not _mentions(module.result, secrets):
            answer = {"unchanged": True, "result": module.result}
    except _NotSure:
        pass
    sys.stdout.write(json.dumps(answer))


if __name__ == "__main__":
    main()
