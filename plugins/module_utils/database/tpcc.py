# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TPC-C on pgbench for PostgreSQL-protocol engines (PostgreSQL, Kingbase KES), as pure rules.
No I/O: the role ``xinchuang.cloud.tpcc`` asks through filters, the module ``tpcc_log_info``
hands it pgbench's log lines.

- the settings of a run and what is wrong with them (``settings_problems``);
- the kit: the transactions with their pgbench scripts and weights (``TRANSACTIONS``: the
  standard mix 45/43/4/4/4 with the 1 % of New-Orders that roll back as a script of its own,
  so pgbench's log counts them), the files the role installs (``kit_files``) and pgbench's
  command line (``pgbench_argv``), with TPC-C's NURand constants (``NURAND_C``);
- pgbench's per-transaction log (``--log``: client, transaction, latency in microseconds or
  ``failed``, script number, end time) read into counts, latency percentiles and tpmC over the
  measurement window, the ramp-up left out (``summarize_log``);
- TPC-C's consistency conditions 1-4 (and 9, which names a district) over the numbers
  ``roles/tpcc/files/tpcc_consistency.sql`` reads (``consistency_problems``);
- the report: a row per storage, CSV, Markdown with the NAS/local ratio beside the paper's
  Table 1 (read from ``docs/paper-tables.yml`` by the caller, never typed here), and the lines
  the play prints.

tpmC here is New-Order transactions committed per minute of the measurement window, with
think and keying times of zero: it is not a compliant TPC-C result, and the report says so.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import io
import math
import posixpath
import re
from decimal import Decimal, InvalidOperation

from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError


class TpccError(XinchuangError, ValueError):
    """A setting of a TPC-C run or a log that cannot be used; the message says the fix."""


STORAGES = ("local", "nas")

# The transactions in pgbench's -f order (the log's script number is the index), each with its
# script (a file of roles/tpcc/files, or a template of roles/tpcc/templates with its vars) and
# pgbench's integer weight in 1/100 %: New-Order 45 % of which 1 % rolls back, Payment 43 %,
# Order-Status, Delivery and Stock-Level 4 % each (clause 5.2.3's minimums as the mix).
TRANSACTIONS = (
    {"name": "new_order", "transaction": "new_order", "weight": 4455,
     "template": "new_order.pgbench.j2", "vars": {"__tpcc_rollback": False}},
    {"name": "new_order_rollback", "transaction": "new_order", "weight": 45,
     "template": "new_order.pgbench.j2", "vars": {"__tpcc_rollback": True}},
    {"name": "payment", "transaction": "payment", "weight": 4300, "src": "pgbench/payment.pgbench"},
    {"name": "order_status", "transaction": "order_status", "weight": 400,
     "src": "pgbench/order_status.pgbench"},
    {"name": "delivery", "transaction": "delivery", "weight": 400, "src": "pgbench/delivery.pgbench"},
    {"name": "stock_level", "transaction": "stock_level", "weight": 400,
     "src": "pgbench/stock_level.pgbench"},
)
# The five transactions of the report, in the spec's order, with their names in the spec.
REPORTED = (("new_order", "New-Order"), ("payment", "Payment"), ("order_status", "Order-Status"),
            ("delivery", "Delivery"), ("stock_level", "Stock-Level"))
MIX_PERCENT = {"new_order": 45, "payment": 43, "order_status": 4, "delivery": 4, "stock_level": 4}
ROLLBACK_PERCENT = 1
# The SQL the role runs with psql (roles/tpcc/files): the server probe, a storage's tablespace
# and database, then tables, transaction functions, rows and keys, and the numbers of the
# consistency conditions.
SQL_FILES = ("tpcc_server.sql", "tpcc_database.sql", "tpcc_schema.sql", "tpcc_functions.sql",
             "tpcc_load.sql", "tpcc_keys.sql", "tpcc_consistency.sql")

# NURand's run-time constants C (clause 2.1.6): C_LAST of the load and of the run differ by
# 65..119 and by neither 96 nor 112 (clause 2.1.6.1); C_ID (A = 1023) and OL_I_ID (A = 8191).
NURAND_C = {"c_last_load": 157, "c_last_run": 223, "c_id_c": 259, "ol_i_id_c": 7911}

