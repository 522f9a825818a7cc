# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Traffic-split policy of the canary_weights module and the canary_release role. No I/O.

From the object a provider stores (Gateway API HTTPRoute, Istio VirtualService, the
ingress-nginx main Ingress and its canary Ingress) and the weights a user asks for, this
module computes the weights as that provider stores them and the object to write back:

- ``gateway``: ``spec.rules[].backendRefs[].weight`` are proportions; stored as given.
- ``istio``: destination weights must add up to 100; normalised with largest-remainder
  rounding, so 1:2 becomes 33:67 and never 33:66.
- ``nginx``: one canary Ingress beside the main one; ``canary-weight`` is the canary's share
  of ``canary-weight-total`` (default 100), again by largest remainder. Only two backends.

Plus the pure parts of the ``verify`` preflight (is a Deployment available, do the nodes
it may run on have room for its replicas) and the step plans of a gradual release.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import re
from fractions import Fraction

from ansible_collections.xinchuang.cloud.plugins.module_utils.errors import XinchuangError


class CanaryPolicyError(XinchuangError, ValueError):
    """Weights, matches or a route object that the policy cannot turn into a traffic split."""


PROVIDERS = ("gateway", "istio", "nginx")

# Where each provider's route lives (the module resolves these through discovery).
ROUTE_RESOURCES = {
    "gateway": ("gateway.networking.k8s.io/v1", "HTTPRoute"),
    "istio": ("networking.istio.io/v1", "VirtualService"),
    "nginx": ("networking.k8s.io/v1", "Ingress"),
}

NGINX = "nginx.ingress.kubernetes.io/"
# The canary annotations this module owns on the canary Ingress; all others are left alone.
NGINX_CANARY_KEYS = tuple(NGINX + k for k in (
    "canary", "canary-weight", "canary-weight-total", "canary-by-header",
    "canary-by-header-value", "canary-by-header-pattern", "canary-by-cookie"))
NGINX_DEFAULT_TOTAL = 100

# Rules / http routes this module adds for A/B matches carry this name prefix, so a later
# run replaces exactly them and nothing a person wrote.
AB_PREFIX = "xc-canary-ab-"
MANAGED_BY = "xinchuang.cloud.canary_weights"

# Annotations the canary_release role keeps on the route object to resume a release.
ANNOTATION_RELEASE = "xinchuang.cloud/canary-release"
ANNOTATION_STEP = "xinchuang.cloud/canary-step"
ANNOTATION_STATE = "xinchuang.cloud/canary-state"

GATEWAY_MAX_WEIGHT = 1000000  # HTTPRoute CRD: backendRefs[].weight maximum
GATEWAY_MAX_BACKENDS = 16  # HTTPRoute CRD: backendRefs maxItems

_SERVICE_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


# ---------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------

def _as_int(name, value):
    """Accept 10, "10" and 10.0 (templated values arrive as any of them); refuse the rest."""
    if isinstance(value, bool):
        raise CanaryPolicyError(
            "weights: %s: %r is a boolean, not a weight; give a non-negative integer" % (name, value))
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.match(r"^\s*-?\d+\s*$", value):
        return int(value)
    raise CanaryPolicyError(
        "weights: %s: %r is not an integer; weights are non-negative integers such as 90 and 10"
        % (name, value))


