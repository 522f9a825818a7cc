"""The database engine rules of xinchuang.cloud.kingbase (plugins/module_utils/database/engine.py):
restart or reload, sizes, the host checks, configuration lines, hba entries, users and
databases."""

import base64
import hashlib

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.database import engine as db

PROBE_OK = "data_dir_exists=1\ndata_dir_entries=0\ndata_dir_version=\nour_pid=\nmem_total_kb=8000000\ncgroup_memory_max=max\n"


# --- restart or reload -----------------------------------------------------------------------

@pytest.mark.parametrize("keys", [["shared_buffers"], ["port"], ["max_connections"], ["listen_addresses"],
                                  ["work_mem", "shared_preload_libraries"]])
def test_a_key_read_at_start_only_restarts(keys):
    assert db.conf_action(keys) == "restart"


@pytest.mark.parametrize("keys", [["work_mem"], ["log_min_duration_statement"], ["autovacuum_naptime"]])
def test_other_keys_only_reload(keys):
    assert db.conf_action(keys) == "reload"


def test_nothing_changed_needs_nothing_and_hba_alone_reloads():
    assert db.conf_action([]) == "none"
    assert db.conf_action([], other_reload=True) == "reload"
    assert db.conf_action(["port"], other_reload=True) == "restart"


def test_an_engine_without_a_reload_table_always_restarts():
    assert db.conf_action(["work_mem"], rule="always") == "restart"
    assert db.conf_action([], other_reload=True, rule="always") == "reload"
    with pytest.raises(db.DbEngineError, match="'sometimes'"):
        db.conf_action(["x"], rule="sometimes")


def test_the_restart_table_is_postgresql_15s():
    # From pg_settings of Debian's PostgreSQL 15 (context = 'postmaster'): a sample that must hold.
    assert {"shared_buffers", "port", "max_connections", "listen_addresses", "wal_level",
            "max_wal_senders", "huge_pages", "unix_socket_directories"} <= db.POSTMASTER_KEYS
    assert not {"work_mem", "log_min_duration_statement", "maintenance_work_mem",
                "effective_cache_size"} & db.POSTMASTER_KEYS
    assert not db.POSTMASTER_KEYS & db.INTERNAL_KEYS


# --- sizes -----------------------------------------------------------------------------------

@pytest.mark.parametrize("value, default, expected", [
    ("128MB", "1B", 128 * 1024 ** 2), ("8kB", "1B", 8192), ("1GB", "1B", 1024 ** 3), ("2TB", "1B", 2 * 1024 ** 4),
    ("16384", "8kB", 16384 * 8192), (16384, "8kB", 134217728), ("100 B", "1B", 100),
])
def test_sizes_read_as_postgresql_reads_them(value, default, expected):
    assert db.size_bytes(value, default) == expected


@pytest.mark.parametrize("value", ["128Mi", "1.5GB", "-1MB", "lots", True, "128mb"])
def test_a_size_that_is_not_one_names_the_value_and_the_units(value):
    with pytest.raises(db.DbEngineError) as err:
        db.size_bytes(value, name="kingbase_conf.shared_buffers")
    assert "kingbase_conf.shared_buffers" in str(err.value) and repr(value) in str(err.value)


# --- inputs ----------------------------------------------------------------------------------

def test_postgresql_on_a_host_needs_nothing_more():
    assert db.input_problems("host", "postgresql", "amd64") == []


def test_kingbase_needs_license_installer_and_password_for_this_architecture():
    problems = db.input_problems("host", "kingbase", "arm64", {"amd64": "/b/license.dat"}, "", {"amd64": "/b/setup"})
    text = " | ".join(problems)
    assert len(problems) == 3
    assert "kingbase_license_files.arm64" in text and "kingbase_installers.arm64" in text
    assert "kingbase_system_password" in text
    assert db.input_problems("host", "kingbase", "arm64", {"arm64": "/l"}, "pw", {"arm64": "/s"}) == []


def test_a_license_path_missing_on_the_controller_is_named():
    (problem,) = db.input_problems("host", "kingbase", "amd64", {"amd64": "/b/license.dat"}, "pw",
                                   {"amd64": "/b/setup"}, missing_paths=["/b/license.dat"])
    assert "kingbase_license_files.amd64 /b/license.dat does not exist on the controller" in problem


def test_bad_form_and_engine_are_named_and_both_forms_are_taken():
    text = " | ".join(db.input_problems("vm", "oracle"))
    assert "kingbase_deploy 'vm'" in text and "kingbase_engine 'oracle'" in text
    assert db.choice_problems("kubernetes", "postgresql") == db.choice_problems("host", "postgresql") == []
    assert "rendered only" in db.choice_problems("kubernetes", "dameng")[0]


@pytest.mark.parametrize("engine", ["dameng", "gbase"])
def test_rendered_only_engines_are_refused_by_main_and_taken_by_render(engine):
    (problem,) = db.choice_problems("host", engine)
    assert "rendered only" in problem and "tasks_from: render" in problem
    assert db.choice_problems("host", engine, entry="render") == []


