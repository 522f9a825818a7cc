"""The TPC-C rules of xinchuang.cloud.tpcc (plugins/module_utils/database/tpcc.py): settings refused with
the fix named, the kit and pgbench's command line agreeing with the files the role ships, the
per-transaction log read into tpmC and latency percentiles, the consistency conditions, and the
report with the NAS/local ratio beside the paper's (oracle: docs/paper-tables.yml)."""

import csv
import io
import math
import os
import re

import jinja2
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from ansible.errors import AnsibleFilterError

from tests import paths
from ansible_collections.xinchuang.cloud.plugins.filter import tpcc as tpcc_filters
from ansible_collections.xinchuang.cloud.plugins.module_utils.database import tpcc

ROOT = paths.ROOT
ROLE = os.path.join(ROOT, "roles", "tpcc")

GOOD = {"warehouses": 2, "terminals": 4, "duration": 60, "rampup": 10, "storage": ["local", "nas"],
        "storage_paths": {"local": "/data/tpcc", "nas": "/mnt/nas/tpcc"}, "database_prefix": "tpcc",
        "pgbench_threads": 0}


def paper_rows():
    with open(os.path.join(ROOT, "docs", "paper-tables.yml")) as fh:
        return yaml.safe_load(fh)["tpcc_kingbase"]


# --- settings ---------------------------------------------------------------------------------

def test_good_settings_have_no_problem():
    assert tpcc.settings_problems(GOOD) == []


def test_numbers_given_as_text_on_the_command_line_are_numbers():
    assert tpcc.settings_problems(dict(GOOD, warehouses="2", duration=" 60 ")) == []


@pytest.mark.parametrize("change, words", [
    ({"warehouses": 0}, ["tpcc_warehouses is 0", "at least 1"]),
    ({"warehouses": "two"}, ["tpcc_warehouses is 'two'"]),
    ({"warehouses": True}, ["tpcc_warehouses is True"]),
    ({"terminals": 0}, ["tpcc_terminals is 0", "at least 1"]),
    ({"duration": 0}, ["tpcc_duration is 0", "seconds measured"]),
    ({"rampup": -1}, ["tpcc_rampup is -1", "at least 0"]),
    ({"pgbench_threads": -2}, ["tpcc_pgbench_threads is -2"]),
    ({"storage": []}, ["tpcc_storage is []", "local and nas"]),
    ({"storage": "local"}, ["tpcc_storage is 'local'"]),
    ({"storage": ["local", "san"]}, ["names 'san'", "local or nas"]),
    ({"storage": ["local", "local"]}, ["names local twice"]),
    ({"storage_paths": {"local": "/data/tpcc"}}, ["storage nas has no directory",
                                                  "tpcc_storage_paths.nas", "NFS export"]),
    ({"storage_paths": {"local": "data", "nas": "/mnt/nas"}}, ["tpcc_storage_paths.local is 'data'",
                                                               "absolute"]),
    ({"storage_paths": {"local": "/", "nas": "/mnt/nas"}}, ["tpcc_storage_paths.local is '/'"]),
    ({"storage_paths": {"local": "/srv/t", "nas": "/srv/t/"}}, ["local and nas the same directory /srv/t"]),
    ({"storage_paths": ["/srv"]}, ["tpcc_storage_paths is ['/srv']", "mapping"]),
    ({"database_prefix": "TPCC-1"}, ["tpcc_database_prefix is 'TPCC-1'"]),
    ({"report_dir": "reports"}, ["tpcc_report_dir is 'reports'", "absolute"]),
])
def test_bad_settings_are_named_with_the_fix(change, words):
    problems = tpcc.settings_problems(dict(GOOD, **change))
    assert len(problems) == 1, problems
    for word in words:
        assert word in problems[0], problems[0]


def test_every_problem_is_reported_at_once():
    problems = tpcc.settings_problems(dict(GOOD, warehouses=0, terminals=0, storage=["nas", "disk"],
                                           storage_paths={}))
    text = " | ".join(problems)
    for word in ("tpcc_warehouses is 0", "tpcc_terminals is 0", "'disk'", "storage nas has no directory"):
        assert word in text


PROBE = {"version": "PostgreSQL 15.18", "superuser": True,
         "tablespaces": {"pg_default": "", "pg_global": "", "tpcc_local": "/data/tpcc/"}}


