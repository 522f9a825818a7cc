# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-architecture autoscaling thresholds -> autoscaling/v2 HorizontalPodAutoscaler specs.

Pure logic, no I/O: the paper's Table 3 as defaults, validation of user thresholds,
the architecture a Pod template may land on, and the band math.

The band
--------
The HPA controller holds still while ``(1 - d) <= utilisation / T <= (1 + u)`` where ``T``
is the metric's target utilisation, ``u`` is ``behavior.scaleUp.tolerance`` and ``d`` is
``behavior.scaleDown.tolerance`` (HPAConfigurableTolerance, beta and on by default since
Kubernetes 1.35). A threshold pair [scale_in, scale_out] is therefore expressed exactly by
``T * (1 + u) = scale_out`` and ``T * (1 - d) = scale_in``.

Tolerances are per direction, shared by all metrics of one HPA, while ``T`` is per metric.
So with CPU and memory both scaling one workload, only one ratio ``scale_in / scale_out``
can be exact. The rule (``plan_band``):

1. Scale-out is exact for every metric (an overloaded workload must never scale out late):
   ``T_cpu / T_memory = cpu_scale_out / memory_scale_out`` with integer targets
   (``averageUtilization`` is an integer percentage).
2. Scale-in is exact for the metric with the lowest ``scale_in / scale_out`` ratio; every
   other metric scales in at ``ratio * scale_out``, below its own scale_in, i.e. later than
   asked, never earlier. Both requested bands are kept inside the effective hold band, so
   the controller never acts inside a band the user asked it to hold still in. What was
   lowered is reported in ``approximated``.
3. Among the targets allowed by 1 and 2, the one closest to the middle of each band wins,
   so after a scaling step the utilisation lands far from both edges.
4. Tolerances are rounded up to ``TOLERANCE_PLACES`` decimals: scale-out moves up and
   scale-in moves down by less than ``T * 10**-TOLERANCE_PLACES`` percentage points. The
   controller measures integer percentages: strictly inside the band it holds, one point
   beyond it acts; exactly on a threshold its float64 comparison may go either way.

Without the tolerance field (older servers, feature gate off) the module falls back to
``T = scale_out`` and a slow scale-in through a scale-down stabilisation window, and says
so (mode ``fallback``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
from decimal import ROUND_CEILING, Decimal
from fractions import Fraction

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import (
    UnknownArchitectureError,
    XinchuangError,
)
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.quantity import parse_quantity


class ThresholdError(XinchuangError, ValueError):
    """Thresholds, replica bounds or a workload annotation that cannot make a valid HPA."""


class MixedArchitectureError(XinchuangError, ValueError):
    """A workload whose Pods may run on several CPU families (strict mode)."""


# The product's default thresholds, percent of the Pods' requests: Table 3 of LYU Yimeng,
# "Design and adaptation of container cloud platform for independent innovation and
# heterogeneous environment", Journal of Computer Applications 2025 (S1), 158-162,
# DOI 10.11772/j.issn.1001-9081.2024040483 (docs/references.md, Table 3). Its only copy in
# the product: the module, the role and their docs take it from here; the tests compare it
# with docs/paper-tables.yml, typed from the paper.
PAPER_TABLE3 = {
    "c86": {"cpu_scale_out": 90, "cpu_scale_in": 45, "memory_scale_out": 95, "memory_scale_in": 50},
    "arm": {"cpu_scale_out": 90, "cpu_scale_in": 45, "memory_scale_out": 90, "memory_scale_in": 40},
    "loongarch": {"cpu_scale_out": 80, "cpu_scale_in": 40, "memory_scale_out": 80, "memory_scale_in": 35},
    "sw64": {"cpu_scale_out": 75, "cpu_scale_in": 35, "memory_scale_out": 80, "memory_scale_in": 35},
    "mips": {"cpu_scale_out": 70, "cpu_scale_in": 30, "memory_scale_out": 70, "memory_scale_in": 30},
}

THRESHOLD_KEYS = ("cpu_scale_out", "cpu_scale_in", "memory_scale_out", "memory_scale_in")
METRICS = ("cpu", "memory")

# The workload annotation that overrides thresholds (and optionally family and replica
# bounds) for one workload, as a JSON object.
ANNOTATION = "xinchuang.cloud/hpa-thresholds"
ANNOTATION_KEYS = THRESHOLD_KEYS + ("family", "min_replicas", "max_replicas")

# Node labels a Pod template may select an architecture by.
ARCH_LABEL = "kubernetes.io/arch"
LEGACY_ARCH_LABEL = "beta.kubernetes.io/arch"
FAMILY_LABEL = "xinchuang.cloud/arch-family"

MANAGED_BY = "xinchuang.cloud.hpa_thresholds"
HASH_ANNOTATION = "xinchuang.cloud/hpa-spec-hash"
BAND_ANNOTATION = "xinchuang.cloud/hpa-band"

TOLERANCE_PLACES = 4
MODES = ("tolerance", "fallback")
# The controller's global --horizontal-pod-autoscaler-tolerance default, which applies
# when the HPA carries no tolerance of its own (fallback mode).
DEFAULT_CONTROLLER_TOLERANCE = Decimal("0.1")


# ---------------------------------------------------------------------------
# Thresholds
# ---------------------------------------------------------------------------

def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def validate_thresholds(values, where):
    """Check one family's four numbers; ``where`` names the input in the error."""
    problems = []
    for key in THRESHOLD_KEYS:
        value = values.get(key)
        if not _is_int(value):
            problems.append("%s is %r, not an integer percentage" % (key, value))
        elif not 1 <= value <= 100:
            problems.append("%s is %d, outside 1-100" % (key, value))
    if not problems:
        for metric in METRICS:
            low, high = values[metric + "_scale_in"], values[metric + "_scale_out"]
            if low >= high:
                problems.append("%s_scale_in (%d) must be below %s_scale_out (%d)"
                                % (metric, low, metric, high))
    if problems:
        raise ThresholdError("%s: %s" % (where, "; ".join(problems)))
    return values


def _coerce_numbers(values, where):
    """Accept integer-valued strings/floats from YAML or JSON; keep everything else for the
    validator to report."""
    out = {}
    for key, value in values.items():
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value.strip())
        elif isinstance(value, float) and value.is_integer():
            value = int(value)
        out[key] = value
    return out


