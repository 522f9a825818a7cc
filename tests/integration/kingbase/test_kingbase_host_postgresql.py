"""The kingbase role's host form, driven by the engine ``postgresql`` (Debian 12's PostgreSQL 15,
which Kingbase KES is derived from) on a real systemd host (a lab container), installed offline
from a local Debian repository standing for the site's mirror. The tasks are those of the engine
``kingbase``; only the values of vars/engine_postgresql.yml differ.

- check mode on the fresh host reports the install and changes nothing;
- the first run makes a server that answers ``select 1`` through its client; a rerun changes
  nothing, in check mode and for real;
- a reload-only key (work_mem, log_min_duration_statement) is live without a restart (the
  postmaster's start time is unchanged); shared_buffers restarts the server (it changes);
- a user and its database are made through the SQL port and the user logs in with its password
  over TCP; scheduled backups (pg_basebackup under a systemd timer) write a base backup;
- bad input (engine kingbase without a license; a data directory holding a cluster of another
  major version, a port held by another process, shared_buffers beyond the memory: all three
  named at once) fails before anything changes.

The engine ``kingbase`` itself (its installer, license and units) is only rendered: see
test_kingbase_render.py.
"""

import pytest

from tests.integration.registry_role.lab_host import (
    LabHost, changed_tasks, debian_repository, failures, run_play,
)
from tests.proof.secrets import leaks

pytestmark = pytest.mark.slow

DATA = "/var/lib/xinchuang/postgresql/15/data"
CONF = DATA + "/postgresql.conf"
UNIT = "/etc/systemd/system/xinchuang-postgresql.service"
SOCKET = "/run/xinchuang-postgresql"
APP = {"kingbase_users": [{"name": "app", "password": "app-s3cret"}],
       "kingbase_databases": [{"name": "appdb", "owner": "app", "encoding": "UTF8"}],
       "kingbase_hba": [{"type": "host", "database": "appdb", "user": "app", "address": "127.0.0.1/32",
                         "method": "scram-sha-256"}]}


def app_with_backups(shared_buffers):
    """The settings of a server in use: APP's user, database and access, backups, and the keys
    of the reload and restart tests with SHARED_BUFFERS."""
    return dict(APP, kingbase_conf={"work_mem": "8MB", "log_min_duration_statement": 250,
                                    "shared_buffers": shared_buffers},
                kingbase_backup_enabled=True, kingbase_backup_dir="/srv/backups",
                kingbase_backup_checkpoint="fast")


def play(host, role_vars=None, check=False, diff=False):
    return run_play([host], {"roles": [{"role": "xinchuang.cloud.kingbase"}]}, check=check, diff=diff,
                    extra_vars=dict({"kingbase_engine": "postgresql"}, **(role_vars or {})))


def sql(host, query):
    """A query through the engine's client as the superuser on the server's socket."""
    return host.run(["runuser", "-u", "postgres", "--", "psql", "-X", "-A", "-t", "-h", SOCKET,
                     "-p", "5432", "-d", "postgres", "-c", query]).stdout.strip()


def started_at(host):
    return sql(host, "select pg_postmaster_start_time()")


def checksum(host, path):
    return host.run(["sha256sum", path]).stdout


@pytest.fixture(scope="module")
def server():
    repo = debian_repository("amd64", ["postgresql-15", "python3-apt"])
    host = LabHost("xc-reg-kingbase", "amd64", repo).start()
    yield host
    host.remove()


def test_check_mode_on_a_fresh_host_changes_nothing(server):
    report, proc = play(server, check=True)
    assert proc.returncode == 0, failures(report, server.name) or proc.stderr[-2000:]
    changed = changed_tasks(report, server.name)
    assert any(t.startswith("OS packages | Say which packages would be installed") for t in changed), changed
    assert server.run(["dpkg-query", "-W", "postgresql-15"], check=False).returncode != 0
    for path in (DATA, UNIT, "/etc/postgresql-common/createcluster.conf"):
        assert server.run(["test", "-e", path], check=False).returncode != 0, path


def test_the_first_run_makes_a_server_that_answers(server):
    report, proc = play(server)
    assert proc.returncode == 0, failures(report, server.name) or proc.stderr[-2000:]
    assert sql(server, "select 1") == "1"
    assert server.run(["systemctl", "is-enabled", "xinchuang-postgresql"]).stdout.strip() == "enabled"
    assert sql(server, "show data_directory") == DATA
    # Debian's packages made no cluster of their own beside the role's.
    assert server.run(["sh", "-c", "ls /etc/postgresql"]).stdout.strip() == ""


def test_a_rerun_changes_nothing_in_check_mode_and_for_real(server):
    for check in (True, False):
        report, proc = play(server, check=check)
        assert proc.returncode == 0, failures(report, server.name) or proc.stderr[-2000:]
        assert changed_tasks(report, server.name) == [], "check mode" if check else "real run"


def test_a_reload_only_key_is_live_without_a_restart(server):
    before = started_at(server)
    report, proc = play(server, {"kingbase_conf": {"work_mem": "8MB", "log_min_duration_statement": 250}},
                        diff=True)
    assert proc.returncode == 0, failures(report, server.name) or proc.stderr[-2000:]
    changed = changed_tasks(report, server.name)
    assert "Kingbase | Reload the server" in changed and not any("Restart" in t for t in changed), changed
    assert sql(server, "show work_mem") == "8MB"
    assert sql(server, "show log_min_duration_statement") == "250ms"
    assert started_at(server) == before, "the server restarted for keys a reload takes"
    assert "work_mem = '8MB'" in server.run(["cat", CONF]).stdout