def test_a_server_with_our_tablespace_in_place_can_take_the_run():
    assert tpcc.server_problems(PROBE, GOOD) == []


@pytest.mark.parametrize("probe, words", [
    (dict(PROBE, superuser=False), ["tpcc_db_user is no superuser", "PostgreSQL 15.18"]),
    (dict(PROBE, tablespaces={"tpcc_nas": "/old/nas"}), ["tablespace tpcc_nas exists at /old/nas",
                                                         "set tpcc_storage_paths.nas to /old/nas",
                                                         "DROP TABLESPACE tpcc_nas"]),
    (dict(PROBE, tablespaces={"fast": "/mnt/nas/tpcc"}), ["tpcc_storage_paths.nas /mnt/nas/tpcc is the "
                                                          "directory of the tablespace fast"]),
])
def test_server_problems_name_the_fix(probe, words):
    problems = tpcc.server_problems(probe, GOOD)
    assert len(problems) == 1, problems
    for word in words:
        assert word in problems[0], problems[0]


def test_more_terminals_than_the_server_takes_are_refused():
    probe = dict(PROBE, max_connections=100, connections=1)
    assert tpcc.server_problems(probe, dict(GOOD, terminals=100)) == []
    problems = tpcc.server_problems(probe, dict(GOOD, terminals=101))
    assert problems == ["tpcc_terminals 101 needs 101 connections, but the server takes 100 more "
                        "(max_connections 100, 0 in use): raise max_connections or lower tpcc_terminals"]


def test_pgpass_escapes_colons_and_backslashes():
    assert tpcc.pgpass_line("system", "a:b\\c") == "*:*:*:system:a\\:b\\\\c\n"


# --- the kit ----------------------------------------------------------------------------------

def test_the_mix_is_tpcc_standard_mix_with_one_percent_rollbacks():
    total = sum(row["weight"] for row in tpcc.TRANSACTIONS)
    share = {}
    for row in tpcc.TRANSACTIONS:
        share[row["transaction"]] = share.get(row["transaction"], 0) + row["weight"]
    assert {name: 100.0 * weight / total for name, weight in share.items()} == tpcc.MIX_PERCENT
    rollback = [r["weight"] for r in tpcc.TRANSACTIONS if r["name"] == "new_order_rollback"][0]
    assert 100.0 * rollback / share["new_order"] == tpcc.ROLLBACK_PERCENT
    assert sorted(tpcc.MIX_PERCENT) == sorted(name for name, _title in tpcc.REPORTED)


def test_nurand_constants_follow_clause_2_1_6():
    c = tpcc.NURAND_C
    delta = abs(c["c_last_run"] - c["c_last_load"])
    assert 65 <= delta <= 119 and delta not in (96, 112)
    assert 0 <= c["c_last_load"] <= 255 and 0 <= c["c_last_run"] <= 255
    assert 0 <= c["c_id_c"] <= 1023 and 0 <= c["ol_i_id_c"] <= 8191


def test_the_kit_files_exist_in_the_role():
    entries = tpcc.kit_files("/var/tmp/tpcc")
    for entry in entries:
        if "src" in entry:
            assert os.path.isfile(os.path.join(ROLE, "files", entry["src"])), entry
        else:
            assert os.path.isfile(os.path.join(ROLE, "templates", entry["template"])), entry
        assert entry["dest"].startswith("/var/tmp/tpcc/") and entry["mode"] == "0644"
    assert len({e["dest"] for e in entries}) == len(entries)
    shipped = set(os.listdir(os.path.join(ROLE, "files"))) - {"pgbench"}
    assert shipped == set(tpcc.SQL_FILES), "every SQL file the role ships is installed"


