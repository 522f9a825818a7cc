# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reconcilers of harbor_project, harbor_registry, harbor_robot and harbor_info.

The I/O half of the Harbor modules: read the object, compare it with the task (pure, in
``harbor_policy``), check everything that could refuse the change (names, quota below
usage, proxy cache or type changes, an unreachable endpoint, a missing project) and only
then write, through ``harbor_api.HarborApi``. Check mode reads and reports; diff mode
returns the compared fields before and after.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.xinchuang.cloud.plugins.module_utils.harbor import policy as hp
from ansible_collections.xinchuang.cloud.plugins.module_utils.harbor.api import path_segment


# Registry endpoints (and quotas) are system objects: Harbor shows and changes them to system
# administrators only.
ADMIN_ONLY = ("registry endpoints are read and managed by Harbor system administrators only: "
              "use one")
QUOTA_ADMIN_ONLY = ("project quotas are changed by Harbor system administrators only: use one, "
                    "or leave storage_quota out")


def _result(api, changed, **extra):
    out = {"changed": changed, "requests": api.requests, "writes": api.writes}
    out.update(extra)
    return out


def _diff(before, after, fields):
    def pick(state):
        return None if state is None else dict((k, state.get(k)) for k in fields)
    return {"before": pick(before), "after": pick(after)}


def registry_names(api):
    """{registry endpoint id: name}."""
    return dict((r["id"], r["name"])
                for r in api.list("/registries", "listing registry endpoints",
                                  fixes={403: ADMIN_ONLY}))


def find_registry(api, name):
    """The registry endpoint called ``name`` (Harbor's ``q=name=`` is a filter; the exact
    name is checked here), or None."""
    for item in api.list("/registries", "looking up registry endpoint %r" % name,
                         query={"q": "name=%s" % name}, fixes={403: ADMIN_ONLY}):
        if item.get("name") == name:
            return item
    return None


class Reconciler(object):
    """One Harbor object: ``run()`` reads, compares, checks, writes; returns the result."""

    def __init__(self, api, params, check_mode=False, want_diff=False):
        self.api, self.params = api, params
        self.check_mode, self.want_diff = check_mode, want_diff

    def _done(self, changed, before, after, **extra):
        """The result: ``changed``, the request counts, ``extra``, and in diff mode the
        compared fields before and after."""
        out = _result(self.api, changed, **extra)
        if self.want_diff:
            out["diff"] = _diff(before, after, self.FIELDS)
        return out

    @classmethod
    def for_module(cls, api, module):
        """The ``reconcile`` of harbor_api.run_module: the module's object, reconciled."""
        return cls(api, module.params, module.check_mode, module._diff).run()


def read_project(api, name):
    """(Project, its state) or (None, None). The quota and proxy cache endpoint come from the
    project's summary, which its members may read (Harbor's quota and registry lists are for
    system administrators)."""
    project = api.get("/projects/%s" % path_segment(name), "reading project %r" % name)
    if project is None:
        return None, None
    _status, summary, _headers = api.call("GET", "/projects/%s/summary" % path_segment(name),
                                          "reading the summary of project %r" % name)
    summary = summary or {}
    return project, hp.project_state(project, summary.get("quota"),
                                     (summary.get("registry") or {}).get("name"))


