#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: kingbase_objects
short_description: Users and databases of a Kingbase (or PostgreSQL) server, through its client
version_added: 0.5.0
description:
  - Reads the server's roles (with their stored password verifiers) and databases in one query,
    and runs only the statements that make them as O(users) and O(databases) say.
  - Talks through the engine's own client (C(ksql) for Kingbase, C(psql) for PostgreSQL) on the
    server's Unix socket, run as the OS user O(os_user); the host needs no Python database
    driver.
  - With O(pod), the client runs in that Pod instead (the exec subresource, as C(kubectl exec),
    with the connection options of the other Kubernetes modules), as the kubernetes form of the
    role xinchuang.cloud.kingbase does; its server admits the container's own user on its socket.
    The statements go to the client's input, never into the request's URL (the API server's
    audit log).
  - A password is compared with the stored SCRAM-SHA-256 or MD5 verifier, so a rerun changes
    nothing; a new one is sent as a SCRAM-SHA-256 verifier made here, so the clear text never
    reaches the server or its logs.
  - Users are made before the databases they own, and dropped after them.
author:
  - xinchuang.cloud developers (@xinchuang-cloud)
extends_documentation_fragment:
  - xinchuang.cloud.attributes
  - xinchuang.cloud.kube_auth
options:
  client:
    description: The client binary (C(psql), C(ksql)), on the host or, with O(pod), in the container.
    type: path
    required: true
  os_user:
    description:
      - The OS user the client runs as (peer authentication on the socket). Not used with O(pod)
        (the client runs as the container's user).
    type: str
    default: postgres
  pod:
    description:
      - A Pod whose container runs the server; the client runs there. Unset - on this host.
    type: str
  namespace:
    description: The namespace of O(pod).
    type: str
    default: default
  container:
    description: The container of O(pod) that holds the client; unset - the Pod's only one.
    type: str
  socket_dir:
    description: The directory of the server's Unix socket.
    type: path
    required: true
  port:
    description: The server's port (names the socket).
    type: int
    required: true
  login_user:
    description: The database superuser (C(postgres), Kingbase's C(system)).
    type: str
    default: postgres
  login_db:
    description: The database to connect to (C(postgres), Kingbase's C(test)).
    type: str
    default: postgres
  login_password:
    description: The superuser's password, when the socket asks for one.
    type: str
  password_env:
    description: The environment variable the client reads a password from.
    type: str
    default: PGPASSWORD
  catalog_prefix:
    description: The prefix of the system catalogs (C(pg_); Kingbase's C(sys_)).
    type: str
    choices: [pg_, sys_]
    default: pg_
  users:
    description: Users (roles that log in).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The user's name (letters, digits, C(_), C($)).
        type: str
        required: true
      password:
        description: Its password; none leaves the stored one as it is.
        type: str
      superuser:
        description: Whether it is a superuser.
        type: bool
        default: false
      state:
        description: C(absent) drops it.
        type: str
        choices: [present, absent]
        default: present
  databases:
    description: Databases.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The database's name.
        type: str
        required: true
      owner:
        description: Its owner (one of O(users) or an existing role).
        type: str
      encoding:
        description: Its encoding when made (from C(template0)).
        type: str
      state:
        description: C(absent) drops it.
        type: str
        choices: [present, absent]
        default: present
"""

EXAMPLES = r"""
- name: The same in the Pod of the role's kubernetes form
  xinchuang.cloud.kingbase_objects:
    pod: postgresql-0
    namespace: xinchuang-db
    container: database
    kubeconfig: /etc/xinchuang/admin.kubeconfig
    client: /usr/bin/psql
    socket_dir: /tmp
    port: 5432
    users:
      - {name: app, password: "{{ app_password }}"}
    databases:
      - {name: appdb, owner: app}
  no_log: true

- name: An application's user and database on Debian's PostgreSQL
  xinchuang.cloud.kingbase_objects:
    client: /usr/lib/postgresql/15/bin/psql
    os_user: postgres
    socket_dir: /run/xinchuang-postgresql
    port: 5432
    users:
      - {name: app, password: "{{ app_password }}"}
    databases:
      - {name: appdb, owner: app, encoding: UTF8}
  no_log: true
"""

RETURN = r"""
changes:
  description: What was (or, in check mode, would be) done; no passwords or verifiers.
  returned: always
  type: list
  elements: str
  sample: ["create user app", "create database appdb"]
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.xinchuang.cloud.plugins.module_utils.database import engine as db_engine
from ansible_collections.xinchuang.cloud.plugins.module_utils.cluster import kube
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError


def argument_spec():
    state = dict(type="str", choices=["present", "absent"], default="present")
    spec = kube.kube_auth_argument_spec()
    spec.update(
        pod=dict(type="str"),
        namespace=dict(type="str", default="default"),
        container=dict(type="str"),
    )
    spec.update(
        client=dict(type="path", required=True),
        os_user=dict(type="str", default="postgres"),
        socket_dir=dict(type="path", required=True),
        port=dict(type="int", required=True),
        login_user=dict(type="str", default="postgres"),
        login_db=dict(type="str", default="postgres"),
        login_password=dict(type="str", no_log=True),
        password_env=dict(type="str", default="PGPASSWORD", no_log=False),
        catalog_prefix=dict(type="str", choices=["pg_", "sys_"], default="pg_"),
        users=dict(type="list", elements="dict", default=[], options=dict(
            name=dict(type="str", required=True), password=dict(type="str", no_log=True),
            superuser=dict(type="bool", default=False), state=state)),
        databases=dict(type="list", elements="dict", default=[], options=dict(
            name=dict(type="str", required=True), owner=dict(type="str"), encoding=dict(type="str"),
            state=state)),
    )
    return spec


def run_sql(module, sql, kube_client=None):
    """The statements through the client (as the OS user here, or in the Pod), stopping at the
    first error."""
    params = module.params
    argv = [params["client"], "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", params["socket_dir"],
            "-p", str(params["port"]), "-U", params["login_user"], "-d", params["login_db"], "-f", "-"]
    if params["pod"]:
        if params["login_password"]:
            # A password in a Pod would have to travel in the command line (the audit log).
            raise XinchuangError("login_password is not used with pod: the role's server admits the "
                                 "container's user on its socket; remove login_password")
        where = "pod %s/%s" % (params["namespace"], params["pod"])
        rc, out, err = kube.pod_exec(kube_client, params["namespace"], params["pod"],
                                     params["container"], argv, stdin=sql)
        hint = "check that the Pod is Ready and that its server admits the container's user on the socket"
    else:
        where = "%s:%s" % (params["socket_dir"], params["port"])
        env = {params["password_env"]: params["login_password"]} if params["login_password"] else {}
        rc, out, err = module.run_command(["runuser", "-u", params["os_user"], "--"] + argv, data=sql,
                                          environ_update=env)
        hint = "check that the server runs and that os_user may log in as login_user"
    if rc != 0:
        raise XinchuangError("%s on %s failed (exit %d): %s; %s"
                             % (os.path.basename(params["client"]), where, rc, err.strip(), hint))
    return out


def reconcile(module, kube_client=None):
    """Read once, plan, run the plan's statements (one per line, outside a transaction block:
    CREATE DATABASE cannot run in one) unless in check mode."""
    current = json.loads(run_sql(module, db_engine.objects_query(module.params["catalog_prefix"]) + ";\n",
                                 kube_client))
    plan = db_engine.objects_plan(current, module.params["users"], module.params["databases"], os.urandom(16))
    result = dict(changed=bool(plan["statements"]), changes=plan["changes"])
    if module._diff:
        before = "users: %s\ndatabases: %s\n" % (", ".join(sorted(current["roles"])),
                                                 ", ".join(sorted(current["databases"])))
        result["diff"] = dict(before=before, after=before + "".join(c + "\n" for c in plan["changes"]))
    if plan["statements"] and not module.check_mode:
        run_sql(module, "".join(s + ";\n" for s in plan["statements"]), kube_client)
    return result


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    try:
        result = reconcile(module, kube.api_client(module.params) if module.params["pod"] else None)
    except XinchuangError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