# With the spec's keying and think times a terminal issues at most this many New-Orders per
# minute, and a warehouse has ten terminals: 12.86 tpmC per warehouse at most (clause 4.2).
MAX_TPMC_PER_WAREHOUSE = 12.86
THINK_TIME_SECONDS = 0
PERCENTILES = (50, 95)
TOOL = "pgbench"

# File systems that are storage over the network (findmnt's FSTYPE).
NETWORK_FILESYSTEMS = frozenset(("nfs", "nfs4", "cifs", "smb3", "ceph", "glusterfs",
                                 "fuse.glusterfs", "fuse.cephfs", "9p", "lustre", "gpfs"))

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
_MAX_IDENTIFIER = 63


def as_int(value):
    """A whole number given as a number or as its text (``-e tpcc_warehouses=2`` gives text);
    None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.match(r"^\s*-?\d+\s*$", value):
        return int(value)
    return None


def database_name(prefix, storage):
    """The database and tablespace of a storage: ``<prefix>_<storage>``."""
    return "%s_%s" % (prefix, storage)


_MEANING = {"duration": " (seconds measured per storage)",
            "rampup": " (seconds before the measurement)",
            "pgbench_threads": " (0: one thread per terminal)"}


def settings_problems(settings):
    """Every problem of a run's settings, as messages naming the variable, the value and the fix;
    empty when the run can start. ``settings`` holds the role's variables without the
    ``tpcc_`` prefix: warehouses, terminals, duration, rampup, storage, storage_paths,
    database_prefix, pgbench_threads, report_dir (those missing are not checked)."""
    problems = []
    for name, least in (("warehouses", 1), ("terminals", 1), ("duration", 1), ("rampup", 0),
                        ("pgbench_threads", 0)):
        if name not in settings:
            continue
        value = as_int(settings[name])
        if value is None or value < least:
            problems.append("tpcc_%s is %r: set it to a whole number of at least %d%s" % (
                name, settings[name], least, _MEANING.get(name, "")))
    storage = settings.get("storage")
    paths = settings.get("storage_paths") or {}
    paths_given = isinstance(paths, dict)
    if not paths_given:
        problems.append("tpcc_storage_paths is %r: set it to a mapping of storage to directory, "
                        "such as {local: /var/lib/tpcc, nas: /mnt/nas/tpcc}" % (paths,))
        paths = {}
    if not isinstance(storage, list) or not storage:
        problems.append("tpcc_storage is %r: set it to a list of %s, such as [local, nas]"
                        % (storage, " and ".join(STORAGES)))
        storage = []
    seen = set()
    for name in storage:
        if name not in STORAGES:
            problems.append("tpcc_storage names %r, which is no storage: use %s"
                            % (name, " or ".join(STORAGES)))
            continue
        if name in seen:
            problems.append("tpcc_storage names %s twice: list each storage once" % name)
            continue
        seen.add(name)
        path = paths.get(name)
        if not paths_given:
            continue
        if not path:
            problems.append("storage %s has no directory: set tpcc_storage_paths.%s to the directory "
                            "of its tablespace on the database host (%s)"
                            % (name, name, "a mount of the NFS export for nas" if name == "nas"
                               else "on a local disk"))
        elif not isinstance(path, str) or not posixpath.isabs(path) or posixpath.normpath(path) == "/":
            problems.append("tpcc_storage_paths.%s is %r: set it to an absolute directory other than /"
                            % (name, path))
    used = {}
    for name in sorted(seen):
        path = paths.get(name)
        if isinstance(path, str) and path:
            used.setdefault(posixpath.normpath(path), []).append(name)
    for path, names in sorted(used.items()):
        if len(names) > 1:
            problems.append("tpcc_storage_paths gives %s the same directory %s: each storage needs a "
                            "directory of its own" % (" and ".join(names), path))
    report_dir = settings.get("report_dir")
    if report_dir is not None and (not isinstance(report_dir, str) or not posixpath.isabs(report_dir)):
        problems.append("tpcc_report_dir is %r: set it to an absolute directory on the controller"
                        % (report_dir,))
    prefix = settings.get("database_prefix", "tpcc")
    if not isinstance(prefix, str) or not _IDENTIFIER.match(prefix) or len(prefix) > _MAX_IDENTIFIER - 6:
        problems.append("tpcc_database_prefix is %r: use lower-case letters, digits and _ (not "
                        "first), at most %d characters" % (prefix, _MAX_IDENTIFIER - 6))
    return problems


def server_problems(probe, settings):
    """What keeps the server from taking the run, as messages naming the fix: ``probe`` is what
    roles/tpcc/files/tpcc_server.sql returns (version, superuser, tablespaces as name ->
    location)."""
    problems = []
    if not probe.get("superuser"):
        problems.append("tpcc_db_user is no superuser of the server (%s): creating tablespaces "
                        "needs one; connect as one (postgres, or Kingbase's system)"
                        % probe.get("version", "unknown version"))
    terminals = as_int(settings.get("terminals"))
    if terminals and "max_connections" in probe:
        # A superuser may use the reserved slots too; the probe's own session is counted in
        # connections and ends before pgbench starts, psql's next one does not overlap.
        free = probe["max_connections"] - (probe.get("connections") or 0) + 1
        if terminals > free:
            problems.append("tpcc_terminals %d needs %d connections, but the server takes %d more "
                            "(max_connections %d, %d in use): raise max_connections or lower "
                            "tpcc_terminals" % (terminals, terminals, free, probe["max_connections"],
                                                (probe.get("connections") or 1) - 1))
    tablespaces = probe.get("tablespaces") or {}
    paths = settings.get("storage_paths") or {}
    prefix = settings.get("database_prefix", "tpcc")
    for storage in settings.get("storage") or []:
        name = database_name(prefix, storage)
        wanted = posixpath.normpath(paths.get(storage) or "/")
        found = tablespaces.get(name)
        if found is not None and posixpath.normpath(found) != wanted:
            problems.append("tablespace %s exists at %s, not at tpcc_storage_paths.%s %s: set "
                            "tpcc_storage_paths.%s to %s, or drop the tablespace (DROP DATABASE %s; "
                            "DROP TABLESPACE %s)" % (name, found, storage, wanted, storage, found,
                                                     name, name))
        for other, location in sorted(tablespaces.items()):
            if other != name and location and posixpath.normpath(location) == wanted:
                problems.append("tpcc_storage_paths.%s %s is the directory of the tablespace %s: "
                                "give storage %s a directory of its own" % (storage, wanted, other,
                                                                            storage))
    return problems


def pgpass_line(user, password):
    """The line of a libpq password file (PGPASSFILE) for ``user`` on any host, port and
    database: the file serves one run's connections only. ``:`` and ``\\`` are escaped."""
    def escape(text):
        return str(text).replace("\\", "\\\\").replace(":", "\\:")
    return "*:*:*:%s:%s\n" % (escape(user), escape(password))