class ProjectReconciler(Reconciler):
    FIELDS = ("name",) + hp.PROJECT_FIELDS

    def run(self):
        p = self.params
        if p["state"] == "absent":
            return self._absent(hp.check_name("project", p["name"]))
        desired = hp.desired_project(p)
        project, current = read_project(self.api, desired["name"])
        registry_id = None
        if desired["proxy_cache_registry"] and current is None:
            names = registry_names(self.api)
            ids = [i for i, n in names.items() if n == desired["proxy_cache_registry"]]
            if not ids:
                raise hp.HarborError(
                    "proxy_cache_registry %r of project %r is not a registry endpoint of Harbor "
                    "%s (it has: %s); create it first with xinchuang.cloud.harbor_registry"
                    % (desired["proxy_cache_registry"], desired["name"], self.api.url,
                       ", ".join(sorted(names.values())) or "none"))
            registry_id = ids[0]
        changes = hp.project_changes(current, desired)
        hp.check_project_change(current, changes, self.api.url)
        after = dict(current or {"name": desired["name"], "public": False, "auto_scan": False,
                                 "storage_quota": None, "storage_used": 0,
                                 "proxy_cache_registry": None, "project_id": None,
                                 "repo_count": 0})
        after.update(changes)
        changed = current is None or bool(changes)
        if changed and not self.check_mode:
            if current is None:
                self._create(desired, registry_id)
            else:
                self._update(current, changes)
            _project, after = read_project(self.api, desired["name"])
        return self._done(changed, current, after, project=hp.project_view(after),
                          changes=sorted(changes))

    def _create(self, desired, registry_id):
        name = desired["name"]
        self.api.call("POST", "/projects", "creating project %r" % name,
                      body=hp.project_create_body(desired, registry_id), ok=(201,), fixes={
                          409: "project %r was created by someone else meanwhile: run the "
                               "task again to compare and update it" % name,
                          403: "creating projects is restricted to Harbor system "
                               "administrators (always so for a proxy cache project): use "
                               "one, or change project_creation_restriction"})

    def _update(self, current, changes):
        name = current["name"]
        # Every read first: a quota the user may not set fails before the metadata is written.
        quota_id = self._quota_id(current) if "storage_quota" in changes else None
        body = hp.project_metadata_body(changes)
        if body:
            self.api.call("PUT", "/projects/%s" % path_segment(name),
                          "updating the metadata of project %r" % name, body=body,
                          fixes={404: "project %r was deleted meanwhile: run the task again"
                                      % name})
        if quota_id is not None:
            self.api.call("PUT", "/quotas/%d" % quota_id,
                          "setting the storage quota of project %r to %s"
                          % (name, hp.format_size(changes["storage_quota"])),
                          body={"hard": {"storage": changes["storage_quota"]}},
                          fixes={403: QUOTA_ADMIN_ONLY})

    def _quota_id(self, current):
        name = current["name"]
        quotas = self.api.list("/quotas", "reading the quota of project %r" % name,
                               query={"reference": "project",
                                      "reference_id": str(current["project_id"])},
                               fixes={403: QUOTA_ADMIN_ONLY})
        if not quotas:
            raise hp.HarborError(
                "project %r of Harbor %s has no quota to set; enable quota per project in "
                "Harbor's configuration (quota_per_project_enable)" % (name, self.api.url))
        return quotas[0]["id"]

    def _absent(self, name):
        _project, current = read_project(self.api, name)
        if current is not None:
            _status, deletable, _headers = self.api.call(
                "GET", "/projects/%s/_deletable" % path_segment(name),
                "checking that project %r can be deleted" % name)
            if deletable and not deletable.get("deletable", True):
                raise hp.HarborError(
                    "project %r of Harbor %s cannot be deleted: %s; delete its repositories "
                    "first (or keep state: present)" % (name, self.api.url,
                                                        deletable.get("message")))
            if not self.check_mode:
                self.api.call("DELETE", "/projects/%s" % path_segment(name),
                              "deleting project %r" % name, fixes={
                                  412: "delete the repositories of project %r first (or keep "
                                       "state: present)" % name})
        return self._done(current is not None, current, None, project=None)