def validate_weights(weights, provider="gateway"):
    """Check a user's ``weights`` mapping; return it as {service: int} in the given order.

    Refuses: an empty or non-mapping value, names that cannot be Services, non-integers,
    negative weights, a zero total, more than two backends for nginx, and values beyond the
    HTTPRoute limits for gateway.
    """
    if provider not in PROVIDERS:
        raise CanaryPolicyError(
            "provider %r is unknown; use one of: %s" % (provider, ", ".join(PROVIDERS)))
    if not isinstance(weights, dict) or not weights:
        raise CanaryPolicyError(
            "weights must map each backend Service to a weight, e.g. {app-c86: 90, app-arm: 10}; "
            "got %r" % (weights,))
    out = {}
    for name, value in weights.items():
        if not isinstance(name, str) or not _SERVICE_NAME.match(name):
            raise CanaryPolicyError(
                "weights: %r is not a Service name (lower-case letters, digits and '-', starting "
                "with a letter, at most 63 characters)" % (name,))
        number = _as_int(name, value)
        if number < 0:
            raise CanaryPolicyError(
                "weights: %s: %d is negative; weights are non-negative integers (0 sends it no "
                "traffic)" % (name, number))
        out[name] = number
    if sum(out.values()) <= 0:
        raise CanaryPolicyError(
            "weights: every weight is 0 (%s), so no backend would receive traffic; give at "
            "least one backend a positive weight" % ", ".join(sorted(out)))
    if provider == "nginx" and len(out) != 2:
        raise CanaryPolicyError(
            "weights: the nginx provider splits traffic between exactly two backends (the main "
            "Ingress's Service and one canary Service), got %d (%s); ingress-nginx allows one "
            "canary Ingress per rule. Use provider gateway or istio for %s backends"
            % (len(out), ", ".join(out), "more" if len(out) > 2 else "a single"))
    if provider == "gateway":
        if len(out) > GATEWAY_MAX_BACKENDS:
            raise CanaryPolicyError(
                "weights: an HTTPRoute rule holds at most %d backends, got %d"
                % (GATEWAY_MAX_BACKENDS, len(out)))
        too_big = [n for n, w in out.items() if w > GATEWAY_MAX_WEIGHT]
        if too_big:
            raise CanaryPolicyError(
                "weights: %s above %d, the HTTPRoute maximum; scale the weights down (only "
                "their proportions matter)" % (", ".join(too_big), GATEWAY_MAX_WEIGHT))
    return out


def largest_remainder(weights, total):
    """Scale {name: weight} to integers summing to ``total`` (Hamilton's method).

    Each share gets the floor of its exact quota; the units left over go to the largest
    remainders, ties broken by the larger original weight, then by input order. Exact
    arithmetic (fractions), so the result never depends on float rounding.
    """
    if total <= 0:
        raise CanaryPolicyError("the weight total must be positive, got %r" % (total,))
    whole = sum(weights.values())
    if whole <= 0:
        raise CanaryPolicyError("weights add up to 0; give at least one a positive weight")
    quotas = [(name, Fraction(w * total, whole), w, i)
              for i, (name, w) in enumerate(weights.items())]
    out = dict((name, int(q)) for name, q, _w, _i in quotas)  # int() of a Fraction floors here
    left = total - sum(out.values())
    by_remainder = sorted(quotas, key=lambda t: (-(t[1] - int(t[1])), -t[2], t[3]))
    for name, _q, _w, _i in by_remainder[:left]:
        out[name] += 1
    return dict((name, out[name]) for name in weights)


def normalise(provider, weights, total=None):
    """Weights as ``provider`` stores them: gateway as given, istio to 100, nginx to total."""
    if provider == "gateway":
        return dict(weights)
    if provider == "istio":
        return largest_remainder(weights, 100)
    if provider == "nginx":
        return largest_remainder(weights, total or NGINX_DEFAULT_TOTAL)
    raise CanaryPolicyError("provider %r is unknown; use one of: %s" % (provider, ", ".join(PROVIDERS)))


# ---------------------------------------------------------------------------
# A/B matches
# ---------------------------------------------------------------------------