def test_pgbench_runs_each_installed_script_with_its_weight_in_log_order():
    argv = tpcc.pgbench_argv("/usr/bin/pgbench", "/w", "/w/log/local/tpcc", "tpcc_local", "db1", 5432,
                             "postgres", 2, 4, 60, 10)
    installed = {e["dest"] for e in tpcc.kit_files("/w")}
    files = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--file"]
    assert [f.rsplit("@", 1)[1] for f in files] == [str(r["weight"]) for r in tpcc.TRANSACTIONS]
    assert [f.rsplit("@", 1)[0] for f in files] == ["/w/%s.pgbench" % r["name"] for r in tpcc.TRANSACTIONS]
    assert {f.rsplit("@", 1)[0] for f in files} <= installed
    assert argv[0] == "/usr/bin/pgbench" and argv[-1] == "tpcc_local"
    option = dict(zip(argv, argv[1:]))
    assert option["--time"] == "70" and option["--client"] == "4" and option["--jobs"] == "4"
    assert option["--log-prefix"] == "/w/log/local/tpcc" and "--log" in argv and "--no-vacuum" in argv
    defines = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--define"]
    assert "warehouses=2" in defines and "c_last_run=223" in defines


@pytest.mark.parametrize("threads, jobs", [(0, "4"), (2, "2"), (9, "4")])
def test_pgbench_threads_never_exceed_the_terminals(threads, jobs):
    argv = tpcc.pgbench_argv("pgbench", "/w", "/w/l", "d", "h", 1, "u", 1, 4, 1, 0, threads)
    assert argv[argv.index("--jobs") + 1] == jobs


def _script_texts():
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(ROLE, "templates")))
    for row in tpcc.TRANSACTIONS:
        if "template" in row:
            text = env.get_template(row["template"]).render(ansible_managed="managed", **row["vars"])
        else:
            with open(os.path.join(ROLE, "files", row["src"])) as fh:
                text = fh.read()
        yield row["name"], text


def test_every_variable_a_pgbench_script_reads_is_set():
    argv = tpcc.pgbench_argv("pgbench", "/w", "/w/l", "d", "h", 1, "u", 1, 4, 1, 0)
    defined = {argv[i + 1].split("=")[0] for i, arg in enumerate(argv) if arg == "--define"}
    for name, text in _script_texts():
        code = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
        read = set(re.findall(r":([a-z_][a-z0-9_]*)", code))
        set_here = set(re.findall(r"^\\set (\w+)", code, re.M)) | set(re.findall(r"AS (\w+) \\gset", code))
        assert read - set_here - defined - {"client_id"} == set(), name


def test_the_rollback_script_alone_uses_the_unused_item_number():
    texts = dict(_script_texts())
    assert "\\set rollback 1" in texts["new_order_rollback"]
    assert "\\set rollback 0" in texts["new_order"]
    assert texts["new_order"].replace("rollback 0", "rollback 1").splitlines()[3:] == \
        texts["new_order_rollback"].splitlines()[3:]
    assert "ROLLBACK;" in texts["new_order"]


def test_the_loader_reads_the_variables_psql_is_given():
    with open(os.path.join(ROLE, "files", "tpcc_load.sql")) as fh:
        code = "\n".join(line for line in fh.read().splitlines() if not line.lstrip().startswith("--"))
    args = tpcc.loader_args(3)
    given_vars = {args[i + 1].split("=")[0] for i, arg in enumerate(args) if arg == "--set"}
    assert set(re.findall(r"(?<!:):([a-z_]+)", code)) == given_vars
    assert "warehouses=3" in args


# --- pgbench's log ----------------------------------------------------------------------------

def test_a_log_line_is_script_end_and_latency():
    assert tpcc.parse_log_line("0 12 1543 2 1796093991 553909") == (2, 1796093991.553909, 1543)
    assert tpcc.parse_log_line("3 7 failed 0 1796093991 5 1") == (0, 1796093991.000005, None)


@pytest.mark.parametrize("line", ["0 1 2", "a b c d e f", "0 1 100 x 1796093991 1"])
def test_a_line_that_is_not_pgbenchs_is_refused(line):
    with pytest.raises(tpcc.TpccError, match="not a line of pgbench's --log"):
        tpcc.parse_log_line(line)


@given(st.lists(st.integers(min_value=0, max_value=10 ** 6), min_size=1, max_size=200),
       st.sampled_from([50, 95, 99, 100]))
def test_percentile_is_the_nearest_rank(values, percent):
    result = tpcc.percentile(values, percent)
    n = len(values)
    assert result in values
    assert sum(v <= result for v in values) >= percent / 100.0 * n
    assert sum(v < result for v in values) < max(1, math.ceil(percent / 100.0 * n))


def test_percentile_of_nothing_is_none():
    assert tpcc.percentile([], 95) is None


START = 1796000000