def kit_files(work_dir):
    """The entries of ``xinchuang.cloud.host_files`` that install the kit in ``work_dir`` on the
    host that runs psql and pgbench: the SQL files and one pgbench script per transaction."""
    entries = [{"src": name, "dest": posixpath.join(work_dir, name), "mode": "0644"}
               for name in SQL_FILES]
    for row in TRANSACTIONS:
        dest = posixpath.join(work_dir, row["name"] + ".pgbench")
        if "template" in row:
            entries.append({"template": row["template"], "vars": dict(row["vars"]), "dest": dest,
                            "mode": "0644"})
        else:
            entries.append({"src": row["src"], "dest": dest, "mode": "0644"})
    return entries


def pgbench_argv(pgbench, work_dir, log_prefix, database, host, port, user, warehouses, terminals,
                 duration, rampup, threads=0):
    """pgbench's command line for one storage: the six scripts with their weights, the
    terminals as clients, ramp-up plus measurement as its time, a log line per transaction,
    TPC-C's constants as -D variables, no vacuum of pgbench's own tables (there are none)."""
    threads = terminals if not threads else min(threads, terminals)
    argv = [pgbench, "--no-vacuum", "--client", str(terminals), "--jobs", str(threads),
            "--time", str(rampup + duration), "--log", "--log-prefix", log_prefix,
            "--host", str(host), "--port", str(port), "--username", user,
            "--define", "warehouses=%d" % warehouses]
    for name in sorted(NURAND_C):
        if name != "c_last_load":
            argv += ["--define", "%s=%d" % (name, NURAND_C[name])]
    for row in TRANSACTIONS:
        argv += ["--file", "%s@%d" % (posixpath.join(work_dir, row["name"] + ".pgbench"),
                                      row["weight"])]
    return argv + [database]


