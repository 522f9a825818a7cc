#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: tpcc_client_info
short_description: Find the pgbench and psql a TPC-C run uses, and their versions
version_added: 0.5.0
description:
  - Finds O(pgbench) and O(psql) on the host it runs on (a path is taken as it is, a bare name
    is looked for in O(search_dirs) and then in C(PATH)) and returns their paths and the first
    line of their C(--version).
  - Fails, naming the program and the fix, when one cannot be found or does not run.
author:
  - xinchuang.cloud developers (@xinchuang-cloud)
extends_documentation_fragment:
  - xinchuang.cloud.attributes.INFO_MODULE
options:
  pgbench:
    description: The pgbench program, a path or a name.
    type: str
    default: pgbench
  psql:
    description: The psql program (Kingbase's is C(ksql)), a path or a name.
    type: str
    default: psql
  search_dirs:
    description: Directories searched for a bare name before C(PATH).
    type: list
    elements: path
    default: [/usr/lib/postgresql/15/bin]
seealso:
  - module: xinchuang.cloud.tpcc_log_info
"""

EXAMPLES = r"""
- name: Debian's PostgreSQL 15 client programs, else those on PATH
  xinchuang.cloud.tpcc_client_info:
  register: tpcc_client

- name: Show the tool
  ansible.builtin.debug:
    msg: "{{ tpcc_client.pgbench_version }} at {{ tpcc_client.pgbench_path }}"
"""

RETURN = r"""
pgbench_path:
  description: The pgbench program found.
  returned: success
  type: str
  sample: /usr/lib/postgresql/15/bin/pgbench
pgbench_version:
  description: The first line of C(pgbench --version).
  returned: success
  type: str
  sample: pgbench (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)
psql_path:
  description: The psql program found.
  returned: success
  type: str
  sample: /usr/lib/postgresql/15/bin/psql
psql_version:
  description: The first line of C(psql --version).
  returned: success
  type: str
  sample: psql (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)
"""

import os

from ansible.module_utils.basic import AnsibleModule


def argument_spec():
    return dict(
        pgbench=dict(type="str", default="pgbench"),
        psql=dict(type="str", default="psql"),
        search_dirs=dict(type="list", elements="path", default=["/usr/lib/postgresql/15/bin"]),
    )


def _find(module, option):
    name = module.params[option]
    if os.sep in name:
        path = name if os.access(name, os.X_OK) else None
    else:
        path = module.get_bin_path(name, opt_dirs=module.params["search_dirs"])
    if not path:
        module.fail_json(msg="%s %s is not found on this host (searched %s and PATH): install the "
                         "PostgreSQL client programs (Debian: postgresql-client-15) or set tpcc_%s "
                         "to the program's path" % (option, name, ", ".join(module.params["search_dirs"]),
                                                    option))
    rc, out, err = module.run_command([path, "--version"])
    if rc != 0:
        module.fail_json(msg="%s --version failed (exit %d): %s; set tpcc_%s to a working %s"
                         % (path, rc, (err or out).strip(), option, option))
    return path, (out.strip().splitlines() or [""])[0]


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    result = {}
    for option in ("pgbench", "psql"):
        result[option + "_path"], result[option + "_version"] = _find(module, option)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
