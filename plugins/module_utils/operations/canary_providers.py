# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The traffic split as each provider stores it: read the weights, compute the object. No I/O.

From the object a provider stores and the weights (already validated and normalised by
``canary_plan``), each provider's pair of functions reads the current weights and computes
the object to write back:

- ``gateway``: Gateway API HTTPRoute ``spec.rules[].backendRefs[].weight`` (proportions);
- ``istio``: Istio VirtualService ``spec.http[].route[].weight`` (adding up to 100);
- ``nginx``: ingress-nginx's canary Ingress beside the main one, whose ``canary-weight`` is
  the canary's share of ``canary-weight-total``.

A/B rules become route rules named ``xc-canary-ab-<n>`` placed before the weighted rule
(gateway, istio) or the canary-by-header/-cookie annotations (nginx). ``SPEC_FIELDS`` says
which spec fields the module sets on each object, so its server-side apply claims only them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import re

from ansible_collections.xinchuang.cloud.plugins.module_utils.operations.canary_plan import (
    NGINX_DEFAULT_TOTAL,
    CanaryPolicyError,
)

# Where each provider's route lives (the reconciler asks discovery for the resource).
ROUTE_RESOURCES = {
    "gateway": ("gateway.networking.k8s.io/v1", "HTTPRoute"),
    "istio": ("networking.istio.io/v1", "VirtualService"),
    "nginx": ("networking.k8s.io/v1", "Ingress"),
}
# Who installs a provider's kind when the server lacks it.
ROUTE_CRDS = {"gateway": "Gateway API", "istio": "Istio", "nginx": "networking.k8s.io"}

# The spec fields this module sets: the weighted rules of a route (lists the CRDs keep as
# one value), none on the main Ingress (annotations only), all of the canary Ingress (None).
SPEC_FIELDS = {"gateway": ("rules",), "istio": ("http",), "nginx": ()}
NGINX_CANARY_SPEC_FIELDS = None

NGINX = "nginx.ingress.kubernetes.io/"
# The canary annotations this module owns on the canary Ingress; all others are left alone.
NGINX_CANARY_KEYS = tuple(NGINX + k for k in (
    "canary", "canary-weight", "canary-weight-total", "canary-by-header",
    "canary-by-header-value", "canary-by-header-pattern", "canary-by-cookie"))

# Rules / http routes this module adds for A/B matches carry this name prefix, so a later
# run replaces exactly them and nothing a person wrote.
AB_PREFIX = "xc-canary-ab-"
MANAGED_BY = "xinchuang.cloud.canary_weights"


def _cookie_regex(name):
    return r"^(.*;\s*)?%s=always(;.*)?$" % re.escape(name)


# ---------------------------------------------------------------------------
# Gateway API HTTPRoute
# ---------------------------------------------------------------------------

def _ref_is_service(ref, namespace):
    return (ref.get("group") or "") == "" and (ref.get("kind") or "Service") == "Service" and \
        (ref.get("namespace") or namespace) == namespace


def _is_ab(entry):
    return str(entry.get("name") or "").startswith(AB_PREFIX)


def _weighted_rule_indexes(items, refs_of, names, is_ours):
    """Indexes of the entries that route to any of ``names`` (A/B entries excluded).

    When none does and exactly one non-A/B entry exists, that one: a route that sends
    everything to a single backend gets its first canary this way.
    """
    candidates = [i for i, e in enumerate(items) if not is_ours(e)]
    hit = [i for i in candidates if any(n in names for n in refs_of(items[i]))]
    if hit:
        return hit
    if len(candidates) == 1:
        return candidates
    return []


def gateway_weights(route, namespace):
    """Current {service: weight} of an HTTPRoute's first weighted rule (weight defaults to 1)."""
    for rule in (route.get("spec") or {}).get("rules") or []:
        if _is_ab(rule):
            continue
        refs = [r for r in rule.get("backendRefs") or [] if _ref_is_service(r, namespace)]
        if refs:
            return dict((r["name"], r.get("weight", 1)) for r in refs)
    return {}


def _service_port(service, preferred=None):
    """A port of ``service`` for a new backend reference: ``preferred`` when it offers it."""
    ports = ((service or {}).get("spec") or {}).get("ports") or []
    numbers = [p.get("port") for p in ports]
    if preferred in numbers:
        return preferred
    return numbers[0] if numbers else preferred