def loader_args(warehouses):
    """psql's arguments that set the variables of roles/tpcc/files/tpcc_load.sql."""
    return ["--set", "warehouses=%d" % warehouses,
            "--set", "c_last_load=%d" % NURAND_C["c_last_load"]]


def parse_log_line(line):
    """One line of pgbench's --log: ``client transaction latency_us|failed|skipped|... script
    epoch_s epoch_us [extra columns]``. Returns (script, end in seconds, latency in
    microseconds or None when the transaction did not complete)."""
    fields = line.split()
    if len(fields) < 6:
        raise TpccError("not a line of pgbench's --log: %r (expected client, transaction, time, "
                        "script, epoch seconds, microseconds)" % line)
    try:
        script = int(fields[3])
        end = int(fields[4]) + int(fields[5]) / 1e6
    except ValueError:
        raise TpccError("not a line of pgbench's --log: %r" % line)
    latency = int(fields[2]) if fields[2].isdigit() else None
    return script, end, latency


def percentile(values, percent):
    """The nearest-rank percentile of ``values`` (sorted or not): the smallest value with at
    least ``percent`` % of the values at or below it; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, int(math.ceil(percent / 100.0 * len(ordered))))
    return ordered[min(rank, len(ordered)) - 1]


_CONNECTION_TIME = re.compile(r"^initial connection time = ([0-9]+(?:\.[0-9]+)?) ms\s*$", re.M)


def connection_seconds(pgbench_output):
    """How long pgbench's clients took to connect, in seconds, from what pgbench printed
    (``initial connection time = X ms``, PostgreSQL 14 and later); 0 when it printed none.
    pgbench's --time clock starts before its clients connect, so a run began that long before
    its first transaction: on a slow machine (an emulated one, or many terminals) a window
    counted from the first transaction would end after pgbench stopped."""
    found = _CONNECTION_TIME.search(pgbench_output or "")
    return float(found.group(1)) / 1000.0 if found else 0.0


def run_start(lines):
    """When the run's first transaction started (its end minus its latency), in seconds since
    the epoch; None for a log without lines. pgbench itself started ``connection_seconds``
    earlier."""
    start = None
    for line in lines:
        if line.strip():
            _script, end, latency = parse_log_line(line)
            began = end - (latency or 0) / 1e6
            start = began if start is None else min(start, began)
    return start


def summarize_log(lines, rampup, duration, start=None):
    """Counts, latencies and tpmC of one pgbench run from the lines of its log files.

    The run starts when its first transaction started (``start``, or ``run_start`` of the
    lines, which are then read twice: pass a list, or the start and a fresh iterator); the
    measurement window is [start + rampup, start + rampup + duration) of transaction end times,
    so the ramp-up's transactions are left out. tpmC is the New-Orders committed in the window
    per minute of ``duration``. Latencies are in milliseconds, nearest-rank percentiles."""
    if start is None:
        lines = list(lines)
        start = run_start(lines)
    if start is None:
        raise TpccError("pgbench's log is empty: pgbench ran no transaction (see its output above)")
    scripts = len(TRANSACTIONS)
    window_start = start + rampup
    window_end = window_start + duration
    last_end = start
    logged = 0
    latencies = dict((row["transaction"], []) for row in TRANSACTIONS)
    counts = dict((row["name"], 0) for row in TRANSACTIONS)
    failed = dict((row["transaction"], 0) for row in TRANSACTIONS)
    for line in lines:
        if not line.strip():
            continue
        script, end, latency = parse_log_line(line)
        logged += 1
        last_end = max(last_end, end)
        if script < 0 or script >= scripts:
            raise TpccError("pgbench's log names script %d, but the kit has scripts 0-%d: the log "
                            "is of another run" % (script, scripts - 1))
        if not window_start <= end < window_end:
            continue
        row = TRANSACTIONS[script]
        if latency is None:
            failed[row["transaction"]] += 1
            continue
        counts[row["name"]] += 1
        latencies[row["transaction"]].append(latency)
    transactions = {}
    for name, _title in REPORTED:
        values = latencies[name]
        entry = {"count": len(values), "failed": failed[name]}
        for percent in PERCENTILES:
            value = percentile(values, percent)
            entry["p%d_ms" % percent] = None if value is None else round(value / 1000.0, 3)
        transactions[name] = entry
    committed = counts["new_order"]
    problems = []
    if last_end < window_end - 1:
        problems.append("pgbench's last transaction ended %.1f s before the end of the measurement "
                        "window: the run stopped early, so tpmC is too low" % (window_end - last_end))
    return {
        "tpmC": round(committed * 60.0 / duration, 1),
        "new_order_committed": committed,
        "new_order_rolled_back": counts["new_order_rollback"],
        "transactions_measured": sum(e["count"] for e in transactions.values()),
        "failed": sum(failed.values()),
        "transactions": transactions,
        "logged": logged,
        "window": {"start": round(window_start, 6), "end": round(window_end, 6),
                   "rampup": rampup, "duration": duration},
        "problems": problems,
    }


def efficiency_percent(tpmc, warehouses):
    """tpmC as a percentage of TPC-C's ceiling of 12.86 tpmC per warehouse."""
    return round(100.0 * tpmc / (MAX_TPMC_PER_WAREHOUSE * warehouses), 1)