def test_conf_and_hba_problems_join_the_input_problems():
    text = " | ".join(db.input_problems("host", "postgresql", conf={"block_size": 1}, hba=[{"type": "x", "method": "md5"}]))
    assert "'block_size'" in text and "kingbase_hba[0]" in text


# --- the host --------------------------------------------------------------------------------

def test_an_empty_directory_a_free_port_and_enough_memory_pass():
    assert db.host_problems(PROBE_OK, "15", "/srv/db", 5432) == []


def test_a_cluster_of_the_same_version_is_kept():
    probe = PROBE_OK.replace("data_dir_entries=0", "data_dir_entries=20").replace("data_dir_version=", "data_dir_version=15")
    assert db.host_problems(probe, "15", "/srv/db", 5432) == []


def test_a_cluster_of_another_version_is_refused():
    probe = PROBE_OK.replace("data_dir_entries=0", "data_dir_entries=20").replace("data_dir_version=", "data_dir_version=13")
    (problem,) = db.host_problems(probe, "15", "/srv/db", 5432)
    assert "/srv/db" in problem and "version 13" in problem and "version 15" in problem and "kingbase_data_dir" in problem


def test_a_directory_with_other_files_is_refused():
    probe = PROBE_OK.replace("data_dir_entries=0", "data_dir_entries=2")
    (problem,) = db.host_problems(probe, "15", "/srv/db", 5432)
    assert "not empty" in problem and "PG_VERSION" in problem


def test_a_port_held_by_another_process_is_refused_naming_it():
    probe = PROBE_OK + 'listen=LISTEN 0 5 0.0.0.0:5432 0.0.0.0:* users:(("python3",pid=77,fd=3))\n'
    (problem,) = db.host_problems(probe, "15", "/srv/db", 5432)
    assert "port 5432" in problem and "python3 (pid 77)" in problem and "kingbase_port" in problem


def test_a_port_held_by_our_own_server_is_fine():
    probe = (PROBE_OK.replace("our_pid=", "our_pid=500")
             + 'listen=LISTEN 0 244 0.0.0.0:5432 0.0.0.0:* users:(("postgres",pid=500,fd=6))\n'
             + 'listen=LISTEN 0 244 [::]:5432 [::]:* users:(("postgres",pid=500,fd=7))\n')
    assert db.host_problems(probe, "15", "/srv/db", 5432) == []


def test_without_process_names_the_postmaster_pid_port_decides():
    probe = PROBE_OK + "listen=LISTEN 0 244 0.0.0.0:5432 0.0.0.0:*\n"
    assert db.host_problems(probe.replace("our_pid=", "our_pid=500\nour_port=5432"), "15", "/srv/db", 5432) == []
    (problem,) = db.host_problems(probe.replace("our_pid=", "our_pid=500\nour_port=5433"), "15", "/srv/db", 5432)
    assert "another process" in problem
    assert db.host_problems(probe, "15", "/srv/db", 5432)


def test_shared_buffers_beyond_the_memory_is_refused_and_the_cgroup_limit_counts():
    (problem,) = db.host_problems(PROBE_OK, "15", "/srv/db", 5432, shared_buffers="64GB")
    assert "kingbase_conf.shared_buffers 64GB" in problem and "75 %" in problem
    limited = PROBE_OK.replace("cgroup_memory_max=max", "cgroup_memory_max=%d" % (256 * 1024 ** 2))
    assert db.host_problems(limited, "15", "/srv/db", 5432, shared_buffers="256MB")
    assert db.host_problems(limited, "15", "/srv/db", 5432, shared_buffers="128MB") == []


def test_every_host_problem_is_reported_at_once():
    probe = (PROBE_OK.replace("data_dir_entries=0", "data_dir_entries=3").replace("data_dir_version=", "data_dir_version=9.6")
             + 'listen=LISTEN 0 5 *:54321 *:* users:(("nc",pid=9,fd=3))\n')
    assert len(db.host_problems(probe, "12", "/opt/Kingbase/data", 54321, shared_buffers="1TB")) == 3


# --- configuration ---------------------------------------------------------------------------

def test_conf_lines_quote_text_and_replace_the_commented_default():
    lines = db.conf_lines({"shared_buffers": "256MB", "port": 5433, "jit": False, "log_timezone": "Asia/Shanghai",
                           "work_mem": "4MB", "search_path": "it's", "random_page_cost": "1.1"})
    by_key = {item["key"]: item["line"] for item in lines}
    assert [item["key"] for item in lines] == sorted(by_key)
    assert by_key["port"] == "port = 5433" and by_key["jit"] == "jit = off"
    assert by_key["shared_buffers"] == "shared_buffers = '256MB'"
    assert by_key["search_path"] == "search_path = 'it''s'"
    assert by_key["random_page_cost"] == "random_page_cost = 1.1"
    import re
    pattern = re.compile(lines[0]["regexp"])
    assert pattern.match("#jit = on\t\t# allow JIT compilation") and pattern.match("jit=off")
    assert not pattern.match("#jit_above_cost = 100000")