def validate_match(match, weights, provider):
    """Normalise ``match`` rules: [{backend, header|cookie, value, type}].

    ``header`` with ``value`` (``type`` exact, the default, or regex) sends requests carrying
    it to ``backend``; without ``value`` the header must be C(always) (ingress-nginx's
    convention, kept for every provider so a rule means the same everywhere). ``cookie``
    sends requests whose cookie of that name is C(always) to ``backend``.
    ``None`` means: leave the route's current A/B rules alone.
    """
    if match is None:
        return None
    if not isinstance(match, list):
        raise CanaryPolicyError("match must be a list of rules, got %r" % (match,))
    out = []
    for i, rule in enumerate(match):
        where = "match[%d]" % i
        if not isinstance(rule, dict):
            raise CanaryPolicyError("%s must be a mapping, got %r" % (where, rule))
        unknown = set(rule) - set(("backend", "header", "value", "type", "cookie"))
        if unknown:
            raise CanaryPolicyError(
                "%s: unknown keys %s; a rule has backend, and header (with value and type) or "
                "cookie" % (where, ", ".join(sorted(unknown))))
        backend = rule.get("backend")
        if backend not in weights:
            raise CanaryPolicyError(
                "%s: backend %r is not one of the weighted Services (%s); A/B rules send "
                "matching requests to one of them" % (where, backend, ", ".join(weights)))
        header, cookie = rule.get("header"), rule.get("cookie")
        if bool(header) == bool(cookie):
            raise CanaryPolicyError(
                "%s: give exactly one of header or cookie, got %r" % (where, rule))
        kind = rule.get("type") or "exact"
        if kind not in ("exact", "regex"):
            raise CanaryPolicyError("%s: type %r must be exact or regex" % (where, kind))
        value = rule.get("value")
        if cookie and (value is not None or rule.get("type")):
            raise CanaryPolicyError(
                "%s: a cookie rule matches the cookie's value 'always' (ingress-nginx's "
                "canary-by-cookie); drop value and type, or use a header rule" % where)
        if header and value is None and kind == "regex":
            raise CanaryPolicyError("%s: type regex needs a value (the pattern)" % where)
        out.append(dict(backend=backend, header=header, cookie=cookie,
                        value=None if value is None else str(value), type=kind))
    if provider == "nginx" and out:
        headers = [r for r in out if r["header"]]
        cookies = [r for r in out if r["cookie"]]
        if len(headers) > 1 or len(cookies) > 1:
            raise CanaryPolicyError(
                "match: ingress-nginx has one canary-by-header and one canary-by-cookie per "
                "canary Ingress; give at most one header rule and one cookie rule")
    return out


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
# verify: Deployment available, room on its nodes
# ---------------------------------------------------------------------------

def rising_backends(previous, weights):
    """Backends whose share of the traffic grows (shares, since gateway weights are proportions).

    A backend new to the route rises when its weight is above 0.
    """
    def shares(w):
        total = sum(w.values())
        return dict((n, Fraction(v, total) if total else Fraction(0)) for n, v in w.items())

    before, after = shares(previous or {}), shares(weights)
    return [n for n in weights if after[n] > before.get(n, Fraction(0))]


def selector_matches(selector, labels):
    """A Service's ``spec.selector`` (equality only) against a Pod template's labels."""
    return bool(selector) and all((labels or {}).get(k) == v for k, v in selector.items())


def deployment_available(deployment):
    """(ok, reason): rolled out at its generation with every replica available."""
    meta, spec = deployment.get("metadata") or {}, deployment.get("spec") or {}
    status = deployment.get("status") or {}
    name = meta.get("name")
    want = spec.get("replicas", 1)
    if status.get("observedGeneration", 0) < meta.get("generation", 0):
        return False, "Deployment %s: the controller has not seen its latest spec yet" % name
    conds = dict((c.get("type"), c) for c in status.get("conditions") or [])
    avail = conds.get("Available", {})
    if avail.get("status") != "True":
        return False, "Deployment %s is not Available (%s)" % (name, avail.get("message") or "no condition yet")
    have = status.get("availableReplicas", 0) or 0
    if have < want or (status.get("updatedReplicas", 0) or 0) < want:
        return False, "Deployment %s: %d of %d replicas available and updated" % (name, have, want)
    return True, "Deployment %s: %d/%d replicas available" % (name, have, want)