class RegistryReconciler(Reconciler):
    FIELDS = ("name",) + hp.REGISTRY_FIELDS

    def run(self):
        p = self.params
        name = p["name"]
        found = find_registry(self.api, name)
        current = hp.registry_state(found)
        if p["state"] == "absent":
            return self._absent(current)
        desired = hp.desired_registry(p)
        if current is None and not desired["type"]:
            raise hp.HarborError("registry endpoint %r does not exist in Harbor %s; give its "
                                 "type (e.g. docker-registry, harbor, docker-hub) to create it"
                                 % (name, self.api.url))
        if current is not None and desired["type"] and desired["type"] != current["type"]:
            raise hp.HarborError(
                "registry endpoint %r of Harbor %s has type %r, not %r; Harbor cannot change "
                "the type of an endpoint: delete it (state: absent) and create it again"
                % (name, self.api.url, current["type"], desired["type"]))
        changes = hp.registry_changes(current, desired)
        secret = p.get("access_secret")
        send_secret = secret is not None and (current is None or p["update_secret"] == "always")
        if current is None:
            self._check_type(desired["type"])
        if current is None or send_secret or set(changes) & {"endpoint_url", "access_key",
                                                             "insecure"}:
            merged = dict(current or {}, **desired)
            for key in ("type", "endpoint_url", "access_key", "insecure"):
                if desired.get(key) is None and current is not None:
                    merged[key] = current[key]
            self._ping(merged, secret if send_secret else None,
                       None if current is None else current["id"])
        changed = bool(changes) or (send_secret and current is not None) or current is None
        after = dict(current or {}, **dict((k, v) for k, v in desired.items()
                                           if v is not None))
        if changed and not self.check_mode:
            if current is None:
                self.api.call("POST", "/registries", "creating registry endpoint %r" % name,
                              body=hp.registry_create_body(desired, secret), ok=(201,), fixes={
                                  409: "a registry endpoint named %r was created meanwhile: run "
                                       "the task again" % name,
                                  403: ADMIN_ONLY})
            else:
                self.api.call("PUT", "/registries/%d" % current["id"],
                              "updating registry endpoint %r" % name,
                              body=hp.registry_update_body(changes,
                                                           secret if send_secret else None),
                              fixes={403: ADMIN_ONLY,
                                     409: "another registry endpoint already has that name or "
                                          "URL"})
            after = hp.registry_state(find_registry(self.api, name))
        return self._done(changed, current, after, registry=hp.registry_view(after),
                          changes=sorted(changes) + (["access_secret"] if send_secret else []))

    def _check_type(self, kind):
        _status, types, _headers = self.api.call(
            "GET", "/replication/adapters", "listing the registry types Harbor supports",
            fixes={403: ADMIN_ONLY})
        if types and kind not in types:
            raise hp.HarborError("type %r of registry endpoint %r is not a registry type of "
                                 "Harbor %s; use one of: %s" % (kind, self.params["name"],
                                                                self.api.url,
                                                                ", ".join(sorted(types))))

    def _ping(self, desired, secret, current_id):
        name, url = self.params["name"], desired["endpoint_url"]
        self.api.call(
            "POST", "/registries/ping", "checking that Harbor reaches endpoint_url %r of "
            "registry endpoint %r" % (url, name),
            body=hp.registry_ping_body(desired, secret, current_id), write=False, fixes={
                400: "endpoint_url %r is unreachable from Harbor or refuses the credentials: "
                     "check the URL, access_key and access_secret, and insecure: true for a "
                     "certificate Harbor does not trust; nothing was changed" % url,
                403: ADMIN_ONLY})

    def _absent(self, current):
        name = self.params["name"]
        if current is not None and not self.check_mode:
            self.api.call("DELETE", "/registries/%d" % current["id"],
                          "deleting registry endpoint %r" % name, fixes={
                              412: "registry endpoint %r is still used by proxy cache projects "
                                   "or replication rules: delete or change them first" % name,
                              403: ADMIN_ONLY})
        return self._done(current is not None, current, None, registry=None)