def family_key(name, where):
    try:
        return arch.family_of(name)
    except UnknownArchitectureError as exc:
        raise ThresholdError("%s: %s (families: %s)" % (where, exc, ", ".join(arch.families())))


def merge_thresholds(overrides=None):
    """Table 3 with per-family overrides (partial dicts) from the ``thresholds`` option.

    Keys may be any name of a family (``c86``, ``amd64``, ``x86_64`` ...). Returns a full
    table keyed by family name, validated.
    """
    table = dict((fam, dict(PAPER_TABLE3[fam])) for fam in arch.families())
    for name, values in (overrides or {}).items():
        where = "thresholds.%s" % name
        fam = family_key(name, where)
        if values is None:
            continue
        if not isinstance(values, dict):
            raise ThresholdError("%s must be a dictionary of %s, got %r"
                                 % (where, ", ".join(THRESHOLD_KEYS), values))
        unknown = sorted(set(values) - set(THRESHOLD_KEYS))
        if unknown:
            raise ThresholdError("%s: unknown keys %s; allowed: %s"
                                 % (where, ", ".join(unknown), ", ".join(THRESHOLD_KEYS)))
        table[fam].update(_coerce_numbers(values, where))
    for fam in arch.families():
        validate_thresholds(table[fam], "thresholds.%s" % fam)
    return table


def parse_annotation(text, where):
    """The workload annotation (JSON object) -> dict of validated override values."""
    if text is None:
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ThresholdError("%s: annotation %s is not valid JSON (%s); write e.g. "
                             "'{\"cpu_scale_out\": 85, \"cpu_scale_in\": 40}'"
                             % (where, ANNOTATION, exc))
    if not isinstance(data, dict):
        raise ThresholdError("%s: annotation %s must be a JSON object, got %r"
                             % (where, ANNOTATION, data))
    unknown = sorted(set(data) - set(ANNOTATION_KEYS))
    if unknown:
        raise ThresholdError("%s: annotation %s has unknown keys %s; allowed: %s"
                             % (where, ANNOTATION, ", ".join(unknown), ", ".join(ANNOTATION_KEYS)))
    data = _coerce_numbers(data, where)
    if "family" in data:
        data["family"] = family_key(data["family"], "%s: annotation %s family" % (where, ANNOTATION))
    return data