# --- consistency -------------------------------------------------------------------------------

CONDITIONS = {
    1: "W_YTD = sum(D_YTD)",
    2: "D_NEXT_O_ID - 1 = max(O_ID) = max(NO_O_ID)",
    3: "max(NO_O_ID) - min(NO_O_ID) + 1 = rows in NEW-ORDER",
    4: "sum(O_OL_CNT) = rows in ORDER-LINE",
    9: "D_YTD = sum(H_AMOUNT)",
}


def _decimal(row, key):
    try:
        return Decimal(str(row[key]))
    except (KeyError, InvalidOperation):
        raise TpccError("the consistency query returned no number %s: %r (is the database one "
                        "of the collection's TPC-C kit?)" % (key, row))


def consistency_problems(rows):
    """The consistency conditions that fail, one message per condition and warehouse or
    district; empty when all hold. ``rows`` are the objects of tpcc_consistency.sql, one per
    district."""
    if not rows:
        return ["the database has no districts: it holds no TPC-C data (load it again)"]
    problems = []
    warehouses_seen = set()
    for row in rows:
        w_id, d_id = row["w_id"], row["d_id"]
        where = "warehouse %s district %s" % (w_id, d_id)
        if w_id not in warehouses_seen:
            warehouses_seen.add(w_id)
            if _decimal(row, "w_ytd") != _decimal(row, "sum_d_ytd"):
                problems.append("condition 1 (%s) fails for warehouse %s: W_YTD %s, sum(D_YTD) %s"
                                % (CONDITIONS[1], w_id, row["w_ytd"], row["sum_d_ytd"]))
        # A district whose new orders were all delivered has no max(NO_O_ID) to compare.
        newest = [row["max_o_id"]] + ([row["max_no_o_id"]] if row["count_no"] else [])
        if any(row["d_next_o_id"] - 1 != value for value in newest):
            problems.append("condition 2 (%s) fails for %s: D_NEXT_O_ID - 1 = %s, max(O_ID) = %s, "
                            "max(NO_O_ID) = %s" % (CONDITIONS[2], where, row["d_next_o_id"] - 1,
                                                   row["max_o_id"], row["max_no_o_id"]))
        if row["count_no"] and row["max_no_o_id"] - row["min_no_o_id"] + 1 != row["count_no"]:
            problems.append("condition 3 (%s) fails for %s: max - min + 1 = %s, rows %s"
                            % (CONDITIONS[3], where, row["max_no_o_id"] - row["min_no_o_id"] + 1,
                               row["count_no"]))
        if row["sum_o_ol_cnt"] != row["count_ol"]:
            problems.append("condition 4 (%s) fails for %s: sum(O_OL_CNT) = %s, rows %s"
                            % (CONDITIONS[4], where, row["sum_o_ol_cnt"], row["count_ol"]))
        if _decimal(row, "d_ytd") != _decimal(row, "sum_h_amount"):
            problems.append("condition 9 (%s) fails for %s: D_YTD %s, sum(H_AMOUNT) %s"
                            % (CONDITIONS[9], where, row["d_ytd"], row["sum_h_amount"]))
    return problems


