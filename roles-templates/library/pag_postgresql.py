#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pag-ansible contributors
# MIT License
"""Converge the local PostgreSQL cluster that holds Prefect's database in one task (one round trip, not six)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: pag_postgresql
short_description: Converge the settings, pg_hba.conf lines, role and database of a local PostgreSQL cluster
description:
  - Runs on the database host as root, and talks to the cluster with C(psql) as the C(postgres) user over its Unix
    socket. Does, in order and in one module run, what six tasks did before (see RV(results), one entry each).
  - Reads the running cluster's state in one query (retried while PostgreSQL starts).
  - Writes O(settings.content) to C(conf.d/<settings.name>) beside the cluster's C(postgresql.conf), and fails
    when that file has no active C(include_dir = 'conf.d') line (the settings would never be read).
  - A changed settings file is checked as PostgreSQL reads it, on a reload (C(pg_file_settings)) and at a start
    (C(postgres -C)); a refused file is put back as it was (or removed), and the module fails naming what
    PostgreSQL said, with the running server unchanged.
  - Puts O(hba.block) between its marker lines at the start of C(pg_hba.conf), as C(ansible.builtin.blockinfile)
    with C(insertbefore=BOF) does (the same bytes, so a file it wrote is unchanged).
  - Reloads the configuration when either file changed and waits until PostgreSQL has read it; restarts the
    service (O(service)) when a setting waits for a restart.
  - Logs in as the Prefect role the way the server will (password authentication over O(login.host)), and only
    when that fails, or the role does not own its database, or the database lacks pg_trgm, runs O(login.setup_sql)
    as the C(postgres) user and sets the role's password.
  - Secrets reach psql on its standard input or in its environment, never on a command line.
version_added: "0.1.0"
author: pag-ansible
options:
  port: {description: Port of the cluster (selects the cluster's socket)., type: int, required: true}
  service: {description: systemd service restarted when a setting waits for a restart., type: str, required: true}
  settings:
    description: The drop-in settings file.
    type: dict
    required: true
    suboptions:
      name: {description: File name in the cluster's conf.d directory., type: str, required: true}
      content: {description: Text of the file., type: str, required: true}
  hba:
    description: Lines kept at the start of the cluster's pg_hba.conf.
    type: dict
    required: true
    suboptions:
      block: {description: The lines., type: str, required: true}
      marker: {description: "Marker line, with C({mark}) for BEGIN and END.", type: str, required: true}
  login:
    description: The Prefect role, its database and how the server connects.
    type: dict
    required: true
    suboptions:
      host: {description: Address the server connects to., type: str, default: 127.0.0.1}
      port: {description: Port the server connects to., type: int, required: true}
      user: {description: Role name., type: str, required: true}
      database: {description: Database name., type: str, required: true}
      password: {description: The role's password., type: str, required: true, no_log: true}
      setup_sql:
        description:
          - psql script run as C(postgres) with C(pag_role) and C(pag_db) set when the login check fails; it prints
            C(CHANGED <what>) for each change.
        type: str
        required: true
  retries: {description: Tries of the state query while PostgreSQL starts (2 s apart)., type: int, default: 15}
notes:
  - Supports check mode and diff mode. In check mode nothing is written, reloaded, restarted or created; the login
    check still runs (it changes nothing).
"""

RETURN = r"""
state:
  description: What the running cluster said before any change.
  type: dict
  returned: success
  sample: {"config_file": "/etc/postgresql/17/main/postgresql.conf", "hba_file": "/etc/postgresql/17/main/pg_hba.conf",
           "major": 17, "pending_restart": []}
results:
  description: One entry per step, in order, each with C(item) and C(changed).
  type: list
  elements: dict
  returned: always
  sample: [{"item": "settings", "path": "/etc/postgresql/17/main/conf.d/pag-ansible.conf", "changed": false,
            "content_changed": false},
           {"item": "hba", "path": "/etc/postgresql/17/main/pg_hba.conf", "changed": false},
           {"item": "reload", "changed": false},
           {"item": "restart", "changed": false, "settings": []},
           {"item": "database", "changed": false, "created": []},
           {"item": "password", "changed": false}]
"""

import json
import os
import pwd
import stat
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule

