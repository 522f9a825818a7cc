# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: cmdb
short_description: A site's CMDB export (CSV or YAML) as the inventory the playbooks use
version_added: 0.4.0
author:
  - xinchuang.cloud developers (@xinchuang-cloud)
description:
  - Reads a CMDB export named by O(path) - CSV with the header C(host,address,arch,os,roles), or a
    YAML list of mappings with those keys - into the groups the collection's playbooks use
    (C(kube_control_plane), C(etcd), C(kube_node), C(registry), C(harbor), C(nfs_server),
    C(iscsi_target), C(ceph), C(kingbase)) and a group C(arch_<family>) per CPU family.
  - C(roles) are separated by spaces (or commas); the group names and the aliases C(master),
    C(control-plane), C(node), C(worker), C(nfs), C(nas), C(iscsi), C(san), C(kes) are accepted.
    C(arch) is any name the architecture model knows (C(c86), C(kunpeng), C(aarch64),
    C(loongarch64), C(sw_64), C(mips64el), ...).
  - Every bad row (unknown architecture or role, duplicate host, missing address) is reported,
    by its line, in one error; no host is added from a file with a bad row.
  - Each host gets C(ansible_host) (the address), C(xinchuang_cmdb_arch) (as written),
    C(xinchuang_cmdb_family), C(xinchuang_cmdb_goarch) and C(xinchuang_cmdb_os). The preflight
    role still derives the architecture from the host's facts; a CMDB that disagrees is caught there.
notes:
  - A file with a bad row makes this source unparsed; Ansible only warns about an unparsed source
    unless told otherwise, so set C(ANSIBLE_INVENTORY_UNPARSED_FAILED=true) (or
    C(unparsed_is_failed = true) under C([inventory]) in ansible.cfg) to stop at once.
extends_documentation_fragment:
  - constructed
  - inventory_cache
options:
  plugin:
    description: The name of this plugin; the inventory file must name it to be read by it.
    required: true
    choices: [xinchuang.cloud.cmdb]
    type: str
  path:
    description:
      - The CMDB export, relative to the directory of the inventory file or absolute.
    required: true
    type: str
  format:
    description: The export's form; C(auto) goes by the file name (C(.csv), else YAML).
    type: str
    choices: [auto, csv, yaml]
    default: auto
"""

EXAMPLES = r"""
# inventories/site-a/cmdb.yml
plugin: xinchuang.cloud.cmdb
path: site-a.csv
# site-a.csv:
#   host,address,arch,os,roles
#   cp-01,10.1.0.11,c86,Kylin V10 SP3,master etcd
#   node-arm-01,10.1.0.31,kunpeng,openEuler 22.03,node
#   nas-01,10.1.0.81,x86_64,UOS 20,nfs
keyed_groups:
  - key: xinchuang_cmdb_os | regex_replace(' .*', '') | lower
    prefix: os
compose:
  preflight_node_ip: ansible_host
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: /var/cache/xinchuang/inventory
"""

import os

from ansible.errors import AnsibleParserError
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.xinchuang.cloud.plugins.plugin_utils.inventory import cmdb
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "xinchuang.cloud.cmdb"

    def verify_file(self, path):
        return super(InventoryModule, self).verify_file(path) and path.endswith(
            ("cmdb.yml", "cmdb.yaml"))

    def _read_hosts(self, source, fmt):
        try:
            with open(source, "rb") as fh:
                text = to_text(fh.read(), errors="surrogate_or_strict")
        except (IOError, OSError) as exc:
            raise AnsibleParserError("cannot read the CMDB export %s: %s" % (source, to_native(exc)))
        if fmt == "auto":
            fmt = "csv" if source.lower().endswith(".csv") else "yaml"
        try:
            if fmt == "csv":
                rows = cmdb.read_csv(text)
            else:
                rows = cmdb.read_yaml_data(self.loader.load(text, file_name=source))
            return cmdb.check_rows(rows, os.path.basename(source))
        except XinchuangError as exc:
            raise AnsibleParserError("%s: %s" % (source, exc))

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        self._read_config_data(path)
        source = os.path.expanduser(self.get_option("path"))
        if not os.path.isabs(source):
            source = os.path.join(os.path.dirname(path), source)
        # The export's identity and time key the cache: an edited export is read again.
        try:
            stamp = os.stat(source).st_mtime_ns
        except OSError as exc:
            raise AnsibleParserError("cannot read the CMDB export %s: %s" % (source, to_native(exc)))
        cache_key = "%s_%d" % (self.get_cache_key(source), stamp)
        use_cache = self.get_option("cache") and cache
        update_cache = self.get_option("cache") and not cache
        hosts = None
        if use_cache:
            try:
                hosts = self._cache[cache_key]
            except KeyError:
                update_cache = True
        if hosts is None:
            hosts = self._read_hosts(source, self.get_option("format"))
        if update_cache:
            self._cache[cache_key] = hosts
        self._populate(hosts)

    def _populate(self, hosts):
        strict = self.get_option("strict")
        for name in sorted(hosts, key=lambda h: hosts[h]["line"]):
            info = hosts[name]
            self.inventory.add_host(name)
            for group in info["groups"] + ["arch_" + info["family"]]:
                self.inventory.add_group(group)
                self.inventory.add_child(group, name)
            for key, value in (("ansible_host", info["address"]), ("xinchuang_cmdb_arch", info["arch"]),
                               ("xinchuang_cmdb_family", info["family"]),
                               ("xinchuang_cmdb_goarch", info["goarch"]), ("xinchuang_cmdb_os", info["os"])):
                self.inventory.set_variable(name, key, value)
            variables = self.inventory.get_host(name).get_vars()
            self._set_composite_vars(self.get_option("compose"), variables, name, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), variables, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, name, strict=strict)