def line(script, end_offset, latency_us=1000, client=0):
    end = START + end_offset
    seconds = int(end)
    return "%d 1 %s %d %d %d" % (client, latency_us, script, seconds, round((end - seconds) * 1e6))


def test_rampup_is_left_out_and_tpmc_counts_committed_new_orders():
    # The first transaction started at START (ended 1 ms later); ramp-up 10 s, measured 30 s.
    lines = [line(0, 0.001)]  # ramp-up: not counted
    lines += [line(0, 10.1 + i * 0.25, 2000) for i in range(100)]  # 100 New-Orders in the window
    lines += [line(1, 20, 3000), line(1, 21, 5000)]  # two rolled back
    lines += [line(2, 15, 500 + i) for i in range(40)]  # Payments
    lines += [line(3, 16), line(4, 17), line(5, 18, 7000)]
    lines += [line(2, 25, "failed")]
    lines += [line(0, 40.0005, 2000)]  # after the window (ended at 40 s + 1 ms start offset)
    stats = tpcc.summarize_log(lines, rampup=10, duration=30)
    assert stats["new_order_committed"] == 100
    assert stats["new_order_rolled_back"] == 2
    assert stats["tpmC"] == 200.0
    assert stats["failed"] == 1 and stats["transactions"]["payment"]["failed"] == 1
    new_order = stats["transactions"]["new_order"]
    assert new_order["count"] == 102 and new_order["p50_ms"] == 2.0 and new_order["p95_ms"] == 2.0
    assert stats["transactions"]["payment"]["p50_ms"] == 0.519
    assert stats["transactions"]["stock_level"] == {"count": 1, "failed": 0, "p50_ms": 7.0, "p95_ms": 7.0}
    assert stats["transactions_measured"] == 102 + 40 + 3
    assert stats["logged"] == len(lines) and stats["problems"] == []
    assert stats["window"]["start"] == pytest.approx(START + 10)


def test_the_log_read_twice_gives_what_the_list_gives():
    lines = [line(0, 0.5), line(2, 1.5, 700), line(0, 2.5, 900)]
    start = tpcc.run_start(iter(lines))
    assert start == pytest.approx(START + 0.499)
    assert tpcc.summarize_log(iter(lines), 1, 2, start=start) == tpcc.summarize_log(lines, 1, 2)


def test_a_run_that_stopped_early_is_named():
    stats = tpcc.summarize_log([line(0, 0.001), line(0, 5)], rampup=1, duration=60)
    assert "stopped early" in stats["problems"][0]


PGBENCH_15_OUTPUT = """pgbench (15.18 (Debian 15.18-0+deb12u1))
transaction type: multiple scripts
scaling factor: 1
number of clients: 4
number of threads: 2
duration: 4 s
number of transactions actually processed: 28
latency average = 301.108 ms
initial connection time = 2007.777 ms
tps = 13.298643 (without initial connection time)
"""


def test_the_clients_connection_time_is_read_from_what_pgbench_printed():
    assert tpcc.connection_seconds(PGBENCH_15_OUTPUT) == pytest.approx(2.007777)
    assert tpcc.connection_seconds("initial connection time = 12 ms\n") == pytest.approx(0.012)
    # pgbench before 14 printed no such line; the run then starts at its first transaction.
    assert tpcc.connection_seconds("tps = 85.2 (including connections establishing)\n") == 0.0
    assert tpcc.connection_seconds("") == 0.0 and tpcc.connection_seconds(None) == 0.0


def test_a_window_counted_from_pgbench_start_is_whole_when_clients_connected_slowly():
    # pgbench --time 4 whose two clients took 2 s to connect: transactions from 2 s to 4 s.
    lines = [line(0, 2.3, 300000), line(0, 3.2, 300000), line(0, 4.05, 300000)]
    first = tpcc.run_start(lines)
    assert "stopped early" in tpcc.summarize_log(lines, 0, 4, start=first)["problems"][0]
    stats = tpcc.summarize_log(lines, 0, 4, start=first - tpcc.connection_seconds(PGBENCH_15_OUTPUT))
    assert stats["problems"] == [] and stats["new_order_committed"] == 2  # 4.05 s: after the window