def test_bad_conf_keys_are_all_named():
    with pytest.raises(db.DbEngineError) as err:
        db.conf_lines({"block_size": 16384, "bad key": 1, "work_mem": None})
    text = str(err.value)
    assert "'block_size'" in text and "'bad key'" in text and "'work_mem'" in text


def test_hba_block_writes_entries_in_order_and_refuses_bad_ones():
    block = db.hba_block([{"type": "local", "database": "all", "user": "app", "method": "peer"},
                          {"type": "host", "database": "app", "user": "app", "address": "127.0.0.1/32",
                           "method": "scram-sha-256"}])
    first, second = block.splitlines()
    assert first.split() == ["local", "all", "app", "peer"]
    assert second.split() == ["host", "app", "app", "127.0.0.1/32", "scram-sha-256"]
    with pytest.raises(db.DbEngineError) as err:
        db.hba_block([{"type": "hots", "method": "md5"}, {"type": "host", "method": "scram-sha-256"},
                      {"type": "local", "address": "1.2.3.4/32", "method": "peer"}, {"type": "host", "address": "::1/128", "method": "magic"}])
    text = str(err.value)
    for word in ("kingbase_hba[0]", "'hots'", "kingbase_hba[1]", "needs an address", "kingbase_hba[2]", "kingbase_hba[3]", "'magic'"):
        assert word in text


# --- users and databases ---------------------------------------------------------------------

SALT = b"0123456789abcdef"


def test_the_scram_verifier_is_postgresqls():
    # RFC 7677's worked values are for SCRAM-SHA-256 with the password "pencil".
    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    verifier = db.scram_verifier("pencil", salt, 4096)
    stored, server = verifier.split("$")[2].split(":")
    salted = hashlib.pbkdf2_hmac("sha256", b"pencil", salt, 4096)
    assert base64.b64decode(server) == __import__("hmac").new(salted, b"Server Key", hashlib.sha256).digest()
    assert verifier.startswith("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$")
    assert db.password_matches(verifier, "u", "pencil") and not db.password_matches(verifier, "u", "pen")


def test_md5_and_unknown_verifiers():
    md5 = "md5" + hashlib.md5(b"secretapp").hexdigest()
    assert db.password_matches(md5, "app", "secret") and not db.password_matches(md5, "app", "other")
    assert not db.password_matches(None, "app", "secret")
    assert not db.password_matches("SM3$whatever", "app", "secret")


def test_a_new_user_and_database_are_created_user_first_with_a_verifier():
    plan = db.objects_plan({"roles": {"postgres": {"superuser": True, "login": True}}, "databases": {}},
                           [{"name": "app", "password": "s3cret"}], [{"name": "appdb", "owner": "app", "encoding": "UTF8"}], SALT)
    create_role, create_db = plan["statements"]
    assert create_role.startswith('CREATE ROLE "app" LOGIN NOSUPERUSER PASSWORD \'SCRAM-SHA-256$4096:')
    assert "s3cret" not in create_role and "s3cret" not in " ".join(plan["changes"])
    assert create_db == 'CREATE DATABASE "appdb" OWNER "app" ENCODING \'UTF8\' TEMPLATE template0'


def test_what_the_server_has_already_changes_nothing():
    current = {"roles": {"app": {"password": db.scram_verifier("s3cret", b"x" * 16), "superuser": False, "login": True}},
               "databases": {"appdb": {"owner": "app"}}}
    plan = db.objects_plan(current, [{"name": "app", "password": "s3cret"}], [{"name": "appdb", "owner": "app"}], SALT)
    assert plan == {"statements": [], "changes": []}


def test_a_new_password_an_owner_and_drops():
    current = {"roles": {"app": {"password": db.scram_verifier("old", b"x" * 16), "superuser": False, "login": True},
                         "gone": {"password": None, "superuser": False, "login": True}},
               "databases": {"appdb": {"owner": "postgres"}, "olddb": {"owner": "gone"}}}
    plan = db.objects_plan(current, [{"name": "app", "password": "new"}, {"name": "gone", "state": "absent"}],
                           [{"name": "appdb", "owner": "app"}, {"name": "olddb", "state": "absent"}], SALT)
    assert plan["statements"][0].startswith('ALTER ROLE "app" LOGIN NOSUPERUSER PASSWORD')
    assert plan["statements"][1:] == ['ALTER DATABASE "appdb" OWNER TO "app"', 'DROP DATABASE "olddb"', 'DROP ROLE "gone"']


@pytest.mark.parametrize("name", ['x"; DROP TABLE t; --', "1abc", "", "a" * 64, None])
def test_names_that_are_not_plain_identifiers_are_refused(name):
    with pytest.raises(db.DbEngineError, match="kingbase_users name"):
        db.objects_plan({}, [{"name": name}], [], SALT)


def test_the_read_query_uses_the_engines_catalog():
    assert "FROM sys_authid" in db.objects_query("sys_") and "pg_" not in db.objects_query("sys_")
    assert "FROM pg_database" in db.objects_query()