# --- the report --------------------------------------------------------------------------------

COLUMNS = ["storage", "warehouses", "terminals", "seconds", "tpmC", "efficiency_percent",
           "ratio_to_local", "paper_ratio_to_local", "rampup_seconds", "think_time_seconds",
           "new_order_committed", "new_order_rolled_back", "transactions", "failed"]
COLUMNS += ["%s_p%d_ms" % (name, p) for name, _title in REPORTED for p in PERCENTILES]
COLUMNS += ["consistency", "filesystem", "path", "database", "tool", "tool_version",
            "server_version"]


def paper_tpmc(paper_rows):
    """{storage: tpmC} of Table 1 (the rows of ``tpcc_kingbase`` in docs/paper-tables.yml)."""
    table = {}
    for row in paper_rows or []:
        table[row["storage"]] = row["tpmC"]
    return table


def ratio(numerator, denominator):
    if not denominator:
        return None
    return round(float(numerator) / float(denominator), 2)


def result_row(stats, storage, settings, tool_version, server_version, filesystem, path,
               consistency):
    """One row of the report. ``stats`` is ``summarize_log``'s result, ``settings`` the run's
    warehouses, terminals, duration, rampup and database_prefix, ``consistency`` the list of
    ``consistency_problems``."""
    warehouses = as_int(settings["warehouses"])
    row = {
        "storage": storage,
        "warehouses": warehouses,
        "terminals": as_int(settings["terminals"]),
        "seconds": as_int(settings["duration"]),
        "tpmC": stats["tpmC"],
        "efficiency_percent": efficiency_percent(stats["tpmC"], warehouses),
        "rampup_seconds": as_int(settings["rampup"]),
        "think_time_seconds": THINK_TIME_SECONDS,
        "new_order_committed": stats["new_order_committed"],
        "new_order_rolled_back": stats["new_order_rolled_back"],
        "transactions": stats["transactions_measured"],
        "failed": stats["failed"],
        "consistency": "pass" if not consistency else "fail: " + "; ".join(consistency),
        "filesystem": filesystem,
        "path": path,
        "database": database_name(settings.get("database_prefix", "tpcc"), storage),
        "tool": TOOL,
        "tool_version": tool_version,
        "server_version": server_version,
    }
    for name, _title in REPORTED:
        for p in PERCENTILES:
            row["%s_p%d_ms" % (name, p)] = stats["transactions"][name]["p%d_ms" % p]
    return row


def with_ratios(rows, paper_rows):
    """The rows with ``ratio_to_local`` (this row's tpmC over the local row's) and
    ``paper_ratio_to_local`` (the same of Table 1), blank where there is nothing to divide."""
    local = [r["tpmC"] for r in rows if r["storage"] == "local"]
    paper = paper_tpmc(paper_rows)
    out = []
    for row in rows:
        row = dict(row)
        row["ratio_to_local"] = ratio(row["tpmC"], local[0]) if local else None
        row["paper_ratio_to_local"] = (ratio(paper[row["storage"]], paper["local"])
                                       if row["storage"] in paper and "local" in paper else None)
        out.append(row)
    return out


def _cell(value):
    return "" if value is None else value


