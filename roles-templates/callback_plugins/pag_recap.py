# -*- coding: utf-8 -*-
# Copyright: pag-ansible contributors
# MIT License
"""Write the play recap as JSON for pag-ansible."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = """
    name: pag_recap
    type: notification
    short_description: Write the play recap as JSON to a file
    description:
      - >-
        At the end of a playbook, writes a JSON object C({"hosts": {HOST: {"ok": N, "changed": N, "failures": N,
        "unreachable": N, "skipped": N, "rescued": N, "ignored": N}}}) to the file named by the environment
        variable PAG_ANSIBLE_RECAP_FILE. Does nothing when that variable is unset.
      - pag-ansible enables it with ANSIBLE_CALLBACKS_ENABLED=pag_recap.
    requirements:
      - enable in configuration
"""

import json
import os
import tempfile

from ansible.plugins.callback import CallbackBase

_COUNTERS = ("ok", "changed", "failures", "unreachable", "skipped", "rescued", "ignored")


class CallbackModule(CallbackBase):
    """Notification callback writing the stats of the playbook as JSON."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "pag_recap"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("PAG_ANSIBLE_RECAP_FILE")
        if not path:
            return
        hosts = {}
        for host in sorted(stats.processed.keys()):
            summary = stats.summarize(host)
            hosts[host] = {name: int(summary.get(name, 0)) for name in _COUNTERS}
        data = json.dumps({"hosts": hosts}, indent=2, sort_keys=True) + "\n"
        directory = os.path.dirname(os.path.abspath(path))
        try:
            # Write beside the target and rename, so a reader never sees half a file.
            fd, tmp = tempfile.mkstemp(prefix=".pag-recap-", dir=directory)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(data)
                os.chmod(tmp, 0o600)
                os.replace(tmp, path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError as exc:
            self._display.warning("pag_recap: cannot write %s: %s" % (path, exc))