# One query for what the steps read from the running cluster: its configuration and authentication files, its major
# version, when it last loaded its configuration, the settings waiting for a restart, and whether postgresql.conf
# has an active include_dir line naming conf.d (relative or absolute).
STATE_SQL = r"""
SELECT pg_catalog.json_build_object(
  'config_file', pg_catalog.current_setting('config_file'),
  'hba_file', pg_catalog.current_setting('hba_file'),
  'major', pg_catalog.current_setting('server_version_num')::int / 10000,
  'loaded', pg_catalog.pg_conf_load_time()::text,
  'pending_restart', coalesce((SELECT pg_catalog.json_agg(name ORDER BY name) FROM pg_catalog.pg_settings
                               WHERE pending_restart), '[]'::json),
  'reads_conf_d', pg_catalog.pg_read_file(pg_catalog.current_setting('config_file')) ~ (
    '(?n)^[[:space:]]*include_dir[[:space:]]*=?[[:space:]]*''(conf\.d|'
    || pg_catalog.regexp_replace(
         pg_catalog.regexp_replace(pg_catalog.current_setting('config_file'), '/[^/]*$', '') || '/conf.d',
         '([^[:alnum:]/_-])', '\\\1', 'g')
    || ')'''));
"""

# pg_file_settings reads the files as they are now: an unknown name has an error there, and a value that cannot be
# applied reads "setting could not be applied" (in English: lc_messages is set for this session). That is a bad
# value, unless the setting needs a restart (context postmaster: shared_buffers, max_connections), whose new value a
# reload never applies: postgres -C checks those.
FILE_ERRORS_SQL = r"""
SET lc_messages TO 'C';
SELECT f.name || ' (line ' || f.sourceline || '): ' || f.error
FROM pg_catalog.pg_file_settings f LEFT JOIN pg_catalog.pg_settings s ON s.name = f.name
WHERE f.sourcefile = :'pag_file' AND f.error IS NOT NULL
  AND (f.error <> 'setting could not be applied' OR s.context IS DISTINCT FROM 'postmaster')
ORDER BY f.sourceline;
"""

# After a reload: whether the server has read the files (a new session inherits the postmaster's load time), and
# which settings wait for a restart.
AFTER_RELOAD_SQL = r"""
SELECT pg_catalog.json_build_object(
  'loaded', pg_catalog.pg_conf_load_time() > :'pag_before'::timestamptz,
  'pending_restart', coalesce((SELECT pg_catalog.json_agg(name ORDER BY name) FROM pg_catalog.pg_settings
                               WHERE pending_restart), '[]'::json));
"""

# Asked as the Prefect role: does it own its database, and has the database pg_trgm?
LOGIN_SQL = r"""
SELECT pg_catalog.pg_get_userbyid(d.datdba) = current_user
       AND EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_trgm')
FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database();
"""