def test_a_transaction_that_never_ran_has_no_latency():
    stats = tpcc.summarize_log([line(0, 1.0)], rampup=0, duration=1)
    assert stats["transactions"]["delivery"] == {"count": 0, "failed": 0, "p50_ms": None, "p95_ms": None}


def test_an_empty_log_or_a_foreign_script_number_is_refused():
    with pytest.raises(tpcc.TpccError, match="empty"):
        tpcc.summarize_log(["", "\n"], 0, 10)
    with pytest.raises(tpcc.TpccError, match="script 6"):
        tpcc.summarize_log([line(6, 1)], 0, 10)


def test_efficiency_is_against_12_86_tpmc_per_warehouse():
    assert tpcc.efficiency_percent(12.86 * 3, 3) == 100.0
    assert tpcc.efficiency_percent(1286, 1) == 10000.0


# --- consistency ------------------------------------------------------------------------------

def district(d_id, **change):
    row = {"w_id": 1, "d_id": d_id, "w_ytd": "300500.00", "sum_d_ytd": "300500.00",
           "d_ytd": "30050.00", "sum_h_amount": "30050.00", "d_next_o_id": 3011, "max_o_id": 3010,
           "max_no_o_id": 3010, "min_no_o_id": 2105, "count_no": 906, "sum_o_ol_cnt": 30100,
           "count_ol": 30100}
    row.update(change)
    return row


def test_consistent_districts_pass():
    assert tpcc.consistency_problems([district(d) for d in range(1, 11)]) == []


@pytest.mark.parametrize("change, words", [
    ({"sum_d_ytd": "300501.00"}, ["condition 1 (W_YTD = sum(D_YTD)) fails for warehouse 1:",
                                  "W_YTD 300500.00, sum(D_YTD) 300501.00"]),
    ({"max_o_id": 3009}, ["condition 2", "warehouse 1 district 3", "max(O_ID) = 3009"]),
    ({"max_no_o_id": 3009, "min_no_o_id": 2104}, ["condition 2", "max(NO_O_ID) = 3009"]),
    ({"count_no": 905}, ["condition 3", "warehouse 1 district 3", "max - min + 1 = 906, rows 905"]),
    ({"count_ol": 30099}, ["condition 4", "warehouse 1 district 3", "rows 30099"]),
    ({"d_ytd": "30051.00"}, ["condition 9 (D_YTD = sum(H_AMOUNT)) fails for warehouse 1 district 3"]),
])
def test_a_broken_condition_names_itself_and_the_district(change, words):
    rows = [district(1), district(2), district(3, **change)]
    if "sum_d_ytd" in change:  # condition 1 is the warehouse's: every district row carries it
        rows = [dict(r, **change) for r in rows]
    problems = tpcc.consistency_problems(rows)
    assert len(problems) == 1, problems
    for word in words:
        assert word in problems[0], problems[0]


def test_ytd_is_compared_as_decimals():
    assert tpcc.consistency_problems([district(1, w_ytd="300500.1", sum_d_ytd="300500.10")]) == []


def test_no_districts_is_no_data():
    assert "no districts" in tpcc.consistency_problems([])[0]


def test_a_district_whose_orders_were_all_delivered_is_checked_on_its_orders():
    delivered = district(1, max_no_o_id=None, min_no_o_id=None, count_no=0)
    assert tpcc.consistency_problems([delivered]) == []
    assert "condition 2" in tpcc.consistency_problems([dict(delivered, max_o_id=3009)])[0]


# --- the report -------------------------------------------------------------------------------

def stats(tpmc):
    entry = {"count": 10, "failed": 0, "p50_ms": 1.5, "p95_ms": 4.25}
    return {"tpmC": tpmc, "new_order_committed": int(tpmc / 2), "new_order_rolled_back": 3,
            "transactions_measured": 100, "failed": 0,
            "transactions": {name: dict(entry) for name, _title in tpcc.REPORTED}}


SETTINGS = {"warehouses": 2, "terminals": 4, "duration": "120", "rampup": 10, "database_prefix": "tpcc"}


def rows(nas_fs="nfs4", consistency=()):
    return [tpcc.result_row(stats(1000.0), "local", SETTINGS, "pgbench (PostgreSQL) 15.18",
                            "PostgreSQL 15.18", "ext4", "/data/tpcc", []),
            tpcc.result_row(stats(720.0), "nas", SETTINGS, "pgbench (PostgreSQL) 15.18",
                            "PostgreSQL 15.18", nas_fs, "/mnt/nas/tpcc", list(consistency))]