def test_shared_buffers_restarts_the_server(server):
    before = started_at(server)
    report, proc = play(server, {"kingbase_conf": {"work_mem": "8MB", "log_min_duration_statement": 250,
                                                   "shared_buffers": "256MB"}})
    assert proc.returncode == 0, failures(report, server.name) or proc.stderr[-2000:]
    changed = changed_tasks(report, server.name)
    assert "Kingbase | Restart the server for keys read at start only" in changed, changed
    assert "Kingbase | Reload the server" not in changed
    assert sql(server, "show shared_buffers") == "256MB"
    assert started_at(server) != before, "shared_buffers changed without a restart"


def test_a_user_and_its_database_log_in_and_backups_run(server):
    role_vars = app_with_backups("256MB")
    report, proc = play(server, role_vars)
    assert proc.returncode == 0, failures(report, server.name) or proc.stderr[-2000:]
    assert not leaks(proc.stdout + proc.stderr, {"the app user's password": "app-s3cret"})
    login = server.run(["sh", "-c", "PGPASSWORD=app-s3cret psql -X -A -t -h 127.0.0.1 -p 5432 -U app -d appdb "
                        "-c 'select current_user, current_database()'"])
    assert login.stdout.strip() == "app|appdb"
    wrong = server.run(["sh", "-c", "PGPASSWORD=wrong psql -X -h 127.0.0.1 -U app -d appdb -c 'select 1'"], check=False)
    assert wrong.returncode != 0
    # The timer is there; one backup run now writes a compressed base backup.
    assert server.run(["systemctl", "is-active", "xinchuang-postgresql-backup.timer"]).stdout.strip() == "active"
    server.run(["systemctl", "start", "xinchuang-postgresql-backup.service"], timeout=120)
    assert server.run(["sh", "-c", "ls /srv/backups/*/base.tar.gz"]).returncode == 0
    report, proc = play(server, role_vars)
    assert proc.returncode == 0, failures(report, server.name) or proc.stderr[-2000:]
    assert changed_tasks(report, server.name) == [], "the password or the objects were written again"


def test_kingbase_without_a_license_is_refused_naming_the_variable(server, tmp_path):
    installer = tmp_path / "setup"
    installer.mkdir()
    report, proc = play(server, {"kingbase_engine": "kingbase", "kingbase_system_password": "x",
                                 "kingbase_installers": {"amd64": str(installer)}})
    assert proc.returncode != 0
    text = " ".join(msg for _name, msg in failures(report, server.name))
    assert "kingbase_license_files.amd64" in text and "nothing was changed" in text
    assert changed_tasks(report, server.name) == []
    assert server.run(["test", "-e", "/opt/Kingbase"], check=False).returncode != 0


def test_another_version_a_taken_port_and_too_large_shared_buffers_are_all_named(server):
    server.run(["sh", "-c", "mkdir -p /srv/old && echo 13 >/srv/old/PG_VERSION"])
    server.run(["sh", "-c", "systemd-run --unit xc-port-holder python3 -m http.server 5433"])
    try:
        server.run(["sh", "-c", "for i in $(seq 50); do ss -Hltn 'sport = :5433' | grep -q . && exit 0; "
                    "sleep 0.2; done; exit 1"])
        before_conf, before_start = checksum(server, CONF), started_at(server)
        report, proc = play(server, {"kingbase_data_dir": "/srv/old", "kingbase_port": 5433,
                                     "kingbase_conf": {"shared_buffers": "100TB"}})
    finally:
        server.run(["systemctl", "stop", "xc-port-holder"], check=False)
    assert proc.returncode != 0
    text = " ".join(msg for _name, msg in failures(report, server.name))
    assert "/srv/old holds a cluster of major version 13" in text and "version 15" in text
    assert "port 5433 is taken" in text and "kingbase_port" in text
    assert "kingbase_conf.shared_buffers 100TB" in text and "memory" in text
    assert "nothing was changed" in text
    assert changed_tasks(report, server.name) == []
    assert server.run(["ls", "-A", "/srv/old"]).stdout.split() == ["PG_VERSION"]
    assert checksum(server, CONF) == before_conf and started_at(server) == before_start


def test_a_restart_only_key_a_failed_run_left_in_the_file_is_restarted_for(server):
    """As a run that wrote shared_buffers and failed before its restart: the file says 192MB, the
    server runs with 256MB. The next run writes nothing, and restarts because the server says the
    key waits for a restart (issue 34)."""
    server.run(["sed", "-i", "s/^shared_buffers = .*/shared_buffers = '192MB'/", CONF])
    assert sql(server, "show shared_buffers") == "256MB"
    before = started_at(server)
    # The previous settings, shared_buffers as the file has it now.
    role_vars = app_with_backups("192MB")
    report, proc = play(server, role_vars)
    assert proc.returncode == 0, failures(report, server.name) or proc.stderr[-2000:]
    changed = changed_tasks(report, server.name)
    assert changed == ["Kingbase | Restart the server for keys read at start only"], changed
    assert sql(server, "show shared_buffers") == "192MB"
    assert started_at(server) != before
    report, proc = play(server, role_vars)
    assert changed_tasks(report, server.name) == [], "restarted again with nothing pending"
