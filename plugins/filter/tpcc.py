# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the TPC-C rules (plugins/module_utils/database/tpcc.py), for the role
xinchuang.cloud.tpcc. Documentation: <filter>.yml beside this file."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.xinchuang.cloud.plugins.module_utils.database import tpcc
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.common.filters import (
    user_errors_as_filter_errors,
)


def tpcc_problems(settings):
    return tpcc.settings_problems(settings)


def tpcc_pgpass(user, password):
    return tpcc.pgpass_line(user, password)


def tpcc_kit_files(work_dir):
    return tpcc.kit_files(work_dir)


def tpcc_pgbench_argv(pgbench, work_dir, log_prefix, database, host, port, user, warehouses,
                      terminals, duration, rampup, threads=0):
    return tpcc.pgbench_argv(pgbench, work_dir, log_prefix, database, host, port, user,
                             int(warehouses), int(terminals), int(duration), int(rampup),
                             int(threads))


def tpcc_loader_args(warehouses):
    return tpcc.loader_args(int(warehouses))


def tpcc_server_problems(probe, settings):
    return tpcc.server_problems(probe, settings)


def tpcc_database_name(prefix, storage):
    return tpcc.database_name(prefix, storage)


def tpcc_consistency_problems(rows):
    return tpcc.consistency_problems(rows)


def tpcc_result_row(stats, storage, settings, tool_version, server_version, filesystem, path,
                    consistency):
    return tpcc.result_row(stats, storage, settings, tool_version, server_version, filesystem,
                           path, consistency)


def tpcc_csv(rows, paper_rows):
    return tpcc.csv_text(rows, paper_rows)


def tpcc_markdown(rows, paper_rows):
    return tpcc.markdown_text(rows, paper_rows)


def tpcc_verdict(rows, run_problems=None):
    return tpcc.verdict_problems(rows, run_problems or [])


def tpcc_summary(row):
    return tpcc.summary_lines(row)


class FilterModule(object):
    def filters(self):
        return dict((func.__name__, user_errors_as_filter_errors(func)) for func in (
            tpcc_problems, tpcc_server_problems, tpcc_database_name, tpcc_pgpass, tpcc_kit_files,
            tpcc_pgbench_argv, tpcc_loader_args, tpcc_consistency_problems, tpcc_result_row,
            tpcc_csv, tpcc_markdown, tpcc_verdict, tpcc_summary))
