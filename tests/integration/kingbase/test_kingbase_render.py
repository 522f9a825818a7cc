"""The engines the kingbase role cannot install here, rendered: the entry point ``render`` writes
the installer's response file and the systemd units each engine would get, on this machine, and
the test reads them. No Kingbase installer, license or image can be had, and none of Dameng or
GBase: these files were never given to a real installer (docs/roles/kingbase.md).
"""

import os
import stat

from tests.integration.ansible_run import run_playbook

PASSWORD = "Render-S3cret"


def render(tmp_path, engine, **role_vars):
    out = tmp_path / engine
    report, proc = run_playbook([{"name": "Render", "ansible.builtin.include_role": {
        "name": "xinchuang.cloud.kingbase", "tasks_from": "render"}}], extra_vars=dict(
            {"kingbase_engine": engine, "kingbase_render_dir": str(out),
             "kingbase_system_password": PASSWORD}, **role_vars))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert PASSWORD not in proc.stdout, "the superuser's password was printed"
    return out


def properties(path):
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))


def test_kingbase_response_file_and_units(tmp_path):
    out = render(tmp_path, "kingbase", kingbase_compatibility_mode="pg", kingbase_case_sensitive=False)
    response = out / "kingbase-install.properties"
    assert stat.S_IMODE(os.stat(response).st_mode) == 0o600
    props = properties(response)
    assert props["INSTALL_PATH"] == "/opt/Kingbase/ES/V9"
    assert props["DATA_PATH"] == "/opt/Kingbase/ES/V9/data"
    assert props["DB_PORT"] == "54321"
    assert props["DB_USER"] == "system" and props["DB_PASS"] == PASSWORD
    assert props["ENCODING_PARAM"] == "UTF8"
    assert props["CASE_SENSITIVE_PARAM"] == "NO" and props["DATABASE_MODE_PARAM"] == "PG"
    assert props["LICENSE_PATH"] == "/opt/Kingbase/ES/V9/Server/bin/license.dat"
    unit = (out / "kingbase.service").read_text()
    assert "ExecStart=/opt/Kingbase/ES/V9/Server/bin/sys_ctl start -D /opt/Kingbase/ES/V9/data" in unit
    assert "ExecReload=/opt/Kingbase/ES/V9/Server/bin/sys_ctl reload" in unit
    assert "User=kingbase" in unit and "PIDFile=/opt/Kingbase/ES/V9/data/postmaster.pid" in unit
    backup = (out / "kingbase-backup.service").read_text()
    assert "/opt/Kingbase/ES/V9/Server/bin/sys_rman" in backup and "--stanza=kingbase" in backup
    assert "OnCalendar=*-*-* 02:30:00" in (out / "kingbase-backup.timer").read_text()


def test_kingbase_paths_port_and_extra_properties_follow_the_variables(tmp_path):
    out = render(tmp_path, "kingbase", kingbase_install_dir="/data/kes", kingbase_data_dir="/data/kes-data",
                 kingbase_port=54329, kingbase_installer_properties={"EXTRA_KEY": "on"})
    props = properties(out / "kingbase-install.properties")
    assert (props["INSTALL_PATH"], props["DATA_PATH"], props["DB_PORT"]) == ("/data/kes", "/data/kes-data", "54329")
    assert props["EXTRA_KEY"] == "on"
    assert "/data/kes/Server/bin/sys_ctl start -D /data/kes-data" in (out / "kingbase.service").read_text()


def test_dameng_and_gbase_are_rendered(tmp_path):
    dm = render(tmp_path, "dameng")
    xml = (dm / "auto_install.xml").read_text()
    assert "<PORT_NUM>5236</PORT_NUM>" in xml and "<SYSDBA_PWD>%s</SYSDBA_PWD>" % PASSWORD in xml
    assert "dmserver /opt/dmdbms/data/DAMENG/dm.ini" in (dm / "DmServiceDMSERVER.service").read_text()
    gbase = render(tmp_path, "gbase")
    assert properties(gbase / "gbase-install.properties")["IAD_SERVER_PORT"] == "9088"
    assert "User=gbasedbt" in (gbase / "gbase8s.service").read_text()