def gateway_desired(route, namespace, weights, services, match=None):
    """The HTTPRoute ``route`` with ``weights`` on every rule routing to those Services.

    ``services`` maps each weighted name to its Service object (for the port of a backend
    the rule did not reference yet). References to other Services are dropped from the
    weighted rules (the weights describe the whole split); weight 0 keeps a backend listed
    but idle. A/B rules (``match``) go first, copying the weighted rule's path matches.
    """
    desired = copy.deepcopy(route)
    spec = desired.setdefault("spec", {})
    rules = spec.setdefault("rules", [])
    names = list(weights)

    def refs_of(rule):
        return [r.get("name") for r in rule.get("backendRefs") or [] if _ref_is_service(r, namespace)]

    targets = _weighted_rule_indexes(rules, refs_of, names, _is_ab)
    if not targets:
        if rules and any(not _is_ab(r) for r in rules):
            raise CanaryPolicyError(
                "HTTPRoute %s/%s has %d rules and none routes to %s; add one of these Services to "
                "the rule to split, so the module knows which one it is"
                % (namespace, route["metadata"]["name"], len(rules), ", ".join(names)))
        rules.append({})
        targets = [len(rules) - 1]
    for index in targets:
        rule = rules[index]
        existing = dict((r.get("name"), r) for r in rule.get("backendRefs") or []
                        if _ref_is_service(r, namespace))
        sibling_port = next((r.get("port") for r in existing.values() if r.get("port")), None)
        refs = []
        for name in names:
            ref = copy.deepcopy(existing.get(name)) or {
                "group": "", "kind": "Service", "name": name,
                "port": _service_port(services.get(name), sibling_port)}
            if ref.get("port") is None:
                ref.pop("port")
            ref["weight"] = weights[name]
            refs.append(ref)
        rule["backendRefs"] = refs
    if match is not None:
        base = rules[targets[0]]
        plain = [r for r in rules if not _is_ab(r)]
        base_matches = base.get("matches") or [{"path": {"type": "PathPrefix", "value": "/"}}]
        ab_rules = []
        for i, rule in enumerate(match):
            if rule["cookie"]:
                header = {"type": "RegularExpression", "name": "Cookie",
                          "value": _cookie_regex(rule["cookie"])}
            else:
                header = {"type": "RegularExpression" if rule["type"] == "regex" else "Exact",
                          "name": rule["header"],
                          "value": rule["value"] if rule["value"] is not None else "always"}
            matches = []
            for m in base_matches:
                m = copy.deepcopy(m)
                m["headers"] = [h for h in m.get("headers") or [] if h.get("name") != header["name"]]
                m["headers"].append(header)
                matches.append(m)
            ref = next(r for r in base["backendRefs"] if r["name"] == rule["backend"])
            # weight 1 spelled out: the server would default it, and the next run would differ
            ref = dict(ref, weight=1)
            ab = {"name": "%s%d" % (AB_PREFIX, i), "matches": matches, "backendRefs": [ref]}
            if base.get("filters"):
                ab["filters"] = copy.deepcopy(base["filters"])
            ab_rules.append(ab)
        spec["rules"] = ab_rules + plain
    return desired


# ---------------------------------------------------------------------------
# Istio VirtualService
# ---------------------------------------------------------------------------

def _host_service(host, namespace):
    """``app``, ``app.ns``, ``app.ns.svc`` and ``app.ns.svc.cluster.local`` -> ``app``."""
    parts = (host or "").split(".")
    if len(parts) == 1:
        return parts[0]
    if parts[1] == namespace and (len(parts) == 2 or parts[2] == "svc"):
        return parts[0]
    return None  # another namespace or an external host: not one of ours


def istio_weights(vs, namespace):
    """Current {service: weight} of a VirtualService's first weighted http route."""
    for http in (vs.get("spec") or {}).get("http") or []:
        if _is_ab(http):
            continue
        dests = http.get("route") or []
        out = {}
        for d in dests:
            name = _host_service((d.get("destination") or {}).get("host"), namespace)
            if name:
                out[name] = d.get("weight", 100 if len(dests) == 1 else 0)
        if out:
            return out
    return {}


