"""A CONTRACT TEST SERVER for Harbor's REST API v2.0. It is not Harbor.

No Harbor can be installed on the test machine (its images come from registries that are
not reachable), so the Harbor modules are tested against this server, written from Harbor's
published API description (``api/v2.0/swagger.yaml`` of goharbor/harbor: paths, bodies,
status codes, the ``{"errors": [{"code", "message"}]}`` error body and Harbor's error codes
NOT_FOUND, CONFLICT, UNAUTHORIZED, FORBIDDEN, PRECONDITION, BAD_REQUEST, DENIED), for the
paths the modules use:

  GET  /api/v2.0/systeminfo, /health
  GET POST HEAD /projects, GET PUT DELETE /projects/{name}, GET /projects/{name}/_deletable,
  GET /projects/{name}/summary
  GET  /quotas, GET PUT /quotas/{id}
  GET  /replication/adapters
  GET POST /registries, POST /registries/ping, GET PUT DELETE /registries/{id}
  GET POST /robots, GET PUT PATCH DELETE /robots/{id}
  GET  /service/token and /v2/ (the token flow of Harbor's registry side)

Behaviours Harbor documents or shows and the modules must cope with are reproduced: basic
authentication, system-admin-only objects (403), names by ``X-Is-Resource-Name``, paging
(``page``, ``page_size`` at most 100, ``X-Total-Count``), a quota below usage accepted (Harbor
validates only its range), a project with repositories not deletable (412), a registry
endpoint used by a proxy cache project not deletable (412), secrets of endpoints masked as
``*****``, the robot secret only in the creating answer, a ``sid`` session cookie on every
answer and the refusal of writes that send it back without a CSRF token (403 "CSRF token
invalid"), bearer tokens for ``/v2/`` scoped per repository.

Behind ``/v2/`` is a real CNCF distribution registry (plain HTTP, no authentication, on
127.0.0.1): images pushed through this server are stored and served by it, and a project's
storage usage is the size of the blobs its manifests reference (Harbor's quota unit).
Simplifications (named so a reader does not take them for Harbor): one process, state in
memory, no database, no job service, proxy cache projects do not proxy, replication does not
run, the ping of a registry endpoint is one ``GET /v2/`` of the endpoint.
"""

import base64
import datetime
import hashlib
import http.client
import json
import re
import secrets
import ssl
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAME_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
ROBOT_PREFIX = "robot$"
ADAPTERS = ["ali-acr", "aws-ecr", "azure-acr", "docker-hub", "docker-registry", "github-ghcr",
            "gitlab", "google-gcr", "harbor", "huawei-SWR", "jfrog-artifactory", "quay",
            "tencent-tcr"]
PROXY_CACHE_TYPES = ["docker-hub", "harbor", "azure-acr", "aws-ecr", "google-gcr", "quay",
                     "docker-registry", "github-ghcr", "jfrog-artifactory"]
