# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic of the Harbor modules: no I/O, no network.

Harbor's rules for names and quotas, the state of a project, registry endpoint or robot
account as the modules compare it (read from Harbor's API v2.0 objects, or wanted from the
task's options), what differs, the request bodies, and the message for each error status
Harbor answers (401, 403, 404, 409, 412, 400), naming the object and the fix.
``harbor_api.py`` does the talking and ``harbor_reconcile.py`` the reconciling.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError

# Harbor's pattern for project and robot names (lower case, separators inside only).
NAME_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
PROJECT_NAME_MAX = 255
UNLIMITED = -1
# Harbor sizes quotas in binary units (the portal's GiB / TiB).
_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4,
          "P": 1024 ** 5}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGTP]?)(I?B?)\s*$", re.IGNORECASE)
SECRET_MASK = "*****"  # what Harbor answers instead of a registry endpoint's secret


class HarborError(XinchuangError):
    """A Harbor object or answer the task cannot go on with; the message names the fix."""


# -- names and sizes --------------------------------------------------------------------

def check_name(kind, name, limit=PROJECT_NAME_MAX):
    """Harbor's name rule, with the lower-case spelling offered when case is the problem."""
    if isinstance(name, str) and NAME_RE.match(name) and len(name) <= limit:
        return name
    hint = ""
    if isinstance(name, str) and NAME_RE.match(name.lower()):
        hint = "; use %r" % name.lower()
    raise HarborError(
        "%s name %r is not valid in Harbor: lower case letters and digits, with '.', '_' or "
        "'-' between them, at most %d characters%s" % (kind, name, limit, hint))


def parse_size(value, what="storage_quota"):
    """``10G``, ``512Mi``, ``1TiB``, ``1048576`` or ``-1`` (unlimited) -> bytes (int)."""
    if isinstance(value, bool):
        raise HarborError("%s %r is not a size; write e.g. 10G, 512M or -1 for unlimited"
                          % (what, value))
    text = str(value).strip()
    if text == str(UNLIMITED):
        return UNLIMITED
    match = _SIZE_RE.match(text)
    if not match or (match.group(3) and not match.group(2) and match.group(3).upper() != "B"):
        raise HarborError("%s %r is not a size; write e.g. 10G, 512M or -1 for unlimited"
                          % (what, value))
    size = int(float(match.group(1)) * _UNITS[match.group(2).upper()])
    if size <= 0:
        raise HarborError("%s %r is not a quota Harbor accepts: give a positive size or -1 "
                          "for unlimited" % (what, value))
    return size


