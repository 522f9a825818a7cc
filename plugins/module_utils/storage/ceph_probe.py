# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The I/O of ``xinchuang.cloud.ceph_info``: asks an existing Ceph cluster, with one user's
key, through the ``ceph`` and ``rbd`` programs of Debian's ceph-common (or EL's).

Why the CLI and not python3-rados: the bindings belong to the system Python of the host's
distribution (Debian's python3-rados only imports in /usr/bin/python3), while modules run in
whatever interpreter the inventory names (the project's venv on the controller); the CLI
works under any of them, speaks the same librados, and is what a client host installs anyway.

In this order: write the key to a keyring file of mode 0600 in the module's private temporary
directory (never on a command line, never in the result); ``ceph fsid`` (the monitors answer
and accept the key: any failure here is reported as storage_ceph.connect_error words it);
``ceph osd pool ls``; ``rbd ls`` on each asked pool that exists (the OSDs accept the user's
caps on it); ``ceph fs ls`` when asked. Every call reads; nothing is written to the cluster.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible_collections.xinchuang.cloud.plugins.module_utils.storage import ceph as storage_ceph
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError


class CephProbeError(XinchuangError):
    """The cluster could not be asked; the message says why and what to check."""


def _keyring(tmpdir, user, key):
    path = os.path.join(tmpdir, "ceph-info.keyring")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("[client.%s]\n\tkey = %s\n" % (user, key.strip()))
    return path


def probe(run_command, tmpdir, params):
    """What the cluster answers to ``params`` (the module's options): fsid, pools, pool_access,
    filesystems. ``run_command`` is AnsibleModule.run_command."""
    user, monitors, timeout = params["user"], params["monitors"], params["timeout"]
    try:
        mon_arg = storage_ceph.cli_monitors(monitors)
    except storage_ceph.CephSettingsError as exc:
        raise CephProbeError(str(exc).replace("storage_ceph_monitors", "monitors"))
    problem = storage_ceph.key_problem(params["key"], user, "key")
    if problem:
        raise CephProbeError(problem)
    keyring = _keyring(tmpdir, user, params["key"])
    common = ["--conf", "/dev/null", "-m", mon_arg, "--id", user, "--keyring", keyring,
              "--client_mount_timeout=%d" % timeout, "--rados_mon_op_timeout=%d" % timeout,
              "--rados_osd_op_timeout=%d" % timeout]

    def ceph(*args):
        rc, out, err = run_command([params["ceph_path"]] + common + list(args) + ["--format", "json"])
        if rc != 0:
            raise CephProbeError(storage_ceph.connect_error(rc, err, user, monitors, timeout))
        return out

    try:
        fsid = ceph("fsid").strip()
        try:
            fsid = json.loads(fsid).get("fsid", fsid)
        except (ValueError, AttributeError):
            pass
        result = {"fsid": fsid, "pools": sorted(json.loads(ceph("osd", "pool", "ls") or "[]")),
                  "pool_access": {}, "filesystems": None}
        for pool in params["pools"] or []:
            if pool not in result["pools"]:
                continue
            rc, _out, err = run_command([params["rbd_path"]] + common + ["ls", "--pool", pool])
            result["pool_access"][pool] = True if rc == 0 else storage_ceph.connect_error(
                rc, err, user, monitors, timeout)
        if params["filesystems"]:
            result["filesystems"] = sorted(fs["name"] for fs in json.loads(ceph("fs", "ls") or "[]"))
        return result
    finally:
        os.unlink(keyring)