VERSION = "v2.x contract server (not Harbor)"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te",
              "upgrade", "trailer", "host", "content-length"}


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class HarborContractServer(object):
    """Serves HTTPS on 127.0.0.1; ``users`` maps name -> (password, sysadmin)."""

    def __init__(self, cert, key, backend, trusted_ca=None, users=None):
        self.backend = backend  # host:port of the distribution registry (plain HTTP)
        self.trusted_ca = trusted_ca
        self.users = users or {"admin": ("Harbor12345", True), "dev": ("Dev12345-x", False)}
        self.lock = threading.RLock()
        self.projects = {}  # name -> project dict
        self.quotas = {}  # id -> quota dict
        self.registries = {}  # id -> registry dict (with the real secret)
        self.robots = {}  # id -> robot dict (with the secret)
        self.tokens = {}  # bearer token -> {user, grants: {repository: set(actions)}}
        self.blob_sizes = {}  # project -> {digest: size} counted in its usage
        self.next_id = {"project": 1, "quota": 1, "registry": 1, "robot": 1}
        self.log = []  # every request: {method, path, query, status, user}
        self.hooks = []  # one-shot (method, path regex, callable) run before routing
        self._add_project("library", owner="admin", public=True)
        handler = self._handler()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.port = self.httpd.server_address[1]
        self.host = "127.0.0.1:%d" % self.port
        self.url = "https://" + self.host
        self.thread = None

    # -- life cycle ---------------------------------------------------------------------

    def start(self):
        context = self.context
        httpd = self.httpd
        plain_get_request = httpd.get_request

        def get_request():
            sock, addr = plain_get_request()
            # The handshake happens in the handler's thread, so a slow client cannot stall
            # the accept loop.
            return context.wrap_socket(sock, server_side=True,
                                       do_handshake_on_connect=False), addr

        httpd.get_request = get_request
        self.thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def before(self, method, path_regex, action):
        """Run ``action(server)`` once, before the first matching request is handled."""
        self.hooks.append((method, re.compile(path_regex), action))

    def api_writes(self):
        return [e for e in self.log if e["path"].startswith("/api/")
                and e["method"] in ("POST", "PUT", "PATCH", "DELETE")
                and e["path"] != "/api/v2.0/registries/ping"]

    # -- state helpers (also used by tests to set up situations) -------------------------

    def _id(self, kind):
        with self.lock:
            value = self.next_id[kind]
            self.next_id[kind] += 1
            return value

    def _add_project(self, name, owner="admin", public=False, storage=-1, registry_id=0,
                     metadata=None):
        with self.lock:
            pid = self._id("project")
            meta = {"public": "true" if public else "false"}
            meta.update(metadata or {})
            project = {"project_id": pid, "name": name, "owner_name": owner,
                       "owner_id": 1 if owner == "admin" else 2, "registry_id": registry_id,
                       "metadata": meta, "creation_time": now(), "update_time": now(),
                       "deleted": False, "repositories": set()}
            self.projects[name] = project
            qid = self._id("quota")
            self.quotas[qid] = {"id": qid, "project": name, "hard": {"storage": storage},
                                "used": {"storage": 0}, "creation_time": now(),
                                "update_time": now()}
            self.blob_sizes[name] = {}
            return project

    def quota_of(self, name):
        with self.lock:
            for quota in self.quotas.values():
                if quota["project"] == name:
                    return quota
        return None

    def project_view(self, project):
        out = dict((k, v) for k, v in project.items() if k != "repositories")
        out["metadata"] = dict(project["metadata"])
        out["repo_count"] = len(project["repositories"])
        out["chart_count"] = 0
        out["cve_allowlist"] = {"id": project["project_id"], "project_id": project["project_id"],
                                "items": [], "creation_time": now(), "update_time": now()}
        if not out["registry_id"]:
            del out["registry_id"]
        return out

    def quota_view(self, quota):
        project = self.projects.get(quota["project"], {})
        return {"id": quota["id"], "ref": {"id": project.get("project_id"),
                                           "name": quota["project"],
                                           "owner_name": project.get("owner_name")},
                "hard": dict(quota["hard"]), "used": dict(quota["used"]),
                "creation_time": quota["creation_time"], "update_time": quota["update_time"]}

    @staticmethod
    def registry_view(registry):
        out = dict(registry)
        credential = dict(out.get("credential") or {})
        if credential.get("access_secret"):
            credential["access_secret"] = "*****"
        out["credential"] = credential
        return out

    @staticmethod
    def robot_view(robot):
        return dict((k, v) for k, v in robot.items() if k not in ("secret", "project"))

    # -- the request handler --------------------------------------------------------------

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super(Handler, self).setup()
                try:
                    self.connection.do_handshake()
                except (ssl.SSLError, OSError):
                    self.close_connection = True

            def _dispatch(self):
                try:
                    server.handle(self)
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    self.close_connection = True

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

        return Handler

    def handle(self, req):
        parsed = urllib.parse.urlsplit(req.path)
        path, query = parsed.path, urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        body = self._read_body(req)
        for hook in list(self.hooks):
            if hook[0] == req.command and hook[1].match(path):
                self.hooks.remove(hook)
                hook[2](self)
        call = Call(self, req, path, query, body)
        try:
            if self._csrf_refused(req, path):
                call.error(403, "FORBIDDEN", "CSRF token invalid")
            elif path.startswith("/api/v2.0/"):
                self.api(call)
            elif path == "/service/token":
                self.token(call)
            elif path == "/v2" or path.startswith("/v2/"):
                self.registry(call)
            else:
                call.error(404, "NOT_FOUND", "path %s not found" % path)
        except ContractError as err:
            call.error(err.status, err.code, err.message)

    @staticmethod
    def _read_body(req):
        if req.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(req.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while req.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(req.rfile.read(size))
                req.rfile.readline()
        length = int(req.headers.get("Content-Length") or 0)
        return req.rfile.read(length) if length else b""

    @staticmethod
    def _csrf_refused(req, path):
        """Harbor skips its CSRF check for API clients only when they carry no session."""
        if req.command in ("GET", "HEAD"):
            return False
        carries_session = "sid=" in (req.headers.get("Cookie") or "")
        return carries_session and not req.headers.get("X-Harbor-CSRF-Token")

    # -- /api/v2.0 ----------------------------------------------------------------------

    ROUTES = [
        ("GET", r"/systeminfo", "get_systeminfo"),
        ("GET", r"/health", "get_health"),
        ("GET", r"/projects", "list_projects"),
        ("HEAD", r"/projects", "head_project"),
        ("POST", r"/projects", "create_project"),
        ("GET", r"/projects/(?P<p>[^/]+)", "get_project"),
        ("PUT", r"/projects/(?P<p>[^/]+)", "update_project"),
        ("DELETE", r"/projects/(?P<p>[^/]+)", "delete_project"),
        ("GET", r"/projects/(?P<p>[^/]+)/_deletable", "project_deletable"),
        ("GET", r"/projects/(?P<p>[^/]+)/summary", "project_summary"),
        ("GET", r"/quotas", "list_quotas"),
        ("GET", r"/quotas/(?P<id>\d+)", "get_quota"),
        ("PUT", r"/quotas/(?P<id>\d+)", "update_quota"),
        ("GET", r"/replication/adapters", "list_adapters"),
        ("GET", r"/registries", "list_registries"),
        ("POST", r"/registries", "create_registry"),
        ("POST", r"/registries/ping", "ping_registry"),
        ("GET", r"/registries/(?P<id>\d+)", "get_registry"),
        ("PUT", r"/registries/(?P<id>\d+)", "update_registry"),
        ("DELETE", r"/registries/(?P<id>\d+)", "delete_registry"),
        ("GET", r"/robots", "list_robots"),
        ("POST", r"/robots", "create_robot"),
        ("GET", r"/robots/(?P<id>\d+)", "get_robot"),
        ("PUT", r"/robots/(?P<id>\d+)", "update_robot"),
        ("PATCH", r"/robots/(?P<id>\d+)", "refresh_robot_secret"),
        ("DELETE", r"/robots/(?P<id>\d+)", "delete_robot"),
    ]
    ANONYMOUS = {"get_systeminfo", "get_health", "list_projects", "get_project", "head_project"}

    def api(self, call):
        sub = call.path[len("/api/v2.0"):]
        for method, pattern, name in self.ROUTES:
            match = re.match("^%s/?$" % pattern, sub)
            if match and method == call.method:
                call.authenticate(required=name not in self.ANONYMOUS)
                return getattr(self, name)(call, **match.groupdict())
        raise ContractError(404, "NOT_FOUND", "no API %s %s" % (call.method, sub))

    def get_systeminfo(self, call):
        info = {"auth_mode": "db_auth", "harbor_version": VERSION,
                "self_registration": False, "has_ca_root": False, "read_only": False,
                "with_chartmuseum": False, "notification_enable": True}
        if call.user:
            info.update(external_url=self.url, registry_url=self.host,
                        project_creation_restriction="everyone",
                        registry_storage_provider_name="filesystem")
        call.send(200, info)

    def get_health(self, call):
        try:
            urllib.request.urlopen("http://%s/v2/" % self.backend, timeout=3)
            registry = {"name": "registry", "status": "healthy"}
        except Exception as err:  # noqa: BLE001 - any failure is "unhealthy", with its text
            registry = {"name": "registry", "status": "unhealthy", "error": str(err)}
        components = [{"name": "core", "status": "healthy"}, registry]
        status = "healthy" if all(c["status"] == "healthy" for c in components) else "unhealthy"
        call.send(200, {"status": status, "components": components})

    # projects

    def _project(self, call, name, action="read"):
        project = self.projects.get(urllib.parse.unquote(name))
        if project is None and not call.header_true("X-Is-Resource-Name") and name.isdigit():
            project = next((p for p in self.projects.values()
                            if p["project_id"] == int(name)), None)
        if project is None:
            raise ContractError(404, "NOT_FOUND", "project %s not found" % name)
        if action == "read" and project["metadata"].get("public") == "true":
            return project
        if not call.user:
            raise ContractError(401, "UNAUTHORIZED", "unauthorized")
        if not (call.admin or call.user == project["owner_name"]):
            raise ContractError(403, "FORBIDDEN", "forbidden")
        return project

    def list_projects(self, call):
        with self.lock:
            items = [p for p in self.projects.values()
                     if call.admin or p["metadata"].get("public") == "true"
                     or (call.user and p["owner_name"] == call.user)]
        items = call.filter_q(items, {"name": "name"})
        if call.arg("name"):
            items = [p for p in items if call.arg("name") in p["name"]]
        call.send_page(sorted(items, key=lambda p: p["project_id"]), self.project_view)

    def head_project(self, call):
        name = call.arg("project_name")
        call.send(200 if name in self.projects else 404,
                  None if name in self.projects else
                  {"errors": [{"code": "NOT_FOUND", "message": "project %s not found" % name}]})

    def create_project(self, call):
        req = call.json()
        name = req.get("project_name") or ""
        if not NAME_RE.match(name) or len(name) > 255:
            raise ContractError(400, "BAD_REQUEST", "project name is not in lower case or "
                                "contains illegal characters!")
        registry_id = req.get("registry_id")
        if registry_id is not None:
            if not call.admin:
                raise ContractError(403, "FORBIDDEN",
                                    "Only system admin can create proxy cache project")
            registry = self.registries.get(registry_id)
            if registry is None:
                raise ContractError(400, "BAD_REQUEST", "failed to get the registry %s: "
                                    "registry %s not found" % (registry_id, registry_id))
            if registry["type"] not in PROXY_CACHE_TYPES:
                raise ContractError(400, "BAD_REQUEST", "unsupported registry type %s"
                                    % registry["type"])
        storage = req.get("storage_limit")
        if storage is None or storage == 0 or not call.admin:
            storage = -1
        if storage <= 0 and storage != -1:
            raise ContractError(400, "BAD_REQUEST", "invalid value for resource storage")
        metadata = dict(req.get("metadata") or {})
        if metadata.get("public", "false") not in ("true", "false"):
            raise ContractError(400, "BAD_REQUEST", "metadata.public should only be 'true' or "
                                "'false', but got: '%s'" % metadata["public"])
        with self.lock:
            if name in self.projects:
                raise ContractError(409, "CONFLICT", "The project named %s already exists"
                                    % name)
            project = self._add_project(name, owner=call.user,
                                        public=metadata.pop("public", "false") == "true",
                                        storage=storage, registry_id=registry_id or 0,
                                        metadata=metadata)
        call.send(201, None, {"Location": "/api/v2.0/projects/%d" % project["project_id"]})

    def get_project(self, call, p):
        call.send(200, self.project_view(self._project(call, p)))

    def project_summary(self, call, p):
        project = self._project(call, p)
        summary = {"repo_count": len(project["repositories"]), "chart_count": 0,
                   "project_admin_count": 1, "maintainer_count": 0, "developer_count": 0,
                   "guest_count": 0, "limited_guest_count": 0}
        if call.admin or call.user == project["owner_name"]:
            quota = self.quota_of(project["name"])
            summary["quota"] = {"hard": dict(quota["hard"]), "used": dict(quota["used"])}
        if project["registry_id"]:
            summary["registry"] = self.registry_view(self.registries[project["registry_id"]])
        call.send(200, summary)

    def update_project(self, call, p):
        project = self._project(call, p, "update")
        req = call.json()
        metadata = req.get("metadata") or {}
        for key in ("public", "auto_scan", "enable_content_trust", "prevent_vul"):
            if key in metadata and metadata[key] not in ("true", "false"):
                raise ContractError(400, "BAD_REQUEST", "metadata.%s should only be 'true' or "
                                    "'false'" % key)
        with self.lock:
            project["metadata"].update(dict((k, v) for k, v in metadata.items()
                                            if v is not None))
            project["update_time"] = now()
        call.send(200, None)

    def _deletable(self, project):
        if project["repositories"]:
            return {"deletable": False,
                    "message": "the project contains repositories, can not be deleted"}
        return {"deletable": True}

    def project_deletable(self, call, p):
        call.send(200, self._deletable(self._project(call, p, "delete")))

    def delete_project(self, call, p):
        project = self._project(call, p, "delete")
        result = self._deletable(project)
        if not result["deletable"]:
            raise ContractError(412, "PRECONDITION", result["message"])
        with self.lock:
            del self.projects[project["name"]]
            for qid in [q for q, v in self.quotas.items() if v["project"] == project["name"]]:
                del self.quotas[qid]
            for rid in [r for r, v in self.robots.items() if v["project"] == project["name"]]:
                del self.robots[rid]
        call.send(200, None)

    # quotas

    def list_quotas(self, call):
        call.require_admin()
        with self.lock:
            items = [q for q in self.quotas.values() if q["project"] in self.projects]
        if call.arg("reference_id"):
            items = [q for q in items
                     if str(self.projects[q["project"]]["project_id"]) == call.arg("reference_id")]
        call.send_page(sorted(items, key=lambda q: q["id"]), self.quota_view)

    def _quota(self, qid):
        quota = self.quotas.get(int(qid))
        if quota is None:
            raise ContractError(404, "NOT_FOUND", "quota %s not found" % qid)
        return quota

    def get_quota(self, call, id):  # noqa: A002 - the path parameter's name
        call.require_admin()
        call.send(200, self.quota_view(self._quota(id)))

    def update_quota(self, call, id):  # noqa: A002
        call.require_admin()
        quota = self._quota(id)
        hard = (call.json() or {}).get("hard") or {}
        if not hard:
            raise ContractError(400, "BAD_REQUEST", "hard required in body")
        for resource, value in hard.items():
            if resource != "storage":
                raise ContractError(400, "BAD_REQUEST", "resource %s not support" % resource)
            if not isinstance(value, int) or (value <= 0 and value != -1):
                raise ContractError(400, "BAD_REQUEST", "invalid value for resource %s"
                                    % resource)
        # Like Harbor: a limit below the usage is accepted (later pushes are refused).
        with self.lock:
            quota["hard"].update(hard)
            quota["update_time"] = now()
        call.send(200, None)

    # registries

    def list_adapters(self, call):
        call.require_admin()
        call.send(200, ADAPTERS)

    def list_registries(self, call):
        call.require_admin()
        with self.lock:
            items = sorted(self.registries.values(), key=lambda r: r["id"])
        items = call.filter_q(items, {"name": "name"})
        call.send_page(items, self.registry_view)

    def _registry(self, rid):
        registry = self.registries.get(int(rid))
        if registry is None:
            raise ContractError(404, "NOT_FOUND", "registry %s not found" % rid)
        return registry

    @staticmethod
    def _check_url(url):
        parsed = urllib.parse.urlsplit(url or "")
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ContractError(400, "BAD_REQUEST", "invalid HTTP URL: %s" % url)
        return url.rstrip("/")

    def create_registry(self, call):
        call.require_admin()
        req = call.json()
        if req.get("type") not in ADAPTERS:
            raise ContractError(400, "BAD_REQUEST", "invalid registry type %s" % req.get("type"))
        url = self._check_url(req.get("url"))
        with self.lock:
            if any(r["name"] == req.get("name") for r in self.registries.values()):
                raise ContractError(409, "CONFLICT", "registry %s already exists"
                                    % req.get("name"))
            rid = self._id("registry")
            credential = req.get("credential") or {}
            self.registries[rid] = {
                "id": rid, "name": req.get("name"), "type": req["type"], "url": url,
                "insecure": bool(req.get("insecure")),
                "description": req.get("description") or "", "status": "healthy",
                "credential": {"type": credential.get("type") or "basic",
                               "access_key": credential.get("access_key") or "",
                               "access_secret": credential.get("access_secret") or ""},
                "creation_time": now(), "update_time": now()}
        call.send(201, None, {"Location": "/api/v2.0/registries/%d" % rid})

    def get_registry(self, call, id):  # noqa: A002
        call.require_admin()
        call.send(200, self.registry_view(self._registry(id)))

    def update_registry(self, call, id):  # noqa: A002
        call.require_admin()
        registry = self._registry(id)
        req = call.json() or {}
        with self.lock:
            if req.get("name") is not None:
                if any(r["name"] == req["name"] and r["id"] != registry["id"]
                       for r in self.registries.values()):
                    raise ContractError(409, "CONFLICT", "registry %s already exists"
                                        % req["name"])
                registry["name"] = req["name"]
            if req.get("url") is not None:
                registry["url"] = self._check_url(req["url"])
            for key in ("description", "insecure"):
                if req.get(key) is not None:
                    registry[key] = req[key]
            for key, target in (("credential_type", "type"), ("access_key", "access_key"),
                                ("access_secret", "access_secret")):
                if req.get(key) is not None:
                    registry["credential"][target] = req[key]
            registry["update_time"] = now()
        call.send(200, None)

    def delete_registry(self, call, id):  # noqa: A002
        call.require_admin()
        registry = self._registry(id)
        users = sorted(p["name"] for p in self.projects.values()
                       if p["registry_id"] == registry["id"])
        if users:
            raise ContractError(412, "PRECONDITION", "Can't delete registry %d, it is used by "
                                "proxy cache project(s): %s" % (registry["id"], ", ".join(users)))
        with self.lock:
            del self.registries[registry["id"]]
        call.send(200, None)

    def ping_registry(self, call):
        call.require_admin()
        req = call.json() or {}
        registry = {}
        if req.get("id") is not None:
            registry = dict(self._registry(req["id"]))
            registry["credential"] = dict(registry["credential"])
        for key in ("type", "insecure"):
            if req.get(key) is not None:
                registry[key] = req[key]
        if req.get("url") is not None:
            registry["url"] = self._check_url(req["url"])
        credential = registry.setdefault("credential", {})
        for key, target in (("credential_type", "type"), ("access_key", "access_key"),
                            ("access_secret", "access_secret")):
            if req.get(key) is not None:
                credential[target] = req[key]
        if not registry.get("type") or not registry.get("url"):
            raise ContractError(400, "BAD_REQUEST", "type or url cannot be empty")
        if not self._healthy(registry):
            raise ContractError(400, "BAD_REQUEST", "the registry is unhealthy")
        call.send(200, None)

    def _healthy(self, registry):
        """One ``GET /v2/`` of the endpoint, with its credential when it asks for one."""
        if registry.get("insecure"):
            context = ssl._create_unverified_context()  # noqa: S323 - the endpoint said so
        else:
            context = ssl.create_default_context(cafile=self.trusted_ca)
        credential = registry.get("credential") or {}
        for auth in (None, (credential.get("access_key"), credential.get("access_secret"))):
            request = urllib.request.Request(registry["url"] + "/v2/")
            if auth:
                if not auth[0]:
                    return True  # no credential to try: the endpoint answers, it is up
                token = base64.b64encode(("%s:%s" % auth).encode()).decode()
                request.add_header("Authorization", "Basic " + token)
            try:
                urllib.request.urlopen(request, timeout=3, context=context)
                return True
            except urllib.error.HTTPError as err:
                if err.code != 401:
                    return False
            except (urllib.error.URLError, OSError):
                return False
        return False

    # robots

    def list_robots(self, call):
        level = call.q().get("Level")
        with self.lock:
            items = sorted(self.robots.values(), key=lambda r: r["id"])
        if level == "project":
            pid = call.q().get("ProjectID")
            if pid is None:
                raise ContractError(400, "BAD_REQUEST",
                                    "must with project ID when to query project robots")
            project = next((p for p in self.projects.values()
                            if str(p["project_id"]) == pid), None)
            if project is None:
                raise ContractError(404, "NOT_FOUND", "project %s not found" % pid)
            if not (call.admin or call.user == project["owner_name"]):
                raise ContractError(403, "FORBIDDEN", "forbidden")
            items = [r for r in items if r["project"] == project["name"]]
        elif level in (None, "system"):
            call.require_admin()
            items = [r for r in items if r["level"] == "system"]
        else:
            raise ContractError(400, "BAD_REQUEST", "bad request error level input")
        call.send_page(items, self.robot_view)

    def _validate_robot(self, req):
        duration = req.get("duration")
        if not isinstance(duration, int) or duration < -1:
            raise ContractError(400, "BAD_REQUEST", "bad request error duration input: %s"
                                % duration)
        if req.get("level") not in ("system", "project"):
            raise ContractError(400, "BAD_REQUEST", "bad request error level input: %s"
                                % req.get("level"))
        permissions = req.get("permissions") or []
        if not permissions:
            raise ContractError(400, "BAD_REQUEST", "bad request empty permission")
        if any(not p.get("access") for p in permissions):
            raise ContractError(400, "BAD_REQUEST", "bad request empty access")
        if req["level"] == "project" and len(permissions) > 1:
            raise ContractError(400, "BAD_REQUEST", "bad request permission")
        return permissions

    def _robot_access(self, call, permissions):
        namespace = permissions[0].get("namespace")
        project = self.projects.get(namespace)
        if project is None:
            raise ContractError(404, "NOT_FOUND", "project %s not found" % namespace)
        if not (call.admin or call.user == project["owner_name"]):
            raise ContractError(403, "FORBIDDEN", "forbidden")
        return project

    @staticmethod
    def _expires(created, duration):
        return -1 if duration == -1 else int(created + duration * 86400)

    def create_robot(self, call):
        req = call.json() or {}
        if not NAME_RE.match(req.get("name") or ""):
            raise ContractError(400, "BAD_REQUEST",
                                "robot name is not in lower case or contains illegal characters")
        permissions = self._validate_robot(req)
        if req["level"] != "project":
            call.require_admin()
            raise ContractError(400, "BAD_REQUEST", "system robots are not part of the contract")
        project = self._robot_access(call, permissions)
        full = "%s%s+%s" % (ROBOT_PREFIX, project["name"], req["name"])
        secret = "S" + secrets.token_hex(8) + "a1"
        with self.lock:
            if any(r["name"] == full for r in self.robots.values()):
                raise ContractError(409, "CONFLICT", "robot account %s already exists" % full)
            rid = self._id("robot")
            created = time.time()
            self.robots[rid] = {
                "id": rid, "name": full, "description": req.get("description") or "",
                "level": "project", "duration": req["duration"], "editable": True,
                "disable": bool(req.get("disable")),
                "expires_at": self._expires(created, req["duration"]),
                "permissions": [{"kind": "project", "namespace": project["name"],
                                 "access": [{"resource": a.get("resource"),
                                             "action": a.get("action"), "effect": "allow"}
                                            for a in permissions[0]["access"]]}],
                "creation_time": now(), "update_time": now(), "created": created,
                "secret": secret, "project": project["name"]}
        call.send(201, {"id": rid, "name": full, "secret": secret, "creation_time": now(),
                        "expires_at": self.robots[rid]["expires_at"]},
                  {"Location": "/api/v2.0/robots/%d" % rid})

    def _robot(self, call, rid):
        robot = self.robots.get(int(rid))
        if robot is None:
            raise ContractError(404, "NOT_FOUND", "robot %s not found" % rid)
        project = self.projects.get(robot["project"])
        if not (call.admin or (project and call.user == project["owner_name"])):
            raise ContractError(403, "FORBIDDEN", "forbidden")
        return robot

    def get_robot(self, call, id):  # noqa: A002
        call.send(200, self.robot_view(self._robot(call, id)))

    def update_robot(self, call, id):  # noqa: A002
        robot = self._robot(call, id)
        req = call.json() or {}
        permissions = self._validate_robot(req)
        self._robot_access(call, permissions)
        if req.get("level") != robot["level"] or req.get("name") != robot["name"]:
            raise ContractError(400, "BAD_REQUEST", "cannot update the level or name of robot")
        with self.lock:
            if req["duration"] != robot["duration"]:
                robot["duration"] = req["duration"]
                robot["expires_at"] = self._expires(robot["created"], req["duration"])
            robot["description"] = req.get("description") or ""
            robot["disable"] = bool(req.get("disable"))
            robot["permissions"] = [{"kind": "project", "namespace": robot["project"],
                                     "access": [{"resource": a.get("resource"),
                                                 "action": a.get("action"), "effect": "allow"}
                                                for a in permissions[0]["access"]]}]
            robot["update_time"] = now()
        call.send(200, None)

    def refresh_robot_secret(self, call, id):  # noqa: A002
        robot = self._robot(call, id)
        given = (call.json() or {}).get("secret") or ""
        if given:
            if not (len(given) >= 8 and re.search("[a-z]", given) and re.search("[A-Z]", given)
                    and re.search("[0-9]", given)):
                raise ContractError(400, "BAD_REQUEST", "the secret must longer than 8 chars "
                                    "with at least 1 uppercase letter, 1 lowercase letter and "
                                    "1 number")
            robot["secret"] = given
            call.send(200, {"secret": ""})
            return
        robot["secret"] = "S" + secrets.token_hex(8) + "a1"
        call.send(200, {"secret": robot["secret"]})

    def delete_robot(self, call, id):  # noqa: A002
        robot = self._robot(call, id)
        with self.lock:
            del self.robots[robot["id"]]
        call.send(200, None)

    # -- the registry side: /service/token and /v2/ -------------------------------------

    def _grants(self, call, repository, wanted):
        project = self.projects.get(repository.split("/", 1)[0])
        if project is None:
            return set()
        allowed = set()
        if call.admin:
            allowed = {"pull", "push", "delete", "*"}
        elif call.robot is not None:
            if call.robot["project"] == project["name"] and not call.robot["disable"]:
                for access in call.robot["permissions"][0]["access"]:
                    if access["resource"] == "repository":
                        allowed.add(access["action"])
        elif call.user and call.user == project["owner_name"]:
            allowed = {"pull", "push", "delete"}
        if project["metadata"].get("public") == "true":
            allowed.add("pull")
        return set(a for a in wanted if a in allowed)

    def token(self, call):
        call.authenticate(required=False)
        grants = {}
        for scope in call.query.get("scope", []):
            for item in scope.split(" "):
                parts = item.split(":")
                if len(parts) != 3 or parts[0] != "repository":
                    continue
                grants[parts[1]] = self._grants(call, parts[1], parts[2].split(","))
        token = secrets.token_hex(16)
        with self.lock:
            self.tokens[token] = {"user": call.user_name, "grants": grants}
        call.send(200, {"token": token, "access_token": token, "expires_in": 1800,
                        "issued_at": now()})

    def _challenge(self, call, scope=None, message="unauthorized to access repository"):
        value = 'Bearer realm="%s/service/token",service="harbor-registry"' % self.url
        if scope:
            value += ',scope="%s"' % scope
        call.error(401, "UNAUTHORIZED", message, {"WWW-Authenticate": value})

    def registry(self, call):
        auth = call.req.headers.get("Authorization") or ""
        token = self.tokens.get(auth[len("Bearer "):]) if auth.startswith("Bearer ") else None
        if call.path in ("/v2", "/v2/"):
            if token is None:
                return self._challenge(call)
            return call.send_raw(*self._forward(call))
        match = re.match(r"^/v2/(?P<repo>.+?)/(manifests|blobs|tags)/", call.path)
        if not match:
            raise ContractError(404, "NOT_FOUND", "path %s not found" % call.path)
        repository = match.group("repo")
        action = "pull" if call.method in ("GET", "HEAD") else "push"
        scope = "repository:%s:%s" % (repository, "pull" if action == "pull" else "pull,push")
        if token is None or action not in token["grants"].get(repository, set()):
            return self._challenge(call, scope)
        call.user_name = token["user"]
        query = dict(call.query)
        if "from" in query and "pull" not in token["grants"].get(query["from"][0], set()):
            # A mount from a repository the token cannot read is ignored, as Harbor does.
            query.pop("from")
            query.pop("mount", None)
        project = repository.split("/", 1)[0]
        is_manifest_put = call.method == "PUT" and "/manifests/" in call.path
        counted = self._quota_check(project, call.body) if is_manifest_put else {}
        answer = self._forward(call, query)
        if is_manifest_put and answer[0] in (200, 201):
            # Counted before the answer goes out, so a client sees its push in the usage.
            with self.lock:
                self.projects[project]["repositories"].add(repository)
                self.blob_sizes[project].update(counted)
                quota = self.quota_of(project)
                quota["used"]["storage"] = sum(self.blob_sizes[project].values())
        call.send_raw(*answer)

    def _quota_check(self, project, body):
        """Sizes a manifest adds to its project's usage; refused (403 DENIED) above the limit."""
        try:
            doc = json.loads(body or b"{}")
        except ValueError:
            return {}
        sizes = {"sha256:" + hashlib.sha256(body).hexdigest(): len(body)}
        for blob in [doc.get("config") or {}] + (doc.get("layers") or []):
            if blob.get("digest"):
                sizes[blob["digest"]] = int(blob.get("size") or 0)
        with self.lock:
            new = dict((d, s) for d, s in sizes.items() if d not in self.blob_sizes[project])
            quota = self.quota_of(project)
            hard, used = quota["hard"]["storage"], quota["used"]["storage"]
        added = sum(new.values())
        if hard != -1 and used + added > hard:
            raise ContractError(403, "DENIED", "Quota exceeded when processing the request of "
                                "adding %d of storage resource, which when updated to current "
                                "usage of %d will exceed the configured upper limit of %d."
                                % (added, used, hard))
        return new

    def _forward(self, call, query=None):
        """Send the request to the distribution registry behind; returns the answer to relay
        (status, body, headers, Content-Length of a HEAD)."""
        path = call.path
        if query:
            path += "?" + urllib.parse.urlencode(query, doseq=True)
        headers = dict((k, v) for k, v in call.req.headers.items()
                       if k.lower() not in HOP_BY_HOP and k.lower() != "authorization")
        # Distribution builds its Location headers from these.
        headers.update({"Host": self.host, "X-Forwarded-Proto": "https",
                        "X-Forwarded-Host": self.host})
        conn = http.client.HTTPConnection(self.backend, timeout=60)
        try:
            conn.request(call.method, path, body=call.body or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            relay = dict((k, v) for k, v in resp.getheaders()
                         if k.lower() not in HOP_BY_HOP)
            location = relay.get("Location")
            if location and location.startswith("http://"):
                relay["Location"] = "https://" + location[len("http://"):]
            return resp.status, data, relay, resp.getheader("Content-Length")
        finally:
            conn.close()


class ContractError(Exception):
    def __init__(self, status, code, message):
        super(ContractError, self).__init__(message)
        self.status, self.code, self.message = status, code, message


class Call(object):
    """One request being answered."""

    def __init__(self, server, req, path, query, body):
        self.server, self.req, self.path, self.query, self.body = server, req, path, query, body
        self.method = req.command
        self.status = None
        self.user = None  # a Harbor user name
        self.user_name = None  # the user or robot name for the log
        self.admin = False
        self.robot = None

    def authenticate(self, required=True):
        auth = self.req.headers.get("Authorization") or ""
        if auth.startswith("Basic "):
            try:
                name, _sep, password = base64.b64decode(auth[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise ContractError(401, "UNAUTHORIZED", "unauthorized")
            user = self.server.users.get(name)
            robot = next((r for r in self.server.robots.values() if r["name"] == name), None)
            if user and user[0] == password:
                self.user, self.admin, self.user_name = name, user[1], name
            elif robot and robot["secret"] == password and not robot["disable"]:
                self.robot, self.user_name = robot, name
            else:
                raise ContractError(401, "UNAUTHORIZED", "unauthorized")
        elif required:
            raise ContractError(401, "UNAUTHORIZED", "unauthorized")

    def require_admin(self):
        if not self.user and not self.robot:
            raise ContractError(401, "UNAUTHORIZED", "unauthorized")
        if not self.admin:
            raise ContractError(403, "FORBIDDEN", "forbidden")

    def header_true(self, name):
        return (self.req.headers.get(name) or "").lower() == "true"

    def arg(self, name, default=None):
        values = self.query.get(name)
        return values[0] if values else default

    def q(self):
        """Harbor's ``q`` query: ``k=v`` exact, ``k=~v`` fuzzy, comma separated."""
        out = {}
        for part in (self.arg("q") or "").split(","):
            if "=" in part:
                key, value = part.split("=", 1)
                out[key.strip()] = value.strip()
        return out

    def filter_q(self, items, fields):
        for key, value in self.q().items():
            field = fields.get(key)
            if field is None:
                raise ContractError(400, "BAD_REQUEST", "the query key %s is not supported" % key)
            if value.startswith("~"):
                items = [i for i in items if value[1:] in str(i.get(field))]
            else:
                items = [i for i in items if str(i.get(field)) == value]
        return items

    def json(self):
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            raise ContractError(400, "BAD_REQUEST", "the request body is not JSON")

    def send_page(self, items, view):
        try:
            page = int(self.arg("page", 1))
            size = int(self.arg("page_size", 10))
        except ValueError:
            raise ContractError(422, "UNPROCESSABLE_ENTITY", "page and page_size are integers")
        if size > 100:
            raise ContractError(422, "UNPROCESSABLE_ENTITY",
                                "page_size in query should be less than or equal to 100")
        chunk = items[(page - 1) * size:page * size]
        headers = {"X-Total-Count": str(len(items))}
        if page * size < len(items):
            headers["Link"] = '<%s?page=%d&page_size=%d>; rel="next"' % (
                self.path, page + 1, size)
        self.send(200, [view(i) for i in chunk], headers)

    def send(self, status, payload, headers=None):
        data = b"" if payload is None else json.dumps(payload).encode()
        hdrs = {"Content-Type": "application/json"} if payload is not None else {}
        hdrs.update(headers or {})
        self.send_raw(status, data, hdrs)

    def error(self, status, code, message, headers=None):
        self.send(status, {"errors": [{"code": code, "message": message}]}, headers)

    def send_raw(self, status, data, headers, head_length=None):
        self.status = status
        req = self.req
        # Logged before the answer leaves: a client that got its answer finds its request in
        # the log (a test counting writes right after a request must not race the server).
        self.server.log.append({"method": self.method, "path": self.path,
                                "query": urllib.parse.urlsplit(req.path).query,
                                "status": status, "user": self.user_name})
        req.send_response(status)
        for key, value in headers.items():
            req.send_header(key, value)
        req.send_header("X-Request-Id", secrets.token_hex(8))
        # Harbor answers every request with a session cookie.
        req.send_header("Set-Cookie", "sid=%s; Path=/; HttpOnly" % secrets.token_hex(16))
        if self.method == "HEAD":
            req.send_header("Content-Length", head_length or str(len(data)))
            req.end_headers()
            return
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)