_CPU = re.compile(r"^(\d+(?:\.\d+)?)(m?)$")
_MEM = {"Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50,
        "k": 10 ** 3, "K": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15, "": 1}


def cpu_millis(value):
    if value in (None, ""):
        return 0
    m = _CPU.match(str(value))
    if not m:
        raise CanaryPolicyError("cannot read CPU quantity %r" % (value,))
    number = float(m.group(1))
    return int(number if m.group(2) else number * 1000)


def memory_bytes(value):
    if value in (None, ""):
        return 0
    m = re.match(r"^(\d+(?:\.\d+)?)([KMGTP]i?|k|)$", str(value))
    if not m:
        raise CanaryPolicyError("cannot read memory quantity %r" % (value,))
    return int(float(m.group(1)) * _MEM[m.group(2)])


def pod_requests(pod_spec):
    """(cpu millis, memory bytes) a Pod of this spec asks for (sum over its containers)."""
    cpu = mem = 0
    for c in pod_spec.get("containers") or []:
        req = (c.get("resources") or {}).get("requests") or {}
        cpu += cpu_millis(req.get("cpu"))
        mem += memory_bytes(req.get("memory"))
    return cpu, mem


def _node_ready(node):
    conds = dict((c.get("type"), c.get("status")) for c in (node.get("status") or {}).get("conditions") or [])
    return conds.get("Ready") == "True" and not (node.get("spec") or {}).get("unschedulable")