def csv_text(rows, paper_rows):
    """The report as CSV: a header of ``COLUMNS`` and a row per storage."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in with_ratios(rows, paper_rows):
        writer.writerow([_cell(row.get(c)) for c in COLUMNS])
    return buf.getvalue()


def _ms(row, name):
    p50, p95 = row["%s_p50_ms" % name], row["%s_p95_ms" % name]
    if p50 is None:
        return "-"
    return "%s / %s" % (p50, p95)


def _number(value):
    return "-" if value is None else "{:,}".format(value)


def markdown_text(rows, paper_rows):
    """The report as Markdown: the settings, a row per storage, the Table-1-style comparison with
    the NAS/local ratio beside the paper's, and the consistency verdicts."""
    rows = with_ratios(rows, paper_rows)
    paper = paper_tpmc(paper_rows)
    first = rows[0] if rows else {}
    lines = ["# TPC-C: local versus NAS storage", ""]
    if first:
        lines += [
            "Tool: %s with the collection's TPC-C kit; server: %s."
            % (first["tool_version"], first["server_version"]),
            "Warehouses %s, terminals %s, measured %s s per storage after a ramp-up of %s s; "
            "think and keying times %s s (not a compliant TPC-C result, whose ceiling is %s tpmC "
            "per warehouse)." % (first["warehouses"], first["terminals"], first["seconds"],
                                 first["rampup_seconds"], THINK_TIME_SECONDS,
                                 MAX_TPMC_PER_WAREHOUSE),
            "tpmC: New-Order transactions committed per minute; efficiency: tpmC over that "
            "ceiling. Latencies p50 / p95 in ms.",
            "",
        ]
    lines += ["| storage | file system | tpmC | efficiency | New-Order rolled back | failed | "
              + " | ".join(title for _name, title in REPORTED) + " | consistency |",
              "|---" * (6 + len(REPORTED) + 1) + "|"]
    for row in rows:
        lines.append("| %s | %s | %s | %s %% | %s | %s | %s | %s |" % (
            row["storage"], row["filesystem"], _number(row["tpmC"]),
            _number(row["efficiency_percent"]),
            row["new_order_rolled_back"], row["failed"],
            " | ".join(_ms(row, name) for name, _title in REPORTED), row["consistency"]))
    lines += ["", "| | local tpmC | NAS tpmC | NAS / local |", "|---|---|---|---|"]
    measured = dict((r["storage"], r["tpmC"]) for r in rows)
    lines.append("| this run | %s | %s | %s |" % (
        _number(measured.get("local")), _number(measured.get("nas")),
        _cell(ratio(measured["nas"], measured["local"])) if "local" in measured and "nas" in measured
        else "-"))
    if paper:
        first_paper = (paper_rows or [{}])[0]
        lines.append("| paper, Table 1 (%s warehouses, %s terminals, %s min) | %s | %s | %s |" % (
            first_paper.get("warehouses"), first_paper.get("terminals"), first_paper.get("minutes"),
            _number(paper.get("local")), _number(paper.get("nas")),
            _cell(ratio(paper.get("nas"), paper.get("local"))) if "local" in paper else "-"))
    notes = [r for r in rows if r["storage"] == "nas" and r["filesystem"] not in NETWORK_FILESYSTEMS]
    for row in notes:
        filesystem = row["filesystem"] or "an unknown file system"
        lines += ["", "Note: storage nas is on %s (%s), not a network file system: this run does "
                  "not compare local with NAS storage." % (filesystem, row["path"])]
    return "\n".join(lines) + "\n"


def verdict_problems(rows, run_problems=()):
    """What fails the play after the report is written: a storage whose consistency conditions
    do not hold, named with its database, and the problems of the runs themselves."""
    problems = list(run_problems or [])
    for row in rows:
        if row["consistency"] != "pass":
            problems.append("storage %s (database %s) breaks TPC-C consistency: %s"
                            % (row["storage"], row["database"], row["consistency"][len("fail: "):]))
    return problems


def summary_lines(row):
    """What the play prints for one storage."""
    lines = [
        "TPC-C on %s storage (%s, %s): tool %s; server %s" % (
            row["storage"], row["path"], row["filesystem"], row["tool_version"],
            row["server_version"]),
        "warehouses %s, terminals %s, duration %s s, ramp-up %s s, think time %s s" % (
            row["warehouses"], row["terminals"], row["seconds"], row["rampup_seconds"],
            THINK_TIME_SECONDS),
        "tpmC %s, efficiency %s %% of %s tpmC per warehouse; New-Orders committed %s, rolled back "
        "%s; failed %s" % (_number(row["tpmC"]), _number(row["efficiency_percent"]),
                           MAX_TPMC_PER_WAREHOUSE,
                           row["new_order_committed"], row["new_order_rolled_back"], row["failed"]),
    ]
    for name, title in REPORTED:
        lines.append("%s p50 / p95: %s ms" % (title, _ms(row, name)))
    lines.append("consistency: %s" % row["consistency"])
    return lines
