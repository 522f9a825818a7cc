# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a gray release asks for, checked and planned. No I/O.

Used by the canary_weights module (weights, A/B rules) and, through the ``canary_*``
filters, by the canary_release role (backends, steps, rollback, resume, annotations,
release window), so the role never re-derives a rule written here:

- weights: validated, and normalised as each provider stores them (gateway as given,
  istio to 100, nginx to its canary-weight-total, by largest remainder);
- A/B rules: which requests go to one backend whatever the weights;
- the release: backends of the cross-architecture preset, the step plan ending at 100, the
  weights to roll back to, what identifies a release on the route, where to resume, the
  annotations that record it, and the release window.

The provider objects are ``canary_providers.py``; the checks before and after a step are
``canary_verify.py``; the I/O is ``canary_reconcile.py``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from fractions import Fraction

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.common import k8s_names
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError


class CanaryPolicyError(XinchuangError, ValueError):
    """Weights, matches, steps or a route object that cannot make a traffic split."""


PROVIDERS = ("gateway", "istio", "nginx")

NGINX_DEFAULT_TOTAL = 100  # ingress-nginx's canary-weight-total when unset
GATEWAY_MAX_WEIGHT = 1000000  # HTTPRoute CRD: backendRefs[].weight maximum
GATEWAY_MAX_BACKENDS = 16  # HTTPRoute CRD: backendRefs maxItems

# Annotations the canary_release role keeps on the route object to resume a release.
ANNOTATION_RELEASE = "xinchuang.cloud/canary-release"
ANNOTATION_STEP = "xinchuang.cloud/canary-step"
ANNOTATION_STATE = "xinchuang.cloud/canary-state"
STATES = ("in-progress", "rolled-back", "promoted")

# Labels of the cross_arch preset: the application and its version on both Deployments.
APP_LABEL = "app.kubernetes.io/name"
VERSION_LABEL = "app.kubernetes.io/version"
ARCH_LABEL = "kubernetes.io/arch"

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


# ---------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------

def _as_int(name, value, what="weights"):
    """Accept 10, "10" and 10.0 (templated values arrive as any of them); refuse the rest."""
    if isinstance(value, bool):
        raise CanaryPolicyError(
            "%s: %s: %r is a boolean, not a number; give a non-negative integer"
            % (what, name, value))
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.match(r"^\s*-?\d+\s*$", value):
        return int(value)
    raise CanaryPolicyError(
        "%s: %s: %r is not an integer; weights are non-negative integers such as 90 and 10"
        % (what, name, value))


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
        if not k8s_names.is_rfc1035_label(name):
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


def validate_weight_total(provider, weight_total):
    """The nginx-only ``weight_total`` option: None, or a positive integer for nginx."""
    if weight_total is None:
        return None
    if provider != "nginx":
        raise CanaryPolicyError(
            "weight_total is the canary-weight-total of the nginx provider; drop it for "
            "provider %s" % provider)
    if weight_total <= 0:
        raise CanaryPolicyError("weight_total must be a positive integer, got %d" % weight_total)
    return weight_total


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


def rising_backends(previous, weights):
    """Backends whose share of the traffic grows (shares, since gateway weights are proportions).

    A backend new to the route rises when its weight is above 0.
    """
    def shares(w):
        total = sum(w.values())
        return dict((n, Fraction(v, total) if total else Fraction(0)) for n, v in w.items())

    before, after = shares(previous or {}), shares(weights)
    return [n for n in weights if after[n] > before.get(n, Fraction(0))]


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


def validate_request(provider, weights, match, weight_total):
    """The module's weights, match and weight_total options, checked together before any
    request; returns (weights, match, weight_total) normalised (None where not given)."""
    weights = validate_weights(weights, provider) if weights is not None else None
    if match is not None and weights is None:
        raise CanaryPolicyError("match needs weights: give the weights of the backends too")
    match = validate_match(match, weights or {}, provider)
    return weights, match, validate_weight_total(provider, weight_total)


# ---------------------------------------------------------------------------
# Backends
# ---------------------------------------------------------------------------

def selector_matches(selector, labels):
    """A Service's ``spec.selector`` (equality only) against a Pod template's labels."""
    return bool(selector) and all((labels or {}).get(k) == v for k, v in selector.items())


def _labels(obj):
    return ((obj or {}).get("metadata") or {}).get("labels") or {}


def _template(deployment):
    return ((deployment.get("spec") or {}).get("template") or {})