def eligible_nodes(deployment, nodes):
    """Ready, schedulable nodes whose labels satisfy the Deployment's nodeSelector."""
    selector = ((((deployment.get("spec") or {}).get("template") or {}).get("spec") or {})
                .get("nodeSelector") or {})
    return [n for n in nodes if _node_ready(n) and all(
        ((n.get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in selector.items())]


def node_platforms(nodes):
    """OCI platforms (``linux/<kubernetes.io/arch>``) of ``nodes``, sorted, without repeats."""
    archs = set(((n.get("metadata") or {}).get("labels") or {}).get("kubernetes.io/arch") for n in nodes)
    return ["linux/%s" % a for a in sorted(a for a in archs if a)]


def pod_images(pod_spec):
    """Images of a Pod spec's init and regular containers, in order, without repeats."""
    out = []
    for c in (pod_spec.get("initContainers") or []) + (pod_spec.get("containers") or []):
        if c.get("image") and c["image"] not in out:
            out.append(c["image"])
    return out


def split_image(image):
    """``127.0.0.1:5000/team/web:1`` -> (``127.0.0.1:5000``, ``team/web:1``).

    A first component without '.' or ':' (and not localhost) is a Docker Hub repository, as
    container runtimes read it: (``docker.io``, ``library/<name>`` for single names).
    """
    first, sep, rest = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return "docker.io", image if sep else "library/" + image


def node_room(deployment, nodes, pods):
    """(ok, reason): the Ready nodes matching the Deployment's nodeSelector can hold its replicas.

    Counts what the other Pods already request on those nodes (the Deployment's own Pods are
    left out: they are the ones that must fit) against allocatable pods, CPU and memory.
    """
    tmpl = ((deployment.get("spec") or {}).get("template") or {})
    pod_spec = tmpl.get("spec") or {}
    labels = (tmpl.get("metadata") or {}).get("labels") or {}
    selector = pod_spec.get("nodeSelector") or {}
    name = deployment["metadata"]["name"]
    replicas = (deployment.get("spec") or {}).get("replicas", 1)
    eligible = eligible_nodes(deployment, nodes)
    if not eligible:
        return False, "Deployment %s: no Ready schedulable node matches nodeSelector %s" % (name, selector)
    names = set(n["metadata"]["name"] for n in eligible)
    cpu_need, mem_need = pod_requests(pod_spec)
    free_pods = free_cpu = free_mem = 0
    for node in eligible:
        alloc = (node.get("status") or {}).get("allocatable") or {}
        used_pods = used_cpu = used_mem = 0
        for pod in pods:
            pspec = pod.get("spec") or {}
            if pspec.get("nodeName") != node["metadata"]["name"]:
                continue
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            if all(((pod.get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in labels.items()):
                continue  # one of this Deployment's own Pods
            c, m = pod_requests(pspec)
            used_pods, used_cpu, used_mem = used_pods + 1, used_cpu + c, used_mem + m
        free_pods += max(0, int(alloc.get("pods", 110)) - used_pods)
        free_cpu += max(0, cpu_millis(alloc.get("cpu")) - used_cpu)
        free_mem += max(0, memory_bytes(alloc.get("memory")) - used_mem)
    short = []
    if free_pods < replicas:
        short.append("pods %d < %d" % (free_pods, replicas))
    if cpu_need and free_cpu < cpu_need * replicas:
        short.append("cpu %dm < %dm" % (free_cpu, cpu_need * replicas))
    if mem_need and free_mem < mem_need * replicas:
        short.append("memory %d < %d bytes" % (free_mem, mem_need * replicas))
    where = "nodes %s" % ", ".join(sorted(names))
    if short:
        return False, "Deployment %s: %s lack room for %d replicas (%s)" % (
            name, where, replicas, "; ".join(short))
    return True, "Deployment %s: %s have room for %d replicas" % (name, where, replicas)


# ---------------------------------------------------------------------------
# Step plans of a gradual release
# ---------------------------------------------------------------------------

def validate_steps(steps):
    """Percentages toward the canary: strictly increasing integers in 1..100."""
    if not isinstance(steps, (list, tuple)) or not steps:
        raise CanaryPolicyError("steps must be a list of percentages such as [10, 50, 100]")
    out = [_as_int("steps", s) for s in steps]
    if any(s < 1 or s > 100 for s in out):
        raise CanaryPolicyError("steps %s: each step is a percentage from 1 to 100" % out)
    if any(b <= a for a, b in zip(out, out[1:])):
        raise CanaryPolicyError("steps %s must increase strictly, e.g. [10, 50, 100]" % out)
    return out


def step_plan(stable, canary, steps):
    """[{stable: 100-s, canary: s} for s in steps], ending at 100 (the promotion)."""
    out = validate_steps(steps)
    if out[-1] != 100:
        out.append(100)
    return [{stable: 100 - s, canary: s} for s in out]


def rollback_weights(plan, failed_index, stable=None, canary=None):
    """Weights to return to when the check after ``plan[failed_index]`` fails."""
    if failed_index > 0:
        return dict(plan[failed_index - 1])
    names = list(plan[0])
    return {names[0] if stable is None else stable: 100, names[1] if canary is None else canary: 0}


def release_id(stable, canary, steps):
    """What identifies one release on the route's annotation (resume only the same one)."""
    return "%s->%s@%s" % (stable, canary, ",".join(str(s) for s in validate_steps(steps)))


def resume_index(annotations, stable, canary, steps):
    """Index into the plan to start from: the step reached by the same release, else 0.

    The step reached is re-applied (a no-op) and checked again, because an interruption may
    have come between its write and its check. A promoted release gives len(plan).
    """
    annotations = annotations or {}
    if annotations.get(ANNOTATION_RELEASE) != release_id(stable, canary, steps):
        return 0
    plan = step_plan(stable, canary, steps)
    if annotations.get(ANNOTATION_STATE) == "promoted":
        return len(plan)
    if annotations.get(ANNOTATION_STATE) != "in-progress":
        return 0
    try:
        reached = int(annotations.get(ANNOTATION_STEP) or 0)
    except ValueError:
        return 0
    return max(0, min(reached - 1, len(plan) - 1))