def validate_replicas(min_replicas, max_replicas, where):
    if not _is_int(min_replicas) or min_replicas < 1:
        raise ThresholdError("%s: min_replicas must be an integer >= 1, got %r"
                             % (where, min_replicas))
    if not _is_int(max_replicas) or max_replicas < 1:
        raise ThresholdError("%s: max_replicas must be an integer >= 1, got %r"
                             % (where, max_replicas))
    if min_replicas > max_replicas:
        raise ThresholdError("%s: min_replicas (%d) is above max_replicas (%d); raise "
                             "max_replicas or lower min_replicas"
                             % (where, min_replicas, max_replicas))


def envelope(table, fams):
    """Thresholds that are safe for every family in ``fams``: the earliest scale-out and
    the latest scale-in (element-wise minimum). scale_in < scale_out still holds."""
    return dict((key, min(table[f][key] for f in fams)) for key in THRESHOLD_KEYS)


# ---------------------------------------------------------------------------
# Which families a Pod template may land on
# ---------------------------------------------------------------------------

def _families_of_values(values):
    found = set()
    for value in values or ():
        try:
            found.add(arch.family_of(str(value)))
        except UnknownArchitectureError:
            pass  # another architecture (s390x, ...): not one of the five
    return found


_ARCH_KEYS = (ARCH_LABEL, LEGACY_ARCH_LABEL, FAMILY_LABEL)


def _term_families(term):
    """Families allowed by one nodeSelectorTerm (its expressions are ANDed)."""
    allowed = set(arch.families())
    for expr in (term or {}).get("matchExpressions") or ():
        if expr.get("key") not in _ARCH_KEYS:
            continue
        op = expr.get("operator")
        values = _families_of_values(expr.get("values"))
        if op == "In":
            allowed &= values
        elif op == "NotIn":
            allowed -= values
        elif op == "DoesNotExist":
            allowed = set()
    return allowed


def pod_template_families(template):
    """The families a Pod template's Pods may be scheduled on, as a sorted list (table order).

    Reads ``nodeSelector`` and required node affinity on ``kubernetes.io/arch`` (also the
    legacy beta label and ``xinchuang.cloud/arch-family``). Terms of
    ``requiredDuringSchedulingIgnoredDuringExecution`` are ORed, expressions within a term
    ANDed, and the result is ANDed with ``nodeSelector``, as the scheduler does.
    """
    spec = (template or {}).get("spec") or {}
    allowed = set(arch.families())
    selector = spec.get("nodeSelector") or {}
    for key in _ARCH_KEYS:
        if key in selector:
            allowed &= _families_of_values([selector[key]])
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms") or []
    if terms:
        union = set()
        for term in terms:
            union |= _term_families(term)
        allowed &= union
    return [f for f in arch.families() if f in allowed]


def split_advice(kind, name, fams):
    """How to turn a multi-family workload into one workload per family."""
    parts = ["%s-%s (nodeSelector %s: %s)" % (name, f, ARCH_LABEL, arch.lookup(f).oci_arch)
             for f in fams]
    return ("split %s %s into one %s per architecture, e.g. %s; or name its family in the "
            "annotation %s ({\"family\": \"...\"}) or the option family"
            % (kind, name, kind, ", ".join(parts), ANNOTATION))


# ---------------------------------------------------------------------------
# The band
# ---------------------------------------------------------------------------

def _ceil_places(value, places=TOLERANCE_PLACES):
    """Fraction -> Decimal rounded up to ``places`` decimals."""
    quantum = Decimal(1).scaleb(-places)
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    rounded = exact.quantize(quantum, rounding=ROUND_CEILING)
    # Decimal division is itself rounded (28 digits); make sure we never round below.
    if Fraction(str(rounded)) < value:
        rounded += quantum
    return rounded.normalize() if rounded != 0 else Decimal(0)


def _gcd(a, b):
    while b:
        a, b = b, a % b
    return a


