# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A site CMDB export as inventory, in pure rules: rows read from CSV or YAML, checked (every
bad row named by its line), and the groups each host belongs to.

The inventory plugin ``xinchuang.cloud.cmdb`` reads the file and asks this module; the
architecture of a row is any name the architecture model knows.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import io
import re

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError

COLUMNS = ("host", "address", "arch", "os", "roles")

# The groups the playbooks use, and the names a CMDB may give them.
ROLE_GROUPS = {
    "kube_control_plane": ("kube_control_plane", "control_plane", "control-plane", "master"),
    "etcd": ("etcd",),
    "kube_node": ("kube_node", "node", "worker"),
    "registry": ("registry",),
    "harbor": ("harbor",),
    "nfs_server": ("nfs_server", "nfs", "nas"),
    "iscsi_target": ("iscsi_target", "iscsi", "san"),
    "ceph": ("ceph",),
    "kingbase": ("kingbase", "kes"),
}
_ROLE_INDEX = dict((alias, group) for group, aliases in ROLE_GROUPS.items() for alias in aliases)
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$")


class CmdbError(XinchuangError, ValueError):
    """Bad CMDB rows; the message names each by its line."""


def read_csv(text):
    """[("line N", {column: value})] of a CSV export with the header host,address,arch,os,roles."""
    reader = csv.reader(io.StringIO(text))
    rows, header = [], None
    for record in reader:
        line = reader.line_num
        if not record or not any(cell.strip() for cell in record) or record[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in record]
            if tuple(header) != COLUMNS:
                raise CmdbError("line %d: the header is %s; it must be %s" % (
                    line, ",".join(header), ",".join(COLUMNS)))
            continue
        if len(record) != len(COLUMNS):
            rows.append(("line %d" % line, {"_error": "%d fields, want %d (%s)" % (
                len(record), len(COLUMNS), ",".join(COLUMNS))}))
            continue
        rows.append(("line %d" % line, dict(zip(COLUMNS, (cell.strip() for cell in record)))))
    if header is None:
        raise CmdbError("no header line: the first line must be %s" % ",".join(COLUMNS))
    return rows


def read_yaml_data(data):
    """[("item N", {column: value})] of the YAML form: a list of mappings with the same keys
    (``roles`` a list or a string)."""
    if not isinstance(data, list):
        raise CmdbError("a YAML CMDB export must be a list of hosts, each with %s" % ", ".join(COLUMNS))
    rows = []
    for index, item in enumerate(data, 1):
        line = "item %d" % index
        if not isinstance(item, dict):
            rows.append((line, {"_error": "not a mapping of %s" % ", ".join(COLUMNS)}))
            continue
        row = dict((k, item.get(k)) for k in COLUMNS)
        if isinstance(row["roles"], list):
            row["roles"] = " ".join(str(r) for r in row["roles"])
        rows.append((line, dict((k, "" if v is None else str(v).strip()) for k, v in row.items())))
    return rows


def check_rows(rows, source="the CMDB export"):
    """{host: {address, family, goarch, arch, os, groups}} of good rows; every bad row (unknown
    architecture or role, duplicate host, missing address or host) raises one error naming all."""
    hosts, problems, first_line = {}, [], {}
    for line, row in rows:
        where = "%s %s" % (source, line)
        if "_error" in row:
            problems.append("%s: %s" % (where, row["_error"]))
            continue
        name = row.get("host", "")
        if not name or not _HOST.match(name):
            problems.append("%s: host %r is not a host name" % (where, name))
            continue
        if name in first_line:
            problems.append("%s: host %s is already on %s" % (where, name, first_line[name]))
            continue
        first_line[name] = line
        bad = False
        if not row.get("address"):
            problems.append("%s: host %s has no address" % (where, name))
            bad = True
        try:
            family = arch.lookup(row.get("arch", ""))
        except XinchuangError:
            problems.append("%s: host %s: unknown architecture %r; give a family (%s), a GOARCH or "
                            "`uname -m`" % (where, name, row.get("arch", ""), ", ".join(arch.families())))
            bad = True
        groups = []
        for token in (row.get("roles") or "").replace(",", " ").split():
            group = _ROLE_INDEX.get(token.lower())
            if group is None:
                problems.append("%s: host %s: unknown role %r; known: %s" % (
                    where, name, token, ", ".join(sorted(_ROLE_INDEX))))
                bad = True
            elif group not in groups:
                groups.append(group)
        if bad:
            continue
        hosts[name] = {"address": row["address"], "arch": row["arch"], "family": family.family,
                       "goarch": family.goarch, "os": row.get("os", ""), "groups": groups,
                       "line": line}
    if problems:
        raise CmdbError("%d bad row(s): %s" % (len(problems), "; ".join(problems)))
    return hosts
