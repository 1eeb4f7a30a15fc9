# -*- coding: utf-8 -*-
# Copyright: pag-ansible contributors
# MIT License
"""pag_pack_dir: packs a directory of the controller into a reproducible tar archive (see library/pag_pack_dir.py).

Runs on the controller only: nothing reaches the managed host. The archive's bytes depend only on the names and
contents of the files (sorted names, owner root, mtime 0), so an unchanged directory gives the same archive and the
copy that follows reports ok. A listing of names, sizes and modification times is kept beside the archive: while it
matches, the directory is not read again."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import json
import os
import stat
import tarfile
import tempfile

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase


def _walk(src):
    """(relative path, is_dir, size, mtime_ns) of everything under src, in a fixed order; symbolic links followed."""
    entries = []
    for root, dirs, files in os.walk(src, followlinks=True):
        dirs.sort()
        rel_root = os.path.relpath(root, src)
        for name in sorted(dirs):
            rel = os.path.normpath(os.path.join(rel_root, name))
            entries.append((rel, True, 0, 0))
        for name in sorted(files):
            full = os.path.join(root, name)
            st = os.stat(full)
            if not stat.S_ISREG(st.st_mode):
                raise AnsibleActionFail("pag_pack_dir: %s is neither a file nor a directory: remove it from %s" % (full, src))
            entries.append((os.path.normpath(os.path.join(rel_root, name)), False, st.st_size, st.st_mtime_ns))
    return sorted(entries)


def _info(name, is_dir, size=0):
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if is_dir else tarfile.REGTYPE
    info.mode = 0o755 if is_dir else 0o644
    info.size = size
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def _pack(src, name, entries, out):
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        tar.addfile(_info(name, True))
        for rel, is_dir, _size, _mtime in entries:
            member = "%s/%s" % (name, rel.replace(os.sep, "/"))
            if is_dir:
                tar.addfile(_info(member, True))
                continue
            with open(os.path.join(src, rel), "rb") as f:
                # The size read now, not the listing's: a file written meanwhile must not make a corrupt member.
                size = os.fstat(f.fileno()).st_size
                tar.addfile(_info(member, False, size), f)


def _read(path):
    try:
        with io.open(path, encoding="utf-8") as f:
            return f.read()
    except (IOError, OSError):
        return None


def _write_atomic(path, write):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".%s." % os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("src", "dest", "name"))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self._task.args
        src, dest, name = (to_text(args.get(k) or "") for k in ("src", "dest", "name"))
        if not src or not dest or not name:
            raise AnsibleActionFail("pag_pack_dir: src, dest and name are required")
        if "/" in name or name in (".", ".."):
            raise AnsibleActionFail("pag_pack_dir: name %r must be one plain file name" % name)
        if not os.path.isdir(src):
            raise AnsibleActionFail("pag_pack_dir: %s is not a directory on the controller" % src)
        dest = os.path.abspath(dest)
        listing_file = dest + ".listing"
        # Check mode writes too: the archive is the controller's cache, not a change to any host, and the copy task
        # after this one needs it to tell whether the host is current.
        try:
            if not os.path.isdir(os.path.dirname(dest)):
                os.makedirs(os.path.dirname(dest))
            entries = _walk(src)
            listing = json.dumps({"name": name, "src": os.path.abspath(src), "entries": entries}, sort_keys=True)
            # Never `changed`: the archive is the controller's cache, and what it changes on a host is the copy's
            # to report. A lost cache (another controller, a fresh checkout) must not make a current cluster look
            # changed.
            result.update(dest=dest, files=sum(1 for e in entries if not e[1]), changed=False, packed=False)
            if os.path.isfile(dest) and _read(listing_file) == listing:
                return result
            _write_atomic(dest, lambda f: _pack(src, name, entries, f))
            _write_atomic(listing_file, lambda f: f.write(listing.encode("utf-8")))
            result["packed"] = True
        except (IOError, OSError) as e:
            raise AnsibleActionFail("pag_pack_dir: cannot pack %s into %s: %s" % (src, dest, e))
        return result