def istio_desired(vs, namespace, weights, services, match=None):
    """The VirtualService ``vs`` with ``weights`` (already summing to 100) on its http routes."""
    desired = copy.deepcopy(vs)
    spec = desired.setdefault("spec", {})
    https = spec.setdefault("http", [])
    names = list(weights)

    def refs_of(http):
        return [_host_service((d.get("destination") or {}).get("host"), namespace)
                for d in http.get("route") or []]

    targets = _weighted_rule_indexes(https, refs_of, names, _is_ab)
    if not targets:
        if https and any(not _is_ab(h) for h in https):
            raise CanaryPolicyError(
                "VirtualService %s/%s has %d http routes and none routes to %s; add one of these "
                "Services to the route to split" % (
                    namespace, vs["metadata"]["name"], len(https), ", ".join(names)))
        https.append({})
        targets = [len(https) - 1]
    for index in targets:
        http = https[index]
        existing = {}
        for d in http.get("route") or []:
            name = _host_service((d.get("destination") or {}).get("host"), namespace)
            if name and name not in existing:
                existing[name] = d
        sibling_port = next((((d.get("destination") or {}).get("port") or {}).get("number")
                             for d in existing.values()), None)
        route = []
        for name in names:
            dest = copy.deepcopy(existing.get(name)) or {"destination": {"host": name}}
            if name not in existing:
                port = _service_port(services.get(name), sibling_port)
                if sibling_port is not None and port is not None:
                    dest["destination"]["port"] = {"number": port}
            dest["weight"] = weights[name]
            route.append(dest)
        http["route"] = route
    if match is not None:
        base = https[targets[0]]
        plain = [h for h in https if not _is_ab(h)]
        base_matches = base.get("match") or [{}]
        ab_routes = []
        for i, rule in enumerate(match):
            if rule["cookie"]:
                name, cond = "cookie", {"regex": _cookie_regex(rule["cookie"])}
            else:
                name = rule["header"].lower()  # Istio matches header names in lower case
                value = rule["value"] if rule["value"] is not None else "always"
                cond = {"regex": value} if rule["type"] == "regex" else {"exact": value}
            matches = []
            for m in base_matches:
                m = copy.deepcopy(m)
                m.setdefault("headers", {})[name] = cond
                matches.append(m)
            dest = next(d for d in base["route"]
                        if _host_service(d["destination"]["host"], namespace) == rule["backend"])
            dest = dict((k, v) for k, v in copy.deepcopy(dest).items() if k != "weight")
            ab = dict((k, copy.deepcopy(v)) for k, v in base.items()
                      if k not in ("name", "match", "route"))
            ab.update({"name": "%s%d" % (AB_PREFIX, i), "match": matches, "route": [dest]})
            ab_routes.append(ab)
        spec["http"] = ab_routes + plain
    return desired


# ---------------------------------------------------------------------------
# ingress-nginx: main Ingress + canary Ingress
# ---------------------------------------------------------------------------

def _ingress_backends(ingress):
    """Every backend Service name of an Ingress (default backend and rule paths)."""
    spec = ingress.get("spec") or {}
    out = []
    default = ((spec.get("defaultBackend") or {}).get("service") or {}).get("name")
    if default:
        out.append(default)
    for rule in spec.get("rules") or []:
        for path in ((rule.get("http") or {}).get("paths")) or []:
            name = ((path.get("backend") or {}).get("service") or {}).get("name")
            if name and name not in out:
                out.append(name)
    return out


def _hosts(ingress):
    return set(r.get("host") or "" for r in (ingress.get("spec") or {}).get("rules") or [])


def is_nginx_canary(ingress):
    return ((ingress.get("metadata") or {}).get("annotations") or {}).get(NGINX + "canary") == "true"


def nginx_canary_name(route):
    return "%s-canary" % route


def find_nginx_canary(main, ingresses):
    """The canary Ingress of ``main`` among ``ingresses`` of its namespace, or None.

    Ours is ``<main>-canary``; otherwise an Ingress annotated ``canary: "true"`` that serves
    the same hosts (ingress-nginx pairs them by host and path). Two such is an error.
    """
    name = main["metadata"]["name"]
    by_name = dict((i["metadata"]["name"], i) for i in ingresses)
    if nginx_canary_name(name) in by_name:
        return by_name[nginx_canary_name(name)]
    hosts = _hosts(main)
    found = [i for i in ingresses if i["metadata"]["name"] != name and is_nginx_canary(i)
             and _hosts(i) & hosts]
    if len(found) > 1:
        raise CanaryPolicyError(
            "Ingress %s has %d canary Ingresses (%s) for its hosts; ingress-nginx uses one per "
            "rule: delete the extra ones" % (
                name, len(found), ", ".join(sorted(i["metadata"]["name"] for i in found))))
    return found[0] if found else None


def nginx_roles(main, weights):
    """(stable, canary): the weighted Service the main Ingress routes to, and the other."""
    backends = _ingress_backends(main)
    names = list(weights)
    stable = [n for n in names if n in backends]
    if len(stable) != 1:
        raise CanaryPolicyError(
            "Ingress %s routes to %s; of the two weighted Services (%s) exactly one must be its "
            "backend (the stable one) and the other the canary" % (
                main["metadata"]["name"], ", ".join(backends) or "no Service", ", ".join(names)))
    canary = [n for n in names if n != stable[0]][0]
    return stable[0], canary


def nginx_total(canary_ingress, requested=None):
    """The canary-weight-total in force: the requested one, else the canary Ingress's, else 100."""
    if requested:
        return int(requested)
    value = (((canary_ingress or {}).get("metadata") or {}).get("annotations") or {}).get(
        NGINX + "canary-weight-total")
    try:
        return int(value) if value else NGINX_DEFAULT_TOTAL
    except ValueError:
        return NGINX_DEFAULT_TOTAL


