#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: tpcc_log_info
short_description: Read pgbench's per-transaction log of a TPC-C run into tpmC and latencies
version_added: 0.5.0
description:
  - Reads every file C(<prefix>.*) in O(path) that pgbench's C(--log --log-prefix <path>/<prefix>)
    wrote (one per pgbench thread) on the host it runs on, and returns the counts, tpmC and the
    p50 and p95 latency of each TPC-C transaction, so the log never leaves the host.
  - The run starts when pgbench started, that is at its first transaction's start less the
    C(initial connection time) pgbench printed when O(pgbench_output) is given (pgbench's
    C(--time) clock runs while its clients connect). Transactions that ended in the first
    O(rampup) seconds are left out, and the O(duration) seconds after them are measured. tpmC
    is the New-Order transactions committed in that window per minute. The script numbers of
    the log are those of the collection's kit (the role C(xinchuang.cloud.tpcc) passes the
    scripts in that order).
  - Fails, naming the file, when a line is not one of pgbench's log or names a script the kit
    does not have, and when no log file is found.
author:
  - xinchuang.cloud developers (@xinchuang-cloud)
extends_documentation_fragment:
  - xinchuang.cloud.attributes.INFO_MODULE
options:
  path:
    description: The directory of the log files.
    type: path
    required: true
  prefix:
    description: The file name part of pgbench's C(--log-prefix).
    type: str
    default: tpcc
  rampup:
    description: Seconds at the start of the run that are not measured.
    type: int
    default: 0
  duration:
    description: Seconds measured after the ramp-up.
    type: int
    required: true
  pgbench_output:
    description:
      - What pgbench printed (its standard output). Its C(initial connection time = X ms) line
        moves the run's start back by that long; without it, the run starts at its first
        transaction and, where the clients took long to connect, the window ends after pgbench
        stopped (reported in RV(problems) as a run that stopped early).
    type: str
    default: ""
seealso:
  - module: xinchuang.cloud.tpcc_client_info
"""

EXAMPLES = r"""
- name: Run pgbench with the kit's scripts and a per-transaction log
  ansible.builtin.command:
    argv: "{{ 'pgbench' | xinchuang.cloud.tpcc_pgbench_argv('/var/tmp/tpcc', '/var/tmp/tpcc/log/tpcc', 'tpcc_local',
              '127.0.0.1', 5432, 'postgres', 10, 20, 600, 60) }}"
  register: pgbench_run
  changed_when: true

- name: Read the log
  xinchuang.cloud.tpcc_log_info:
    path: /var/tmp/tpcc/log
    rampup: 60
    duration: 600
    pgbench_output: "{{ pgbench_run.stdout }}"
  register: tpcc_stats

- name: Show tpmC
  ansible.builtin.debug:
    msg: "{{ tpcc_stats.tpmC }} tpmC, New-Order p95 {{ tpcc_stats.transactions.new_order.p95_ms }} ms"
"""

RETURN = r"""
tpmC:
  description: New-Order transactions committed in the window, per minute.
  returned: success
  type: float
  sample: 3540.0
new_order_committed:
  description: New-Orders committed in the window.
  returned: success
  type: int
  sample: 885
new_order_rolled_back:
  description: New-Orders that met the unused item number and rolled back, in the window.
  returned: success
  type: int
  sample: 9
transactions_measured:
  description: Transactions of all five kinds that completed in the window.
  returned: success
  type: int
  sample: 1980
failed:
  description: Transactions in the window that pgbench logged as failed (serialization failures, deadlocks).
  returned: success
  type: int
  sample: 0
transactions:
  description: Per transaction (C(new_order) with its rollbacks, C(payment), C(order_status), C(delivery), C(stock_level)).
  returned: success
  type: dict
  sample:
    new_order: {count: 894, failed: 0, p50_ms: 3.1, p95_ms: 9.8}
    payment: {count: 850, failed: 0, p50_ms: 1.2, p95_ms: 4.0}
logged:
  description: Lines read, ramp-up included.
  returned: success
  type: int
  sample: 2400
window:
  description: The measurement window, in seconds since the epoch, with the ramp-up and duration.
  returned: success
  type: dict
  sample: {start: 1796093991.55, end: 1796094006.55, rampup: 2, duration: 15}
problems:
  description: What makes the numbers doubtful, such as a run that stopped before the window ended.
  returned: success
  type: list
  elements: str
  sample: []
files:
  description: The log files read.
  returned: success
  type: list
  elements: str
  sample: [/var/tmp/tpcc/log/tpcc.4242, /var/tmp/tpcc/log/tpcc.4242.1]
"""

import glob
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.xinchuang.cloud.plugins.module_utils.database import tpcc
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError


def argument_spec():
    return dict(
        path=dict(type="path", required=True),
        prefix=dict(type="str", default="tpcc"),
        rampup=dict(type="int", default=0),
        duration=dict(type="int", required=True),
        pgbench_output=dict(type="str", default=""),
    )


def _lines(files):
    for name in files:
        with open(name) as fh:
            yield from fh


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    files = sorted(glob.glob(os.path.join(params["path"], glob.escape(params["prefix"]) + ".*")))
    if not files:
        module.fail_json(msg="no pgbench log %s.* in %s: run pgbench with --log --log-prefix %s"
                         % (params["prefix"], params["path"],
                            os.path.join(params["path"], params["prefix"])))
    try:
        # Two passes over the files: the start first, then the window, so a long run's log is
        # never held in memory.
        start = tpcc.run_start(_lines(files))
        if start is not None:
            start -= tpcc.connection_seconds(params["pgbench_output"])
        result = tpcc.summarize_log(_lines(files), params["rampup"], params["duration"],
                                    start=start)
    except XinchuangError as exc:
        module.fail_json(msg="%s (files %s)" % (exc, ", ".join(files)))
    module.exit_json(changed=False, files=files, **result)


if __name__ == "__main__":
    main()