class RobotReconciler(Reconciler):
    FIELDS = ("name",) + hp.ROBOT_FIELDS

    def _find(self, project_id, desired):
        robots = self.api.list("/robots", "listing the robots of project %r" % desired["project"],
                               query={"q": "Level=project,ProjectID=%d" % project_id})
        for robot in robots:
            if hp.robot_matches(robot.get("name"), desired["project"], desired["name"]):
                return robot
        return None

    def run(self):
        p = self.params
        desired = hp.desired_robot(p)
        what = "robot %r of project %r" % (desired["name"], desired["project"])
        project = self.api.get("/projects/%s" % path_segment(desired["project"]),
                               "reading project %r" % desired["project"])
        if project is None:
            if p["state"] == "absent":
                return _result(self.api, False, robot=None)
            raise hp.HarborError(
                "%s: project %r does not exist in Harbor %s, so no permission can be granted "
                "on it; create it first with xinchuang.cloud.harbor_project (or fix project)"
                % (what, desired["project"], self.api.url))
        current = hp.robot_state(self._find(project["project_id"], desired))
        if p["state"] == "absent":
            if current is not None and not self.check_mode:
                self.api.call("DELETE", "/robots/%d" % current["id"], "deleting %s" % what)
            return self._done(current is not None, current, None, robot=None)
        if current is None and desired["duration_days"] is None:
            desired["duration_days"] = -1
        changes = hp.robot_changes(current, desired)
        rotate = bool(p.get("rotate")) and current is not None
        changed = current is None or bool(changes) or rotate
        after = dict(current or {"id": None, "name": None, "expires_at": None,
                                 "description": "", "disable": False},
                     **dict((k, v) for k, v in desired.items()
                            if k in hp.ROBOT_FIELDS and v is not None))
        secret = None
        if changed and not self.check_mode:
            fixes = {403: "the user may not manage robots of project %r: use a project "
                          "administrator or a Harbor system administrator" % desired["project"],
                     404: "project %r was deleted meanwhile" % desired["project"]}
            if current is None:
                fixes[409] = ("a robot with that name was created meanwhile: run the task "
                              "again (its secret cannot be read back: rotate: true makes a new "
                              "one)")
                _status, created, _headers = self.api.call(
                    "POST", "/robots", "creating %s" % what, body=hp.robot_create_body(desired),
                    ok=(201,), fixes=fixes)
                secret = (created or {}).get("secret")
            else:
                if changes:
                    self.api.call("PUT", "/robots/%d" % current["id"], "updating %s" % what,
                                  body=hp.robot_update_body(current, desired), fixes=fixes)
                if rotate:
                    _status, sec, _headers = self.api.call(
                        "PATCH", "/robots/%d" % current["id"], "rotating the secret of %s" % what,
                        body={}, fixes=fixes)
                    secret = (sec or {}).get("secret")
            after = hp.robot_state(self._find(project["project_id"], desired))
        extra = {"secret": secret} if secret is not None else {}
        return self._done(changed, current, after, robot=after,
                          changes=sorted(changes) + (["secret"] if rotate else []), **extra)


INFO_SUBSETS = ("system", "health", "projects", "registries", "robots")


def gather_info(api, subsets):
    """harbor_info: what Harbor runs and holds, one list request per kind (and per project
    for robots)."""
    out = {}
    if "system" in subsets:
        out["system"] = api.call("GET", "/systeminfo", "reading the system information")[1]
    if "health" in subsets:
        out["health"] = api.call("GET", "/health", "reading the health of the components")[1]
    registries = None
    if "registries" in subsets or "projects" in subsets:
        registries = api.list("/registries", "listing registry endpoints")
        if "registries" in subsets:
            out["registries"] = [hp.registry_view(hp.registry_state(r)) for r in registries]
    projects = []
    if "projects" in subsets or "robots" in subsets:
        projects = api.list("/projects", "listing projects", query={"with_detail": "true"})
    if "projects" in subsets:
        quotas = dict((str((q.get("ref") or {}).get("id")), q) for q in api.list(
            "/quotas", "listing project quotas", query={"reference": "project"}))
        names = dict((r["id"], r["name"]) for r in registries or [])
        out["projects"] = [hp.project_view(hp.project_state(
            p, quotas.get(str(p["project_id"])), names.get(p.get("registry_id"))))
            for p in projects]
    if "robots" in subsets:
        robots = []
        for project in projects:
            for robot in api.list("/robots", "listing the robots of project %r"
                                  % project["name"],
                                  query={"q": "Level=project,ProjectID=%d"
                                         % project["project_id"]}):
                robots.append(dict(hp.robot_state(robot), level="project",
                                   project=project["name"]))
        for robot in api.list("/robots", "listing system robots", query={"q": "Level=system"}):
            robots.append(dict(hp.robot_state(robot), level="system", project=None))
        out["robots"] = robots
    return _result(api, False, **out)