def test_csv_has_the_interface_columns_first_and_both_rows():
    table = list(csv.reader(io.StringIO(tpcc.csv_text(rows(), paper_rows()))))
    assert table[0][:5] == ["storage", "warehouses", "terminals", "seconds", "tpmC"]
    assert [r[:5] for r in table[1:]] == [["local", "2", "4", "120", "1000.0"],
                                          ["nas", "2", "4", "120", "720.0"]]
    record = dict(zip(table[0], table[2]))
    assert record["ratio_to_local"] == "0.72"
    assert record["efficiency_percent"] == str(round(72000 / 25.72, 1))
    assert record["think_time_seconds"] == "0" and record["consistency"] == "pass"
    assert record["new_order_p95_ms"] == "4.25" and record["database"] == "tpcc_nas"


def test_the_papers_ratio_comes_from_table_1():
    table = {r["storage"]: r["tpmC"] for r in paper_rows()}
    expected = round(float(table["nas"]) / table["local"], 2)
    record = list(csv.DictReader(io.StringIO(tpcc.csv_text(rows(), paper_rows()))))[1]
    assert float(record["paper_ratio_to_local"]) == expected
    markdown = tpcc.markdown_text(rows(), paper_rows())
    assert "| paper, Table 1 (100 warehouses, 200 terminals, 10 min) | 1,290,000 | 930,000 | %s |" \
        % expected in markdown
    assert "| this run | 1,000.0 | 720.0 | 0.72 |" in markdown


def test_markdown_states_tool_settings_and_think_time():
    markdown = tpcc.markdown_text(rows(), paper_rows())
    assert "Tool: pgbench (PostgreSQL) 15.18" in markdown
    assert "Warehouses 2, terminals 4, measured 120 s per storage after a ramp-up of 10 s" in markdown
    assert "think and keying times 0 s" in markdown and "12.86" in markdown
    assert "| nas | nfs4 | 720.0 |" in markdown
    assert "not a network file system" not in markdown


def test_markdown_warns_when_nas_is_not_on_network_storage():
    assert "storage nas is on ext4 (/mnt/nas/tpcc), not a network file system" in \
        tpcc.markdown_text(rows(nas_fs="ext4"), paper_rows())


def test_one_storage_has_no_ratio():
    markdown = tpcc.markdown_text(rows()[:1], paper_rows())
    assert "| this run | 1,000.0 | - | - |" in markdown


def test_the_verdict_names_the_storage_database_and_condition():
    broken = rows(consistency=["condition 1 (W_YTD = sum(D_YTD)) fails for warehouse 1: ..."])
    assert tpcc.verdict_problems(rows()) == []
    assert tpcc.verdict_problems(broken, ["local: stopped early"]) == [
        "local: stopped early",
        "storage nas (database tpcc_nas) breaks TPC-C consistency: condition 1 (W_YTD = sum(D_YTD)) "
        "fails for warehouse 1: ..."]


def test_summary_prints_the_tool_settings_tpmc_efficiency_and_latencies():
    text = "\n".join(tpcc.summary_lines(rows()[1]))
    for words in ("tool pgbench (PostgreSQL) 15.18", "warehouses 2, terminals 4, duration 120 s, "
                  "ramp-up 10 s, think time 0 s", "tpmC 720.0, efficiency", "rolled back 3",
                  "New-Order p50 / p95: 1.5 / 4.25 ms", "Stock-Level p50 / p95", "consistency: pass"):
        assert words in text


# --- the filters ------------------------------------------------------------------------------

def test_every_filter_is_documented():
    filters = tpcc_filters.FilterModule().filters()
    for name in filters:
        path = os.path.join(ROOT, "plugins", "filter", name + ".yml")
        assert os.path.isfile(path), name
        with open(path) as fh:
            assert yaml.safe_load(fh)["DOCUMENTATION"]["name"] == name


def test_a_filter_reports_a_rule_error_as_a_filter_error():
    with pytest.raises(AnsibleFilterError, match="no number w_ytd"):
        tpcc_filters.FilterModule().filters()["tpcc_consistency_problems"]([district(1, w_ytd="abc")])