def format_size(size):
    """Bytes -> the shortest exact binary form (``10G``, ``1536M``), ``-1`` for unlimited."""
    if size is None:
        return None
    if size == UNLIMITED:
        return str(UNLIMITED)
    for unit in ("P", "T", "G", "M", "K"):
        if size and size % _UNITS[unit] == 0:
            return "%d%s" % (size // _UNITS[unit], unit)
    return "%dB" % size


def human_size(size):
    """Bytes -> an approximate figure for messages (``5.2M``)."""
    for unit in ("P", "T", "G", "M", "K"):
        if size >= _UNITS[unit]:
            return "%.1f%s" % (size / float(_UNITS[unit]), unit)
    return "%dB" % size


def _meta_bool(metadata, key):
    value = (metadata or {}).get(key)
    return None if value is None else str(value).lower() == "true"


def _meta_str(value):
    return "true" if value else "false"


# -- projects ---------------------------------------------------------------------------

PROJECT_FIELDS = ("public", "auto_scan", "storage_quota", "proxy_cache_registry")


def project_state(project, quota=None, registry_name=None):
    """A Harbor ``Project`` (its quota's ``hard`` and ``used``, and the name of the registry
    endpoint it is a proxy cache of) -> what the module compares."""
    if project is None:
        return None
    registry_id = project.get("registry_id") or 0
    hard = (quota or {}).get("hard") or {}
    used = (quota or {}).get("used") or {}
    return {
        "name": project.get("name"),
        "project_id": project.get("project_id"),
        "public": bool(_meta_bool(project.get("metadata"), "public")),
        "auto_scan": bool(_meta_bool(project.get("metadata"), "auto_scan")),
        "storage_quota": hard.get("storage"),
        "storage_used": used.get("storage", 0),
        "proxy_cache_registry": (registry_name or registry_id) if registry_id else None,
        "repo_count": project.get("repo_count", 0),
    }


def desired_project(params):
    """The task's options -> wanted fields (None: not managed, keep Harbor's value)."""
    return {
        "name": check_name("project", params["name"]),
        "public": params.get("public"),
        "auto_scan": params.get("auto_scan"),
        "storage_quota": None if params.get("storage_quota") in (None, "")
        else parse_size(params["storage_quota"]),
        "proxy_cache_registry": params.get("proxy_cache_registry") or None,
    }


def project_changes(current, desired):
    """Fields of ``desired`` that differ from ``current`` (every managed one when absent)."""
    return dict((key, desired[key]) for key in PROJECT_FIELDS
                if desired[key] is not None and (current is None or current[key] != desired[key]))


def check_project_change(current, changes, url):
    """Refuse, before any write, what Harbor cannot change or should not be told to."""
    if current is None:
        return
    if "proxy_cache_registry" in changes:
        raise HarborError(
            "project %r of Harbor %s is %s; Harbor fixes a project's proxy cache registry when "
            "the project is created: delete the project (state: absent) and create it again "
            "with proxy_cache_registry %r" % (
                current["name"], url,
                "a proxy cache of registry endpoint %r" % current["proxy_cache_registry"]
                if current["proxy_cache_registry"] else "not a proxy cache",
                changes["proxy_cache_registry"]))
    quota = changes.get("storage_quota")
    if quota is not None and quota != UNLIMITED and quota < (current["storage_used"] or 0):
        raise HarborError(
            "storage_quota %s (%d bytes) of project %r is below what the project already uses, "
            "%s (%d bytes); Harbor would refuse every push after it: raise storage_quota to at "
            "least %s, or delete images from the project first" % (
                format_size(quota), quota, current["name"], human_size(current["storage_used"]),
                current["storage_used"], format_size(_round_up(current["storage_used"]))))


def _round_up(size):
    """The smallest whole number of MiB at or above ``size`` (a quota to suggest)."""
    step = _UNITS["M"]
    return max(step, -(-size // step) * step)


def project_create_body(desired, registry_id=None):
    body = {"project_name": desired["name"],
            "metadata": {"public": _meta_str(desired["public"])}}
    if desired["auto_scan"] is not None:
        body["metadata"]["auto_scan"] = _meta_str(desired["auto_scan"])
    if desired["storage_quota"] is not None:
        body["storage_limit"] = desired["storage_quota"]
    if registry_id is not None:
        body["registry_id"] = registry_id
    return body


def project_metadata_body(changes):
    """PUT /projects/{name} body for the metadata among ``changes`` (None: nothing to put)."""
    metadata = dict((key, _meta_str(changes[key])) for key in ("public", "auto_scan")
                    if key in changes)
    return {"metadata": metadata} if metadata else None


def project_view(state):
    """A project as the modules return it (sizes in bytes and in the form the task uses)."""
    if state is None:
        return None
    out = dict(state)
    out["storage_quota_human"] = format_size(state["storage_quota"])
    return out


# -- registry endpoints -----------------------------------------------------------------

REGISTRY_FIELDS = ("type", "endpoint_url", "access_key", "insecure", "description")


def registry_state(registry):
    if registry is None:
        return None
    credential = registry.get("credential") or {}
    return {
        "id": registry.get("id"),
        "name": registry.get("name"),
        "type": registry.get("type"),
        "endpoint_url": registry.get("url"),
        "access_key": credential.get("access_key") or None,
        "has_secret": bool(credential.get("access_secret")),
        "insecure": bool(registry.get("insecure")),
        "description": registry.get("description") or "",
        "status": registry.get("status"),
    }


def desired_registry(params):
    url = (params.get("endpoint_url") or "").strip()
    if params.get("state", "present") == "present" and not (
            url.startswith("http://") or url.startswith("https://")):
        raise HarborError("endpoint_url %r of registry endpoint %r must be a URL with its "
                          "scheme, e.g. https://registry.example.com"
                          % (params.get("endpoint_url"), params["name"]))
    return {
        "name": params["name"],
        "type": params.get("type"),
        "endpoint_url": url.rstrip("/"),
        "access_key": params.get("access_key") or None,
        "insecure": params.get("insecure"),
        "description": params.get("description"),
    }


def registry_changes(current, desired):
    out = {}
    for key in REGISTRY_FIELDS:
        want = desired.get(key)
        if want is None:
            continue
        have = None if current is None else current[key]
        if key == "endpoint_url" and have:
            have = have.rstrip("/")
        if current is None or have != want:
            out[key] = want
    return out


def registry_create_body(desired, secret):
    body = {"name": desired["name"], "type": desired["type"], "url": desired["endpoint_url"],
            "insecure": bool(desired["insecure"]), "description": desired["description"] or ""}
    if desired["access_key"] or secret:
        body["credential"] = {"type": "basic", "access_key": desired["access_key"] or "",
                              "access_secret": secret or ""}
    return body


def registry_update_body(changes, secret=None):
    """RegistryUpdate: only what changes (Harbor keeps the fields left out)."""
    body = {}
    if "endpoint_url" in changes:
        body["url"] = changes["endpoint_url"]
    for key in ("insecure", "description", "access_key"):
        if key in changes:
            body[key] = changes[key]
    if "access_key" in changes or secret is not None:
        body["credential_type"] = "basic"
    if secret is not None:
        body["access_secret"] = secret
    return body


def registry_ping_body(desired, secret, current_id=None):
    body = {"type": desired["type"], "url": desired["endpoint_url"],
            "insecure": bool(desired["insecure"])}
    if current_id is not None:
        body["id"] = current_id
    if desired["access_key"] or secret:
        body.update(credential_type="basic", access_key=desired["access_key"] or "")
    if secret:
        body["access_secret"] = secret
    return body


def registry_view(state):
    return None if state is None else dict(state)


# -- robot accounts ---------------------------------------------------------------------

def robot_suffix(project, name):
    """How a project robot's name ends in Harbor: ``<project>+<name>`` after the system's
    robot name prefix (``robot$`` unless configured otherwise)."""
    return "%s+%s" % (project, name)


def robot_matches(full_name, project, name):
    """Whether ``full_name`` (from the robot list of ``project``) is robot ``name``: robot names
    cannot hold a ``+``, so the part after the last one is the name, whatever the prefix."""
    head, sep, tail = (full_name or "").rpartition("+")
    return bool(sep) and tail == name and head.endswith(project)


def normalize_permissions(permissions, what):
    """[{resource, action}] -> sorted list of dicts, each pair once; empty is an error."""
    out = set()
    for index, item in enumerate(permissions or []):
        resource = str((item or {}).get("resource") or "").strip()
        action = str((item or {}).get("action") or "").strip()
        if not resource or not action:
            raise HarborError("%s: permissions[%d] %r needs both a resource and an action, e.g. "
                              "{resource: repository, action: pull}" % (what, index, item))
        out.add((resource, action))
    if not out:
        raise HarborError("%s has no permissions; give at least one {resource, action}, e.g. "
                          "{resource: repository, action: pull}" % what)
    return [{"resource": r, "action": a} for r, a in sorted(out)]


def robot_state(robot):
    if robot is None:
        return None
    access = []
    for permission in robot.get("permissions") or []:
        access += permission.get("access") or []
    pairs = sorted(set((a.get("resource"), a.get("action")) for a in access))
    return {
        "id": robot.get("id"),
        "name": robot.get("name"),
        "description": robot.get("description") or "",
        "duration_days": robot.get("duration"),
        "disable": bool(robot.get("disable")),
        "expires_at": robot.get("expires_at"),
        "permissions": [{"resource": r, "action": a} for r, a in pairs],
    }


ROBOT_FIELDS = ("description", "duration_days", "disable", "permissions")


def desired_robot(params):
    name = check_name("robot", params["name"])
    project = check_name("project", params["project"])
    if params.get("duration_days") is not None and params["duration_days"] < -1 or \
            params.get("duration_days") == 0:
        raise HarborError("duration_days %r of robot %r: give a number of days, or -1 for a "
                          "robot that never expires" % (params["duration_days"], name))
    what = "robot %r of project %r" % (name, project)
    desired = {"name": name, "project": project,
               "description": params.get("description"),
               "duration_days": params.get("duration_days"),
               "disable": params.get("disable"),
               "permissions": None}
    if params.get("state", "present") == "present":
        desired["permissions"] = normalize_permissions(params.get("permissions"), what)
    return desired


def robot_changes(current, desired):
    return dict((key, desired[key]) for key in ROBOT_FIELDS
                if desired.get(key) is not None and (current is None or
                                                     current[key] != desired[key]))


def robot_permissions_body(project, permissions):
    return [{"kind": "project", "namespace": project,
             "access": [dict(p) for p in permissions]}]


def robot_create_body(desired):
    return {"name": desired["name"], "description": desired["description"] or "",
            "level": "project", "duration": desired["duration_days"], "disable": False,
            "permissions": robot_permissions_body(desired["project"], desired["permissions"])}


def robot_update_body(current, desired):
    """Harbor's PUT /robots/{id} replaces the robot: every field, the name and level as they
    are (Harbor refuses to change them)."""
    merged = dict(current)
    merged.update(dict((k, v) for k, v in robot_changes(current, desired).items()))
    return {"id": current["id"], "name": current["name"], "level": "project",
            "description": merged["description"], "duration": merged["duration_days"],
            "disable": merged["disable"],
            "permissions": robot_permissions_body(desired["project"], merged["permissions"])}


# -- errors -----------------------------------------------------------------------------

def error_detail(body):
    """Harbor's ``{"errors": [{"code", "message"}]}`` -> ``CODE: message; ...``."""
    if isinstance(body, dict):
        errors = body.get("errors") or []
        text = "; ".join("%s: %s" % (e.get("code"), e.get("message")) for e in errors
                         if isinstance(e, dict))
        if text:
            return text
    return str(body)[:200] if body else "no error body"


def error_message(status, body, doing, url, username=None, fix=None):
    """The message for an error answer: what was being done, what Harbor said, the fix."""
    detail = error_detail(body)
    if status == 401:
        return ("Harbor %s rejected %s (HTTP 401, %s) while %s; %s" % (
            url, "the credentials of user %r" % username if username else "anonymous access",
            detail, doing, fix or "check username and password (a robot account logs in with "
            "its full name, e.g. robot$project+name)" if username else
            fix or "set username and password"))
    if status == 403:
        return ("Harbor %s refused %s to user %r (HTTP 403, %s); %s" % (
            url, doing, username, detail, fix or "the user lacks the permission: use a Harbor "
            "system administrator, or a project administrator for objects of that project"))
    if status == 404:
        return ("%s: not found in Harbor %s (HTTP 404, %s); %s" % (
            doing, url, detail, fix or "check the name"))
    if status == 409:
        return ("%s: conflicts with what Harbor %s holds (HTTP 409, %s); %s" % (
            doing, url, detail, fix or "another task or user changed it meanwhile: run the "
            "task again to compare and update"))
    if status == 412:
        return ("Harbor %s refused %s (HTTP 412 precondition failed, %s); %s" % (
            url, doing, detail, fix or "remove what still depends on it first"))
    if status == 400:
        return ("Harbor %s refused %s as a bad request (HTTP 400, %s); %s" % (
            url, doing, detail, fix or "check the options of the task"))
    return "Harbor %s answered HTTP %s while %s: %s" % (url, status, doing, detail)