class Cluster(object):
    """psql as the postgres user on the cluster's socket; the script and its secrets on stdin."""

    def __init__(self, module, port):
        self.module = module
        self.port = port

    def run(self, sql, variables=None, database="postgres"):
        argv = ["runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-A", "-t", "-p", str(self.port),
                "-v", "ON_ERROR_STOP=1"]
        for name, value in sorted((variables or {}).items()):
            argv += ["-v", "%s=%s" % (name, value)]
        argv += ["-d", database, "-f", "-"]
        return self.module.run_command(argv, data=sql, binary_data=True, cwd="/")

    def must(self, what, sql, variables=None):
        rc, out, err = self.run(sql, variables)
        if rc != 0:
            self.module.fail_json(msg="%s failed: %s" % (what, (err or out).strip()), rc=rc)
        return out


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def _write(path, data, like=None, uid=None, gid=None, mode=0o644):
    """Atomic write: a temporary file in the same directory renamed over the path, with like's owner and mode."""
    if like is not None:
        uid, gid, mode = like.st_uid, like.st_gid, stat.S_IMODE(like.st_mode)
    fd, tmp = tempfile.mkstemp(prefix=".pag-", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chown(tmp, uid, gid)
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def _text(data):
    return data.decode("utf-8", "replace") if data is not None else ""


def with_block(original, block, marker):
    """pg_hba.conf with the marked block at its start, or in place of the block already there (blockinfile's bytes)."""
    begin, end = marker.replace("{mark}", "BEGIN"), marker.replace("{mark}", "END")
    lines = _text(original).splitlines(True)
    wanted = [begin + "\n"] + [line + "\n" for line in block.splitlines()] + [end + "\n"]
    stripped = [line.rstrip("\r\n") for line in lines]
    if begin in stripped and end in stripped[stripped.index(begin):]:
        first = stripped.index(begin)
        last = first + stripped[first:].index(end)
        lines[first:last + 1] = wanted
    else:
        lines[0:0] = wanted
    return "".join(lines).encode("utf-8")


def read_state(module, cluster, retries, service):
    """The cluster's state, asked until PostgreSQL answers (it may still be starting)."""
    for attempt in range(max(retries, 1)):
        rc, out, err = cluster.run(STATE_SQL)
        if rc == 0:
            return json.loads(out)
        if attempt + 1 < retries:
            time.sleep(2)
    module.fail_json(msg="PostgreSQL on port %s did not answer in %d tries 2 s apart (psql: %s): its log says why, "
                         "journalctl -u %s" % (cluster.port, retries, (err or out).strip(), service), rc=rc)


def settings_refusal(module, cluster, state, path):
    """What PostgreSQL says against the settings file as it is now, on a reload or at a start; '' when nothing."""
    out = cluster.must("Reading pg_file_settings", FILE_ERRORS_SQL, {"pag_file": path})
    errors = [line for line in out.splitlines() if line.strip()]
    if errors:
        return "; ".join(errors)
    # A new value of a setting that waits for a restart is read only when PostgreSQL starts, and a bad one would keep
    # it from starting: the server binary reads the configuration as a start would and prints one setting, or stops
    # on the first bad value (a running cluster allows -C).
    rc, out, err = module.run_command(
        ["runuser", "-u", "postgres", "--", "/usr/lib/postgresql/%d/bin/postgres" % state["major"],
         "-D", os.path.dirname(state["config_file"]), "-C", "shared_buffers"], cwd="/")
    return "" if rc == 0 else (err or out).strip()


def converge_settings(module, cluster, state, spec, check, diffs):
    """Writes the drop-in file (and conf.d); puts the previous one back and fails if PostgreSQL refuses it."""
    confd = os.path.join(os.path.dirname(state["config_file"]), "conf.d")
    path = os.path.join(confd, spec["name"])
    wanted = spec["content"].encode("utf-8")
    pw = pwd.getpwnam("postgres")
    changed = False
    if not os.path.isdir(confd):
        changed = True
        diffs.append({"before_header": confd, "after_header": confd, "before": "absent\n",
                      "after": "0755 postgres:postgres\n"})
        if not check:
            os.makedirs(confd)
            os.chown(confd, pw.pw_uid, pw.pw_gid)
            os.chmod(confd, 0o755)
    exists = os.path.lexists(path)
    st = os.lstat(path) if exists else None
    if exists and not stat.S_ISREG(st.st_mode):
        module.fail_json(msg="%s exists and is not a regular file" % path)
    old = _read(path) if exists else None
    right_attrs = exists and (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (pw.pw_uid, pw.pw_gid, 0o644)
    content_changed = old != wanted
    result = {"item": "settings", "path": path, "changed": True, "content_changed": content_changed}
    if not content_changed and right_attrs:
        return dict(result, changed=changed)
    header = {"before_header": path, "after_header": path}
    if content_changed:
        diffs.append(dict(header, before=_text(old), after=spec["content"]))
    else:
        diffs.append(dict(header, before="%04o %d:%d\n" % (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid),
                          after="0644 postgres:postgres\n"))
    if check:
        return result
    _write(path, wanted, uid=pw.pw_uid, gid=pw.pw_gid, mode=0o644)
    if content_changed:
        refusal = settings_refusal(module, cluster, state, path)
        if refusal:
            if old is None:
                os.unlink(path)
            else:
                _write(path, old, like=st)
            module.fail_json(
                msg="PostgreSQL refuses prefect_database.postgresql_conf (the previous %s is back, the running server "
                    "is unchanged): %s. Fix these settings in the inventory and run again." % (path, refusal))
    return result


def converge_hba(module, state, spec, check, diffs):
    path = state["hba_file"]
    old = _read(path)
    if old is None:
        module.fail_json(msg="Cannot read %s, the cluster's pg_hba.conf" % path)
    new = with_block(old, spec["block"], spec["marker"])
    if new == old:
        return {"item": "hba", "path": path, "changed": False}
    diffs.append({"before_header": path, "after_header": path, "before": _text(old), "after": _text(new)})
    if not check:
        _write(path, new, like=os.stat(path))
    return {"item": "hba", "path": path, "changed": True}


def reload_and_wait(module, cluster, state):
    """Reloads the configuration, waits until the server has read it, and returns the settings waiting for a restart."""
    cluster.must("Reloading PostgreSQL's configuration", "SELECT pg_catalog.pg_reload_conf();")
    for _attempt in range(40):
        answer = json.loads(cluster.must("Reading PostgreSQL's state after the reload", AFTER_RELOAD_SQL,
                                         {"pag_before": state["loaded"]}))
        if answer["loaded"]:
            return answer["pending_restart"]
        time.sleep(0.5)
    module.fail_json(msg="PostgreSQL on port %s did not read its configuration within 20 s of a reload" % cluster.port)


def converge_database(module, cluster, spec, check):
    """The login check as the server will log in; the role, database, pg_trgm and password only when it fails."""
    env = {"PGPASSWORD": spec["password"], "PGCONNECT_TIMEOUT": "10"}
    rc, out, err = module.run_command(
        ["psql", "-X", "-A", "-t", "-q", "-w", "-h", spec["host"], "-p", str(spec["port"]), "-U", spec["user"],
         "-d", spec["database"], "-f", "-"], data=LOGIN_SQL, environ_update=env, cwd="/")
    logged_in = rc == 0
    ready = logged_in and out.strip() == "t"
    database = {"item": "database", "changed": False, "created": []}
    password = {"item": "password", "changed": not logged_in}
    if not ready:
        if check:
            database["changed"] = True
        else:
            out = cluster.must("Creating the Prefect role, its database and pg_trgm", spec["setup_sql"],
                               {"pag_role": spec["user"], "pag_db": spec["database"]})
            database["created"] = [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("CHANGED ")]
            database["changed"] = bool(database["created"])
    if not logged_in and not check:
        cluster.must("Setting the Prefect role's password",
                     "ALTER ROLE :\"pag_role\" WITH LOGIN PASSWORD '%s';" % spec["password"].replace("'", "''"),
                     {"pag_role": spec["user"]})
    return database, password


def main():
    module = AnsibleModule(
        argument_spec=dict(
            port=dict(type="int", required=True),
            service=dict(type="str", required=True),
            settings=dict(type="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                content=dict(type="str", required=True),
            )),
            hba=dict(type="dict", required=True, options=dict(
                block=dict(type="str", required=True),
                marker=dict(type="str", required=True),
            )),
            login=dict(type="dict", required=True, options=dict(
                host=dict(type="str", default="127.0.0.1"),
                port=dict(type="int", required=True),
                user=dict(type="str", required=True),
                database=dict(type="str", required=True),
                password=dict(type="str", required=True, no_log=True),
                setup_sql=dict(type="str", required=True),
            )),
            retries=dict(type="int", default=15),
        ),
        supports_check_mode=True,
    )
    params, check = module.params, module.check_mode
    cluster = Cluster(module, params["port"])
    state = read_state(module, cluster, params["retries"], params["service"])
    if not state["reads_conf_d"]:
        module.fail_json(
            msg="%s has no active include_dir = 'conf.d', so the settings of prefect_database.postgresql_conf would "
                "never be read. Restore that line (Debian's postgresql.conf has it at the end), or remove "
                "postgresql_conf from the inventory and set postgresql_autotune to false." % state["config_file"])
    diffs = []
    settings = converge_settings(module, cluster, state, params["settings"], check, diffs)
    hba = converge_hba(module, state, params["hba"], check, diffs)
    reload_due = (settings["content_changed"] or hba["changed"]) and not check
    # Without a reload, the state's list stands: a restart that an interrupted run left pending still happens.
    pending = reload_and_wait(module, cluster, state) if reload_due else state["pending_restart"]
    reload = {"item": "reload", "changed": reload_due}
    restart = {"item": "restart", "changed": bool(pending), "settings": pending}
    if pending:
        diffs.append({"before_header": params["service"], "after_header": params["service"],
                      "before": "running\n", "after": "restarted for %s\n" % ", ".join(pending)})
        if not check:
            rc, out, err = module.run_command(["systemctl", "restart", "--", params["service"]])
            if rc != 0:
                module.fail_json(msg="systemctl restart %s failed: %s" % (params["service"], (err or out).strip()))
            # The login below needs the cluster back.
            read_state(module, cluster, params["retries"], params["service"])
    database, password = converge_database(module, cluster, params["login"], check)
    results = [settings, hba, reload, restart, database, password]
    module.exit_json(changed=any(r["changed"] for r in results), state=state, results=results, diff=diffs)


if __name__ == "__main__":
    main()