def nginx_weights(main, canary_ingress):
    """Current {stable: w, canary: w} in units of canary-weight-total ({} without a canary)."""
    if not canary_ingress or not is_nginx_canary(canary_ingress):
        backends = _ingress_backends(main)
        return {backends[0]: NGINX_DEFAULT_TOTAL} if backends else {}
    total = nginx_total(canary_ingress)
    notes = canary_ingress["metadata"].get("annotations") or {}
    try:
        weight = int(notes.get(NGINX + "canary-weight") or 0)
    except ValueError:
        weight = 0
    stable = (_ingress_backends(main) or [None])[0]
    canary = (_ingress_backends(canary_ingress) or [None])[0]
    out = {}
    if stable:
        out[stable] = total - weight
    if canary:
        out[canary] = weight
    return out


def nginx_desired_canary(main, canary_ingress, namespace, stable, canary, weights, total,
                         services, match=None):
    """The canary Ingress: the main Ingress's rules sent to ``canary``, weight annotations set.

    ``weights`` are already normalised to ``total``. Annotations other than the canary ones
    are kept as they are on an existing canary Ingress.
    """
    name = canary_ingress["metadata"]["name"] if canary_ingress else nginx_canary_name(
        main["metadata"]["name"])
    desired = copy.deepcopy(canary_ingress) if canary_ingress else {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {"app.kubernetes.io/managed-by": MANAGED_BY}}}
    spec = copy.deepcopy(main.get("spec") or {})
    canary_service = services.get(canary)

    def _swap(backend):
        svc = (backend or {}).get("service")
        if not svc or svc.get("name") != stable:
            return
        port = svc.get("port") or {}
        offered = ((canary_service or {}).get("spec") or {}).get("ports") or []
        if port.get("name") and any(p.get("name") == port["name"] for p in offered):
            new_port = {"name": port["name"]}
        else:
            new_port = {"number": _service_port(canary_service, port.get("number"))}
        svc["name"] = canary
        svc["port"] = new_port

    if spec.get("defaultBackend"):
        _swap(spec["defaultBackend"])
    for rule in spec.get("rules") or []:
        for path in ((rule.get("http") or {}).get("paths")) or []:
            _swap(path.get("backend"))
    desired["spec"] = spec
    notes = dict(desired["metadata"].get("annotations") or {})
    if match is not None:  # the match rules are given: they replace the canary-by-* ones
        for key in NGINX_CANARY_KEYS:
            notes.pop(key, None)
    notes[NGINX + "canary"] = "true"
    notes[NGINX + "canary-weight"] = str(weights[canary])
    notes[NGINX + "canary-weight-total"] = str(total)
    for rule in match or []:
        if rule["backend"] != canary:
            raise CanaryPolicyError(
                "match: ingress-nginx can only send matching requests to the canary (%s), not "
                "to %s" % (canary, rule["backend"]))
        if rule["cookie"]:
            notes[NGINX + "canary-by-cookie"] = rule["cookie"]
        else:
            notes[NGINX + "canary-by-header"] = rule["header"]
            if rule["value"] is not None:
                key = "canary-by-header-pattern" if rule["type"] == "regex" else "canary-by-header-value"
                notes[NGINX + key] = rule["value"]
    desired["metadata"]["annotations"] = notes
    return desired


# ---------------------------------------------------------------------------
# Annotations on the route object
# ---------------------------------------------------------------------------

def with_annotations(obj, annotations):
    """``obj`` with ``annotations`` set (a value of None removes the key)."""
    if not annotations:
        return obj
    out = copy.deepcopy(obj)
    notes = dict(out.setdefault("metadata", {}).get("annotations") or {})
    for key, value in annotations.items():
        if value is None:
            notes.pop(key, None)
        else:
            notes[key] = str(value)
    out["metadata"]["annotations"] = notes
    return out


def comparable(obj):
    """The parts of an object this module writes: spec and annotations (for changed/diff)."""
    if obj is None:
        return None
    meta = obj.get("metadata") or {}
    return {"metadata": {"name": meta.get("name"), "namespace": meta.get("namespace"),
                         "annotations": dict(meta.get("annotations") or {})},
            "spec": obj.get("spec") or {}}


# ---------------------------------------------------------------------------
# One entry point per question, whatever the provider
# ---------------------------------------------------------------------------

def route_weights(provider, route, namespace):
    """Current {service: weight} of a gateway or istio route."""
    if provider == "gateway":
        return gateway_weights(route, namespace)
    return istio_weights(route, namespace)


def route_desired(provider, route, namespace, weights, services, match=None):
    """The gateway or istio route with ``weights`` (normalised) and the A/B rules."""
    build = gateway_desired if provider == "gateway" else istio_desired
    return build(route, namespace, weights, services, match)