def cross_arch_backends(deployments, services, app, from_arch, to_arch, version=""):
    """The backends of a cross-architecture release (the role's ``cross_arch`` preset).

    Stable is the Deployment pinned (``nodeSelector kubernetes.io/arch``) to ``from_arch``,
    canary the one pinned to ``to_arch``, both labelled ``app.kubernetes.io/name=<app>``
    and of the same ``app.kubernetes.io/version`` (``version``, or the one version both
    architectures run); each backend is the one Service selecting its Pods. The node label
    carries the GOARCH, which the architecture model gives for any name of a family.
    Returns {stable: {service, deployment}, canary: {service, deployment}}.
    """
    pins = {"stable": arch.goarch(from_arch), "canary": arch.goarch(to_arch)}
    sides = {"stable": [], "canary": []}
    for dep in deployments or []:
        if _labels(dep).get(APP_LABEL) != app:
            continue
        pinned = (((_template(dep).get("spec") or {}).get("nodeSelector")) or {}).get(ARCH_LABEL)
        dep_version = _labels(dep).get(VERSION_LABEL, "")
        for side, goarch in pins.items():
            if pinned == goarch and (not version or dep_version == version):
                sides[side].append(dep)
    versions = dict((side, [_labels(d).get(VERSION_LABEL, "") for d in deps])
                    for side, deps in sides.items())
    common = [v for v in versions["stable"] if v in versions["canary"]]
    common = sorted(set(common))
    picked = {}
    if len(common) == 1:
        for side in sides:
            same = [d for d in sides[side] if _labels(d).get(VERSION_LABEL, "") == common[0]]
            if len(same) == 1:
                picked[side] = same[0]
    if len(picked) != 2:
        raise CanaryPolicyError(
            "The cross_arch preset needs exactly one Deployment labelled %s=%s pinned (nodeSelector "
            "%s) to %s and one pinned to %s, of the same %s%s; found %s: %s, %s: %s (common "
            "versions %s). Set canary_release_version or fix the labels." % (
                APP_LABEL, app, ARCH_LABEL, pins["stable"], pins["canary"], VERSION_LABEL,
                " " + version if version else "", from_arch,
                [d["metadata"]["name"] for d in sides["stable"]], to_arch,
                [d["metadata"]["name"] for d in sides["canary"]], common))
    out = {}
    for side, dep in picked.items():
        labels = (_template(dep).get("metadata") or {}).get("labels") or {}
        selecting = [s["metadata"]["name"] for s in services or []
                     if selector_matches((s.get("spec") or {}).get("selector"), labels)]
        out[side] = {"deployment": dep["metadata"]["name"], "service": selecting}
    if any(len(b["service"]) != 1 for b in out.values()):
        raise CanaryPolicyError(
            "Each backend needs exactly one Service selecting its Pods: %s has %s, %s has %s. "
            "Give each Deployment its own Service (a selector including the architecture "
            "label)." % (out["stable"]["deployment"], out["stable"]["service"],
                         out["canary"]["deployment"], out["canary"]["service"]))
    for backend in out.values():
        backend["service"] = backend["service"][0]
    return out


# ---------------------------------------------------------------------------
# Step plans of a gradual release
# ---------------------------------------------------------------------------

def validate_steps(steps):
    """Percentages toward the canary: strictly increasing integers in 1..100."""
    if not isinstance(steps, (list, tuple)) or not steps:
        raise CanaryPolicyError("steps must be a list of percentages such as [10, 50, 100]")
    out = [_as_int("steps", s, "steps") for s in steps]
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


def resume_index(annotations, stable, canary, steps, resume=True):
    """Index into the plan to start from: the step reached by the same release, else 0.

    The step reached is re-applied (a no-op) and checked again, because an interruption may
    have come between its write and its check. A promoted release gives len(plan).
    ``resume=False`` always starts over.
    """
    annotations = annotations or {}
    if not resume or annotations.get(ANNOTATION_RELEASE) != release_id(stable, canary, steps):
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


def release_annotations(release, step, state):
    """The annotations that record ``release`` at step number ``step`` (1-based; 0 before
    the first) in ``state`` on the route, written with the weights in one request."""
    if state not in STATES:
        raise CanaryPolicyError("state %r must be one of %s" % (state, ", ".join(STATES)))
    return {ANNOTATION_RELEASE: release, ANNOTATION_STEP: str(int(step)), ANNOTATION_STATE: state}


def release_plan(stable, canary, steps):
    """Everything the canary_release role runs, planned once.

    {release, stable, canary, steps (as asked), percents, plan: [{number, percent, weights,
    rollback: {number, weights}}]}: step ``number`` (1-based) sets ``weights``; when its
    check fails, ``rollback`` is the step before it (number 0: all on stable).
    """
    if not stable or not canary or stable == canary:
        raise CanaryPolicyError(
            "a release moves traffic between two different Services; got stable %r and "
            "canary %r" % (stable, canary))
    weights = step_plan(stable, canary, steps)
    entries = []
    for index, step in enumerate(weights):
        entries.append({"number": index + 1, "percent": step[canary], "weights": step,
                        "rollback": {"number": index,
                                     "weights": rollback_weights(weights, index, stable, canary)}})
    return {"release": release_id(stable, canary, steps), "stable": stable, "canary": canary,
            "steps": validate_steps(steps), "percents": [e["percent"] for e in entries],
            "plan": entries}


# ---------------------------------------------------------------------------
# Release window
# ---------------------------------------------------------------------------

def validate_window(start, end, days):
    """Both ends as HH:MM (UTC, 24 h) or both empty, days among Mon..Sun."""
    start, end, days = start or "", end or "", list(days or [])
    bad_days = [d for d in days if d not in WEEKDAYS]
    if (start or end) and not (_HHMM.match(start) and _HHMM.match(end)) or bad_days:
        raise CanaryPolicyError(
            "The release window needs both canary_release_window_start and "
            "canary_release_window_end as HH:MM (UTC, 24 h), and canary_release_window_days "
            "from Mon..Sun; got %s - %s %s." % (start, end, days))
    return start, end, days


def window_state(now, start, end, days):
    """Whether a release may start at ``now`` (a UTC datetime): {open, now, message}.

    Empty start and end mean any time; an end before the start crosses midnight; empty
    days mean every day.
    """
    start, end, days = validate_window(start, end, days)
    hm, day = now.strftime("%H:%M"), WEEKDAYS[now.weekday()]
    if not start:
        in_time = True
    elif start <= end:
        in_time = start <= hm < end
    else:
        in_time = hm >= start or hm < end
    is_open = in_time and (not days or day in days)
    message = (
        "Inside the release window (%s %s UTC)" % (day, hm) if is_open else
        "Outside the release window: it is %s %s UTC and releases run %s from %s to %s UTC. "
        "Nothing was changed; run again inside the window or change "
        "canary_release_window_start/_end/_days." % (
            day, hm, ", ".join(days) if days else "every day", start, end))
    return {"open": is_open, "now": "%s %s" % (day, hm), "message": message}