def tolerance_string(value):
    """Decimal -> the plain decimal string sent as a resource.Quantity (``0.25``)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def plan_band(thresholds, metrics=METRICS, places=TOLERANCE_PLACES):
    """Targets and tolerances for one workload (mode ``tolerance``), see the module doc.

    Returns a dict: ``targets`` {metric: T}, ``scale_up_tolerance`` and
    ``scale_down_tolerance`` (Decimal), ``effective`` {metric_scale_out/in: Decimal},
    ``approximated`` (list of sentences, empty when every threshold is exact).
    """
    metrics = [m for m in METRICS if m in metrics]
    if not metrics:
        raise ThresholdError("metrics: give at least one of %s" % ", ".join(METRICS))
    out = dict((m, thresholds[m + "_scale_out"]) for m in metrics)
    low = dict((m, thresholds[m + "_scale_in"]) for m in metrics)
    ratio = min(Fraction(low[m], out[m]) for m in metrics)
    g = 0
    for m in metrics:
        g = _gcd(g, out[m])
    share = dict((m, out[m] // g) for m in metrics)
    eff_low = dict((m, ratio * out[m]) for m in metrics)

    best = None
    for k in range(1, g + 1):
        targets = dict((m, share[m] * k) for m in metrics)
        if any(targets[m] < eff_low[m] for m in metrics):
            continue  # would need a negative scale-down tolerance
        # distance from the middle of each effective band, relative to the band's width
        cost = sum(abs(Fraction(targets[m]) - (eff_low[m] + out[m]) / 2) / (out[m] - eff_low[m])
                   for m in metrics)
        if best is None or cost < best[0] or (cost == best[0] and k > best[1]):
            best = (cost, k, targets)
    _cost, k, targets = best  # k == g (T = scale_out, u = 0) always qualifies
    up_exact = Fraction(g, k) - 1
    down_exact = 1 - ratio * Fraction(g, k)
    up = _ceil_places(up_exact, places)
    down = _ceil_places(down_exact, places)

    effective = {}
    approximated = []
    for m in metrics:
        t = Decimal(targets[m])
        effective[m + "_scale_out"] = t * (1 + up)
        effective[m + "_scale_in"] = t * (1 - down)
        if eff_low[m] != low[m]:
            approximated.append(
                "%s_scale_in: %s%% asked, scales in below %s%% (the tolerance is shared with "
                "%s, whose scale_in/scale_out ratio is lower; scale-out stays exact)"
                % (m, low[m], _pct(eff_low[m]),
                   ", ".join(o for o in metrics if o != m and Fraction(low[o], out[o]) == ratio)))
    return {
        "mode": "tolerance",
        "targets": targets,
        "scale_up_tolerance": up,
        "scale_down_tolerance": down,
        "exact_scale_up_tolerance": up_exact,
        "exact_scale_down_tolerance": down_exact,
        "effective": effective,
        "approximated": approximated,
    }


def _pct(value):
    value = Fraction(value)
    if value.denominator == 1:
        return str(value.numerator)
    return "%.2f" % float(value)


def plan_fallback(thresholds, metrics=METRICS, window_seconds=600):
    """Targets for servers without the tolerance field: T = scale_out, slow scale-in."""
    metrics = [m for m in METRICS if m in metrics]
    if not metrics:
        raise ThresholdError("metrics: give at least one of %s" % ", ".join(METRICS))
    targets = dict((m, thresholds[m + "_scale_out"]) for m in metrics)
    effective = {}
    approximated = []
    tol = DEFAULT_CONTROLLER_TOLERANCE
    for m in metrics:
        t = Decimal(targets[m])
        effective[m + "_scale_out"] = t * (1 + tol)
        effective[m + "_scale_in"] = t * (1 - tol)
        approximated.append(
            "%s: the server has no behavior tolerance, so the target is scale_out (%d%%) and "
            "the controller's global tolerance (default %s) applies: scale-out above about "
            "%s%%, scale-in below about %s%% instead of %d%%, slowed by a %ds scale-down "
            "stabilisation window"
            % (m, targets[m], tol, _dec(effective[m + "_scale_out"]),
               _dec(effective[m + "_scale_in"]), thresholds[m + "_scale_in"], window_seconds))
    return {
        "mode": "fallback",
        "targets": targets,
        "scale_up_tolerance": None,
        "scale_down_tolerance": None,
        "stabilization_window_seconds": window_seconds,
        "effective": effective,
        "approximated": approximated,
    }


def _dec(value):
    return tolerance_string(Decimal(value).quantize(Decimal("0.01")))


# ---------------------------------------------------------------------------
# The HPA object
# ---------------------------------------------------------------------------

def _rules(options):
    """scale_up / scale_down option dict -> HPAScalingRules (without tolerance)."""
    rules = {}
    if not options:
        return rules
    if options.get("stabilization_window_seconds") is not None:
        rules["stabilizationWindowSeconds"] = options["stabilization_window_seconds"]
    if options.get("select_policy"):
        rules["selectPolicy"] = options["select_policy"]
    if options.get("policies"):
        rules["policies"] = [
            {"type": p["type"], "value": p["value"], "periodSeconds": p["period_seconds"]}
            for p in options["policies"]]
    return rules


def spec_hash(body):
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def hpa_body(workload, band, min_replicas, max_replicas, scale_up=None, scale_down=None,
             family=None, thresholds=None, api_version="apps/v1"):
    """The autoscaling/v2 HPA to apply for one workload {namespace, name, kind}."""
    up = _rules(scale_up)
    down = _rules(scale_down)
    if band["mode"] == "tolerance":
        up["tolerance"] = tolerance_string(band["scale_up_tolerance"])
        down["tolerance"] = tolerance_string(band["scale_down_tolerance"])
    elif "stabilizationWindowSeconds" not in down:
        down["stabilizationWindowSeconds"] = band["stabilization_window_seconds"]
    metrics = [{
        "type": "Resource",
        "resource": {"name": m, "target": {"type": "Utilization",
                                           "averageUtilization": band["targets"][m]}},
    } for m in METRICS if m in band["targets"]]
    spec = {
        "scaleTargetRef": {"apiVersion": api_version, "kind": workload["kind"],
                           "name": workload["name"]},
        "minReplicas": min_replicas,
        "maxReplicas": max_replicas,
        "metrics": metrics,
    }
    behavior = {}
    if up:
        behavior["scaleUp"] = up
    if down:
        behavior["scaleDown"] = down
    if behavior:
        spec["behavior"] = behavior
    labels = {"app.kubernetes.io/managed-by": MANAGED_BY}
    if family:
        labels[FAMILY_LABEL] = family
    band_note = {"mode": band["mode"]}
    for m in METRICS:
        if thresholds and m in band["targets"]:
            band_note[m] = [thresholds[m + "_scale_in"], thresholds[m + "_scale_out"]]
    annotations = {BAND_ANNOTATION: json.dumps(band_note, sort_keys=True, separators=(",", ":"))}
    body = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": workload["name"], "namespace": workload["namespace"],
                     "labels": labels, "annotations": annotations},
        "spec": spec,
    }
    annotations[HASH_ANNOTATION] = spec_hash(body)
    return body


# ---------------------------------------------------------------------------
# Comparing the desired HPA with the stored one
# ---------------------------------------------------------------------------

def is_subset(desired, current, key=None):
    """True when every field of ``desired`` is in ``current`` with the same value (the
    server adds defaults, so current may hold more). Tolerances compare as numbers, since
    the server stores ``0.25`` as ``250m``."""
    if isinstance(desired, dict):
        if not isinstance(current, dict):
            return False
        return all(k in current and is_subset(v, current[k], k) for k, v in desired.items())
    if isinstance(desired, list):
        if not isinstance(current, list) or len(desired) != len(current):
            return False
        return all(is_subset(d, c, key) for d, c in zip(desired, current))
    if key == "tolerance" and desired is not None and current is not None:
        try:
            return parse_quantity(desired) == parse_quantity(current)
        except (ValueError, ArithmeticError):
            return False
    return desired == current


def needs_apply(desired, current):
    """Whether ``desired`` must be applied over ``current`` (None when absent).

    The spec-hash annotation catches fields we stopped setting (which a subset test cannot
    see); the subset test catches edits made by others since our last apply."""
    if current is None:
        return True
    want = {"metadata": {"labels": desired["metadata"]["labels"],
                         "annotations": desired["metadata"]["annotations"]},
            "spec": desired["spec"]}
    have = {"metadata": {"labels": (current.get("metadata") or {}).get("labels") or {},
                         "annotations": (current.get("metadata") or {}).get("annotations") or {}},
            "spec": current.get("spec") or {}}
    return not is_subset(want, have)


def trim(obj):
    """The parts of an HPA worth showing in a diff."""
    if obj is None:
        return {}
    meta = obj.get("metadata") or {}
    out = {"metadata": {"name": meta.get("name"), "namespace": meta.get("namespace")}}
    if meta.get("labels"):
        out["metadata"]["labels"] = meta["labels"]
    if meta.get("annotations"):
        out["metadata"]["annotations"] = meta["annotations"]
    out["spec"] = obj.get("spec") or {}
    return out


def has_tolerance(obj):
    """Whether a stored HPA carries a behavior tolerance (the server serves the field)."""
    behavior = ((obj or {}).get("spec") or {}).get("behavior") or {}
    return any("tolerance" in (behavior.get(d) or {}) for d in ("scaleUp", "scaleDown"))


# ---------------------------------------------------------------------------
# One workload: its family, thresholds and replica bounds, then its HPA
# ---------------------------------------------------------------------------

def object_key(obj):
    """(namespace, name) of an object as the list call returns it."""
    meta = obj.get("metadata") or {}
    return meta.get("namespace"), meta.get("name")


def describe_workload(kind, namespace, name):
    """How error messages name a workload: ``Deployment shop/web``."""
    return "%s %s/%s" % (kind, namespace, name)


def plan_workload(obj, kind, table, family=None, strict=False, min_replicas=1,
                  max_replicas=None):
    """What one workload (a Deployment or StatefulSet as listed) gets, before any band math.

    ``table`` is ``merge_thresholds()``'s result, ``family`` the option overriding the Pod
    template (already a family key). The annotation wins over the option, which wins over
    the template. Returns the workload's entry: namespace, name, kind, hpa, families,
    family (None for a multi-family workload), thresholds, min_replicas, max_replicas and
    source (``table`` or ``annotation``); a multi-family workload also gets ``_multi`` (how
    the warning names it) and ``_advice`` (how to split it).

    Raises ThresholdError for bad annotations, thresholds or replica bounds and for a
    template no family matches, MixedArchitectureError for a multi-family workload with
    ``strict``.
    """
    namespace, name = object_key(obj)
    where = describe_workload(kind, namespace, name)
    entry = {"namespace": namespace, "name": name, "kind": kind, "hpa": name}
    ann = parse_annotation(
        ((obj.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION), where)
    fams = pod_template_families((obj.get("spec") or {}).get("template") or {})
    entry["families"] = fams
    family = ann.get("family") or family
    if family:
        thresholds = dict(table[family])
    elif len(fams) == 1:
        family = fams[0]
        thresholds = dict(table[family])
    elif not fams:
        raise ThresholdError("%s: its Pod template's node selector/affinity on %s matches none "
                             "of the five CPU families; pin it to one, or set family"
                             % (where, ARCH_LABEL))
    else:
        advice = split_advice(kind, name, fams)
        if strict:
            raise MixedArchitectureError(
                "%s may run on several CPU families (%s) and cannot honour one family's "
                "thresholds (strict: true): %s" % (where, ", ".join(fams), advice))
        entry["_multi"] = "%s (%s)" % (where, ", ".join(fams))
        entry["_advice"] = advice
        thresholds = envelope(table, fams)
    source = "annotation" if any(k in ann for k in THRESHOLD_KEYS) else "table"
    thresholds.update(dict((k, ann[k]) for k in THRESHOLD_KEYS if k in ann))
    min_replicas = ann.get("min_replicas", min_replicas)
    max_replicas = ann.get("max_replicas", max_replicas)
    validate_thresholds(thresholds, "%s (annotation %s)" % (where, ANNOTATION)
                        if source == "annotation" else where)
    validate_replicas(min_replicas, max_replicas, where)
    entry.update(family=family, thresholds=thresholds, min_replicas=min_replicas,
                 max_replicas=max_replicas, source=source)
    return entry


def multi_family_warning(entries, shown=10):
    """The warning for workloads that got the envelope of several families (None if none)."""
    multi = [e for e in entries if "_multi" in e]
    if not multi:
        return None
    names = [e["_multi"] for e in multi]
    return ("%d workload(s) may run on several CPU families and get the thresholds safe for "
            "all of them (earliest scale-out, latest scale-in): %s. To honour each family's "
            "thresholds: %s; strict: true makes this an error"
            % (len(names), ", ".join(names[:shown]) + (" ..." if len(names) > shown else ""),
               multi[0]["_advice"]))


def workload_band(thresholds, mode, metrics=METRICS, fallback_window=600):
    """The band of one workload in ``mode`` (``tolerance`` or ``fallback``)."""
    if mode == "tolerance":
        return plan_band(thresholds, metrics)
    return plan_fallback(thresholds, metrics, fallback_window)


def band_report(band):
    """The result fields describing a band: mode, target, tolerances, effective, approximated."""
    def quantity(value):
        return tolerance_string(value) if value is not None else None

    return {
        "mode": band["mode"],
        "target": band["targets"],
        "tolerances": {"scale_up": quantity(band["scale_up_tolerance"]),
                       "scale_down": quantity(band["scale_down_tolerance"])},
        "effective": dict((k, float(round(v, 4))) for k, v in band["effective"].items()),
        "approximated": band["approximated"],
    }
