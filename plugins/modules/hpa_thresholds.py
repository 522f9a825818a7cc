#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: hpa_thresholds
short_description: Per-architecture autoscaling thresholds as HorizontalPodAutoscalers
version_added: "0.1.0"
description:
  - Reconciles C(autoscaling/v2) HorizontalPodAutoscalers for many Deployments or
    StatefulSets in one call, with scale-out and scale-in thresholds chosen by the CPU family
    the workload's Pods run on (the paper's Table 3 by default).
  - The family of a workload comes from its Pod template (C(nodeSelector) or required node
    affinity on C(kubernetes.io/arch), the legacy beta label or C(xinchuang.cloud/arch-family)),
    from the workload annotation C(xinchuang.cloud/hpa-thresholds), or from O(family).
  - "The band: when the API server serves C(behavior.scaleUp.tolerance) and
    C(behavior.scaleDown.tolerance) (HPAConfigurableTolerance, beta since Kubernetes 1.35),
    each metric gets a target T and the HPA shared tolerances u and d with
    T*(1+u) = scale_out and T*(1-d) = scale_in (mode C(tolerance))."
  - "Tolerances are per direction and shared by CPU and memory. When the two metrics need
    different scale_in/scale_out ratios, scale-out stays exact for both, scale-in is exact for
    the metric with the lower ratio and the other metric scales in later than asked (never
    earlier); each result lists what was approximated in RV(workloads[].approximated)."
  - On servers without the field the target is scale_out, the scale-in is slowed by a
    scale-down stabilisation window, and the result says C(mode=fallback).
  - Everything is validated before the first write (thresholds 1-100, scale_in below
    scale_out, min_replicas <= max_replicas, known families, annotations, that the named
    workloads exist); on any error nothing is applied.
  - Reads with one list call per namespace (not one GET per workload), then server-side
    applies, in parallel, only the HPAs whose desired spec differs from the stored one.
    Check mode applies with server-side dry-run.
author:
  - xinchuang.cloud developers (@xinchuang-cloud)
extends_documentation_fragment:
  - xinchuang.cloud.kube_auth
  - xinchuang.cloud.attributes
options:
  namespace:
    description:
      - Namespace of the workloads. Give this or O(all_namespaces).
    type: str
  all_namespaces:
    description:
      - Look for the workloads in every namespace (one cluster-wide list).
    type: bool
    default: false
  names:
    description:
      - Names of the workloads. With O(all_namespaces) an entry may be C(namespace/name); a
        bare name matches that name in every namespace.
      - Every name must exist when O(state=present); the error lists the missing ones.
      - Give this or O(label_selectors).
    type: list
    elements: str
  label_selectors:
    description:
      - Label selectors (C(app=web,tier!=db), C(env in (prod))); workloads matching any of
        them are targeted. Give this or O(names).
    type: list
    elements: str
  kind:
    description:
      - Kind of the workloads.
    type: str
    choices: [Deployment, StatefulSet]
    default: Deployment
  family:
    description:
      - CPU family of every targeted workload, overriding what the Pod templates say. Any name
        the architecture model knows (C(c86), C(arm64), C(loongarch64) ...).
    type: str
  thresholds:
    description:
      - "Per-family overrides of the paper's Table 3, as C({family: {cpu_scale_out, cpu_scale_in,
        memory_scale_out, memory_scale_in}}), percent of the Pods' requests, 1-100, scale_in
        below scale_out. Partial dictionaries keep the other numbers."
      - "Defaults (Table 3): c86 90/45 CPU, 95/50 memory; arm 90/45, 90/40; loongarch 80/40,
        80/35; sw64 75/35, 80/35; mips 70/30, 70/30."
      - "Per workload, the annotation C(xinchuang.cloud/hpa-thresholds) on the Deployment or
        StatefulSet overrides both, as a JSON object with any of the four numbers and
        optionally C(family), C(min_replicas), C(max_replicas), for example
        C({\"cpu_scale_out\": 85, \"family\": \"arm\"})."
    type: dict
    default: {}
  metrics:
    description:
      - Resource metrics the HPAs scale on.
    type: list
    elements: str
    choices: [cpu, memory]
    default: [cpu, memory]
  min_replicas:
    description:
      - Lower bound of replicas (the annotation may override it per workload).
    type: int
    default: 1
  max_replicas:
    description:
      - Upper bound of replicas (the annotation may override it per workload). Required with
        O(state=present).
    type: int
  scale_up:
    description:
      - Optional scale-up rate rules, C(behavior.scaleUp) apart from the tolerance.
    type: dict
    suboptions:
      stabilization_window_seconds:
        description: Seconds of past recommendations considered (0-3600).
        type: int
      select_policy:
        description: Which policy wins when several allow different changes.
        type: str
        choices: [Max, Min, Disabled]
      policies:
        description: "Rate limits, for example C({type: Pods, value: 4, period_seconds: 60})."
        type: list
        elements: dict
        suboptions:
          type:
            description: Pods (absolute) or Percent (of current replicas).
            type: str
            choices: [Pods, Percent]
            required: true
          value:
            description: How many Pods or what percentage per period.
            type: int
            required: true
          period_seconds:
            description: Length of the period (1-1800).
            type: int
            required: true
  scale_down:
    description:
      - Optional scale-down rate rules, C(behavior.scaleDown) apart from the tolerance.
    type: dict
    suboptions:
      stabilization_window_seconds:
        description: Seconds of past recommendations considered (0-3600).
        type: int
      select_policy:
        description: Which policy wins when several allow different changes.
        type: str
        choices: [Max, Min, Disabled]
      policies:
        description: "Rate limits, for example C({type: Pods, value: 4, period_seconds: 60})."
        type: list
        elements: dict
        suboptions:
          type:
            description: Pods (absolute) or Percent (of current replicas).
            type: str
            choices: [Pods, Percent]
            required: true
          value:
            description: How many Pods or what percentage per period.
            type: int
            required: true
          period_seconds:
            description: Length of the period (1-1800).
            type: int
            required: true
  band_mode:
    description:
      - C(auto) detects whether the server keeps C(behavior.*.tolerance) (an HPA already
        stored with it, else one server-side dry-run apply) and uses C(tolerance) or
        C(fallback). The other two force a mode.
    type: str
    choices: [auto, tolerance, fallback]
    default: auto
  fallback_stabilization_window:
    description:
      - Scale-down stabilisation window in seconds in C(fallback) mode, unless O(scale_down)
        sets one.
    type: int
    default: 600
  strict:
    description:
      - Fail, before any write, for a workload whose Pods may run on several CPU families.
        Without it such a workload gets a warning and the thresholds safe for all its
        families (earliest scale-out, latest scale-in).
    type: bool
    default: false
  state:
    description:
      - C(absent) deletes the HPAs this module manages for the targeted workloads (an HPA of
        the same name managed by someone else is left alone, with a warning).
    type: str
    choices: [present, absent]
    default: present
  field_manager:
    description:
      - Field manager of the server-side apply.
    type: str
    default: xinchuang.cloud.hpa_thresholds
  force_conflicts:
    description:
      - Take over fields another field manager owns (for example an HPA made by
        C(kubectl autoscale)) instead of failing with the conflict.
    type: bool
    default: false
  parallel:
    description:
      - Concurrent apply requests.
    type: int
    default: 8
notes:
  - The HPA is named after its workload and labelled C(app.kubernetes.io/managed-by=xinchuang.cloud.hpa_thresholds)
    and C(xinchuang.cloud/arch-family).
  - The controller compares integer utilisation percentages with the band in float64. Strictly
    inside the band it holds, one point beyond it acts, exactly on a threshold either may happen.
seealso:
  - name: HPA configurable tolerance
    description: KEP-4951, behavior.scaleUp/scaleDown.tolerance.
    link: https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#tolerance
"""

EXAMPLES = r"""
- name: Thresholds of Table 3 for every Deployment labelled tier=web
  xinchuang.cloud.hpa_thresholds:
    kubeconfig: /etc/kubernetes/admin.conf
    namespace: shop
    label_selectors: [tier=web]
    min_replicas: 2
    max_replicas: 20

- name: Named StatefulSets, MIPS scale out earlier, fail on mixed-architecture workloads
  xinchuang.cloud.hpa_thresholds:
    namespace: data
    kind: StatefulSet
    names: [kafka-mips, redis-mips]
    thresholds:
      mips: {cpu_scale_out: 65}
    strict: true
    max_replicas: 6
    scale_down:
      stabilization_window_seconds: 120
      policies:
        - {type: Pods, value: 1, period_seconds: 60}

- name: Remove the HPAs again
  xinchuang.cloud.hpa_thresholds:
    namespace: shop
    label_selectors: [tier=web]
    state: absent
"""

RETURN = r"""
mode:
  description: Band mode used for this call (tolerance or fallback); null with state=absent.
  returned: always
  type: str
  sample: tolerance
workloads:
  description: One entry per targeted workload.
  returned: always
  type: list
  elements: dict
  contains:
    namespace: {description: Namespace., type: str, returned: always, sample: shop}
    name: {description: Workload name., type: str, returned: always, sample: web-arm}
    kind: {description: Workload kind., type: str, returned: always, sample: Deployment}
    hpa: {description: Name of the HPA., type: str, returned: always, sample: web-arm}
    family:
      description: CPU family whose thresholds apply; null for a multi-family workload.
      type: str
      returned: state=present
      sample: c86
    families:
      description: Families the Pod template allows.
      type: list
      elements: str
      returned: state=present
      sample: [c86]
    mode: {description: tolerance or fallback., type: str, returned: state=present, sample: tolerance}
    thresholds:
      description: The four percentages used (Table 3, option and annotation merged).
      type: dict
      returned: state=present
      sample: {cpu_scale_out: 90, cpu_scale_in: 45, memory_scale_out: 95, memory_scale_in: 50}
    target:
      description: averageUtilization per metric.
      type: dict
      returned: state=present
      sample: {cpu: 72, memory: 76}
    tolerances:
      description: behavior.scaleUp/scaleDown.tolerance sent (null in fallback mode).
      type: dict
      returned: state=present
      sample: {scale_up: "0.25", scale_down: "0.375"}
    effective:
      description: Where the controller will act, T*(1+u) and T*(1-d), per metric.
      type: dict
      returned: state=present
      sample: {cpu_scale_out: 90.0, cpu_scale_in: 45.0, memory_scale_out: 95.0, memory_scale_in: 47.5}
    approximated:
      description: What could not be expressed exactly, in words.
      type: list
      elements: str
      returned: state=present
      sample: ["memory_scale_in: 50% asked, scales in below 47.50% ..."]
    replicas:
      description: min and max replicas used (option or annotation).
      type: dict
      returned: state=present
      sample: {min: 1, max: 10}
    thresholds_source:
      description: C(table) (Table 3 with the thresholds option) or C(annotation).
      type: str
      returned: state=present
      sample: table
    action:
      description: create, update, delete or none.
      type: str
      returned: always
      sample: none
    changed: {description: Whether this workload's HPA changed (or would)., type: bool, returned: always}
diff:
  description: Before and after of each changed HPA, keyed by namespace/name (with --diff).
  returned: when diff mode is on
  type: dict
"""

import traceback
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.xinchuang.cloud.plugins.module_utils import hpa_policy as hp
from ansible_collections.xinchuang.cloud.plugins.module_utils.errors import XinchuangError
from ansible_collections.xinchuang.cloud.plugins.module_utils.kube import (
    KubeApiError,
    api_client,
    delete_object,
    kube_auth_argument_spec,
    list_objects,
    server_side_apply,
)

HPA_API = "autoscaling/v2"
HPA_KIND = "HorizontalPodAutoscaler"
WORKLOAD_API = "apps/v1"
PROBE_NAME = "xinchuang-tolerance-probe"


def _rules_spec():
    return dict(
        stabilization_window_seconds=dict(type="int"),
        select_policy=dict(type="str", choices=["Max", "Min", "Disabled"]),
        policies=dict(type="list", elements="dict", options=dict(
            type=dict(type="str", required=True, choices=["Pods", "Percent"]),
            value=dict(type="int", required=True),
            period_seconds=dict(type="int", required=True),
        )),
    )


def argument_spec():
    spec = kube_auth_argument_spec()
    spec.update(
        namespace=dict(type="str"),
        all_namespaces=dict(type="bool", default=False),
        names=dict(type="list", elements="str"),
        label_selectors=dict(type="list", elements="str"),
        kind=dict(type="str", default="Deployment", choices=["Deployment", "StatefulSet"]),
        family=dict(type="str"),
        thresholds=dict(type="dict", default={}),
        metrics=dict(type="list", elements="str", choices=list(hp.METRICS),
                     default=list(hp.METRICS)),
        min_replicas=dict(type="int", default=1),
        max_replicas=dict(type="int"),
        scale_up=dict(type="dict", options=_rules_spec()),
        scale_down=dict(type="dict", options=_rules_spec()),
        band_mode=dict(type="str", default="auto", choices=["auto", "tolerance", "fallback"]),
        fallback_stabilization_window=dict(type="int", default=600),
        strict=dict(type="bool", default=False),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        field_manager=dict(type="str", default=hp.MANAGED_BY),
        force_conflicts=dict(type="bool", default=False),
        parallel=dict(type="int", default=8),
    )
    return spec


class Failure(XinchuangError):
    """Errors collected before any write, reported together."""


def _key(obj):
    meta = obj.get("metadata") or {}
    return meta.get("namespace"), meta.get("name")


def _where(kind, ns, name):
    return "%s %s/%s" % (kind, ns, name)


class Reconciler(object):
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.check = module.check_mode
        self.client = None
        self.warnings = []

    # --- reading ------------------------------------------------------------------------
    def namespace_scope(self):
        return None if self.p["all_namespaces"] else self.p["namespace"]

    def read_workloads(self):
        """Targeted workloads (dicts from the list call) and the missing names."""
        kind, scope = self.p["kind"], self.namespace_scope()
        found = {}
        if self.p["label_selectors"] is not None:
            for selector in self.p["label_selectors"]:
                for obj in list_objects(self.client, WORKLOAD_API, kind, scope,
                                        label_selector=selector):
                    found[_key(obj)] = obj
            return [found[k] for k in sorted(found)], []
        everything = list_objects(self.client, WORKLOAD_API, kind, scope)
        by_name = {}
        for obj in everything:
            by_name.setdefault(_key(obj)[1], []).append(obj)
        missing = []
        for entry in self.p["names"]:
            ns, name = (entry.split("/", 1) if "/" in entry and scope is None
                        else (self.p["namespace"], entry))
            matches = [o for o in by_name.get(name, []) if ns is None or _key(o)[0] == ns]
            if not matches:
                missing.append(entry if ns is None else "%s/%s" % (ns, name))
            for obj in matches:
                found[_key(obj)] = obj
        return [found[k] for k in sorted(found)], missing

    def read_hpas(self):
        return dict((_key(o), o) for o in list_objects(self.client, HPA_API, HPA_KIND,
                                                       self.namespace_scope()))

    # --- planning -----------------------------------------------------------------------
    def plan_workload(self, obj, table, errors):
        ns, name = _key(obj)
        kind = self.p["kind"]
        where = _where(kind, ns, name)
        entry = {"namespace": ns, "name": name, "kind": kind, "hpa": name}
        try:
            ann = hp.parse_annotation(
                ((obj.get("metadata") or {}).get("annotations") or {}).get(hp.ANNOTATION), where)
        except hp.ThresholdError as exc:
            errors.append(str(exc))
            return None
        template = (obj.get("spec") or {}).get("template") or {}
        fams = hp.pod_template_families(template)
        entry["families"] = fams
        family = ann.get("family") or self.option_family
        if family:
            thresholds = dict(table[family])
        elif len(fams) == 1:
            family = fams[0]
            thresholds = dict(table[family])
        elif not fams:
            errors.append("%s: its Pod template's node selector/affinity on %s matches none of "
                          "the five CPU families; pin it to one, or set family"
                          % (where, hp.ARCH_LABEL))
            return None
        else:
            advice = hp.split_advice(kind, name, fams)
            if self.p["strict"]:
                errors.append("%s may run on several CPU families (%s) and cannot honour one "
                              "family's thresholds (strict: true): %s"
                              % (where, ", ".join(fams), advice))
                return None
            self.multi.append("%s (%s)" % (where, ", ".join(fams)))
            self.advice.append(advice)
            thresholds = hp.envelope(table, fams)
        source = "annotation" if any(k in ann for k in hp.THRESHOLD_KEYS) else "table"
        thresholds.update(dict((k, ann[k]) for k in hp.THRESHOLD_KEYS if k in ann))
        min_r = ann.get("min_replicas", self.p["min_replicas"])
        max_r = ann.get("max_replicas", self.p["max_replicas"])
        try:
            hp.validate_thresholds(thresholds, "%s (annotation %s)" % (where, hp.ANNOTATION)
                                   if source == "annotation" else where)
            hp.validate_replicas(min_r, max_r, where)
        except hp.ThresholdError as exc:
            errors.append(str(exc))
            return None
        entry.update(family=family, thresholds=thresholds, min_replicas=min_r,
                     max_replicas=max_r, source=source)
        return entry

    def detect_mode(self, workloads, hpas):
        if self.p["band_mode"] != "auto":
            return self.p["band_mode"]
        if any(hp.has_tolerance(o) for o in hpas.values()):
            return "tolerance"
        ns = workloads[0]["namespace"]
        probe = {
            "apiVersion": HPA_API, "kind": HPA_KIND,
            "metadata": {"name": PROBE_NAME, "namespace": ns},
            "spec": {
                "scaleTargetRef": {"apiVersion": WORKLOAD_API, "kind": self.p["kind"],
                                   "name": PROBE_NAME},
                "maxReplicas": 1,
                "metrics": [{"type": "Resource", "resource": {
                    "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}],
                "behavior": {"scaleUp": {"tolerance": "0.5"}, "scaleDown": {"tolerance": "0.5"}},
            },
        }
        stored = server_side_apply(self.client, probe, self.p["field_manager"], dry_run=True)
        return "tolerance" if hp.has_tolerance(stored) else "fallback"

    # --- writing ------------------------------------------------------------------------
    def run_parallel(self, func, items):
        """Run func(item) over items with up to `parallel` requests in flight; stop
        submitting after the first failure. Returns (results, first error or None)."""
        results = [None] * len(items)
        failure = []
        if not items:
            return results, None

        def guarded(i):
            if failure:
                return
            try:
                results[i] = func(items[i])
            except Exception as exc:  # collected and reported with what was done
                failure.append((items[i], exc))

        with ThreadPoolExecutor(max_workers=max(1, self.p["parallel"])) as pool:
            list(pool.map(guarded, range(len(items))))
        return results, (failure[0] if failure else None)

    def present(self):
        errors = []
        try:
            table = hp.merge_thresholds(self.p["thresholds"])
            self.option_family = (hp.family_key(self.p["family"], "family")
                                  if self.p["family"] else None)
            hp.validate_replicas(self.p["min_replicas"], self.p["max_replicas"], "options")
        except hp.ThresholdError as exc:
            raise Failure(str(exc))
        if not self.p["metrics"]:
            raise Failure("metrics: give at least one of %s" % ", ".join(hp.METRICS))
        self.multi, self.advice = [], []
        objs, missing = self.read_workloads()
        if missing:
            errors.append("%s not found: %s; create them first or correct names (nothing was "
                          "applied)" % (self.p["kind"], ", ".join(missing)))
        if not objs and not missing:
            errors.append("no %s matches label_selectors %s in %s" % (
                self.p["kind"], self.p["label_selectors"],
                "any namespace" if self.p["all_namespaces"] else
                "namespace %s" % self.p["namespace"]))
        planned = [e for e in (self.plan_workload(o, table, errors) for o in objs) if e]
        if errors:
            raise Failure("; ".join(errors) + " (nothing was applied)")
        if self.multi:
            self.warnings.append(
                "%d workload(s) may run on several CPU families and get the thresholds safe for "
                "all of them (earliest scale-out, latest scale-in): %s. To honour each family's "
                "thresholds: %s; strict: true makes this an error"
                % (len(self.multi), ", ".join(self.multi[:10]) + (" ..." if len(self.multi) > 10
                                                                  else ""),
                   self.advice[0]))
        hpas = self.read_hpas()
        mode = self.detect_mode(planned, hpas)
        todo = []
        for entry in planned:
            if mode == "tolerance":
                band = hp.plan_band(entry["thresholds"], self.p["metrics"])
            else:
                band = hp.plan_fallback(entry["thresholds"], self.p["metrics"],
                                        self.p["fallback_stabilization_window"])
            body = hp.hpa_body(entry, band, entry["min_replicas"], entry["max_replicas"],
                               self.p["scale_up"], self.p["scale_down"], family=entry["family"],
                               thresholds=entry["thresholds"])
            current = hpas.get((entry["namespace"], entry["name"]))
            entry.update(
                mode=band["mode"],
                target=band["targets"],
                tolerances={"scale_up": hp.tolerance_string(band["scale_up_tolerance"])
                            if band["scale_up_tolerance"] is not None else None,
                            "scale_down": hp.tolerance_string(band["scale_down_tolerance"])
                            if band["scale_down_tolerance"] is not None else None},
                effective=dict((k, float(round(v, 4))) for k, v in band["effective"].items()),
                approximated=band["approximated"],
            )
            entry["_body"], entry["_current"] = body, current
            entry["action"] = "none"
            entry["changed"] = False
            if hp.needs_apply(body, current):
                entry["action"] = "create" if current is None else "update"
                todo.append(entry)

        def apply(entry):
            return server_side_apply(self.client, entry["_body"], self.p["field_manager"],
                                     dry_run=self.check, force=self.p["force_conflicts"])

        results, failure = self.run_parallel(apply, todo)
        for entry, stored in zip(todo, results):
            if stored is not None:
                entry["changed"] = True
                entry["_after"] = stored
        if failure:
            self.fail_partial(planned, todo, failure)
        return mode, planned

    def fail_partial(self, planned, todo, failure):
        entry, exc = failure
        done = ["%s/%s" % (e["namespace"], e["name"]) for e in todo if e["changed"]]
        msg = "applying the HPA for %s failed: %s" % (
            _where(entry.get("kind", self.p["kind"]), entry["namespace"], entry["name"]), exc)
        if isinstance(exc, KubeApiError) and exc.status == 409:
            msg += ("; another field manager owns these fields (for example an HPA made by "
                    "kubectl autoscale): set force_conflicts: true to take them over")
        if done and not self.check:
            msg += "; already applied: %s" % ", ".join(done)
        raise Failure(msg)

    def absent(self):
        objs, missing = self.read_workloads()
        names = [_key(o) for o in objs]
        if self.p["names"] is not None:
            for entry in missing:  # no workload left, but its HPA may be
                ns, name = entry.split("/", 1) if "/" in entry else (None, entry)
                if ns is not None:
                    names.append((ns, name))
        hpas = self.read_hpas()
        planned, todo = [], []
        for ns, name in names:
            entry = {"namespace": ns, "name": name, "kind": self.p["kind"], "hpa": name,
                     "action": "none", "changed": False}
            current = hpas.get((ns, name))
            labels = ((current or {}).get("metadata") or {}).get("labels") or {}
            if current is not None:
                if labels.get("app.kubernetes.io/managed-by") == hp.MANAGED_BY:
                    entry["action"] = "delete"
                    entry["_current"] = current
                    todo.append(entry)
                else:
                    self.warnings.append("HPA %s/%s is not managed by %s; left alone"
                                         % (ns, name, hp.MANAGED_BY))
            planned.append(entry)

        def delete(entry):
            return delete_object(self.client, HPA_API, HPA_KIND, entry["name"],
                                 entry["namespace"], dry_run=self.check)

        results, failure = self.run_parallel(delete, todo)
        for entry, gone in zip(todo, results):
            entry["changed"] = bool(gone)
            entry["_after"] = None
        if failure:
            self.fail_partial(planned, todo, failure)
        return None, planned

    def run(self):
        p = self.p
        if p["namespace"] and p["all_namespaces"]:
            raise Failure("namespace and all_namespaces are mutually exclusive; give one")
        if not p["namespace"] and not p["all_namespaces"]:
            raise Failure("give namespace, or all_namespaces: true")
        if (p["names"] is None) == (p["label_selectors"] is None):
            raise Failure("give exactly one of names or label_selectors")
        if p["state"] == "present" and p["max_replicas"] is None:
            raise Failure("max_replicas is required with state: present")
        if p["parallel"] < 1:
            raise Failure("parallel must be at least 1")
        self.client = api_client(p)
        mode, planned = self.present() if p["state"] == "present" else self.absent()
        result = {"changed": any(e["changed"] for e in planned), "mode": mode}
        if self.module._diff:
            before, after = {}, {}
            for e in planned:
                if e["changed"]:
                    key = "%s/%s" % (e["namespace"], e["name"])
                    before[key] = hp.trim(e.get("_current"))
                    after[key] = hp.trim(e.get("_after"))
            result["diff"] = {"before": before, "after": after}
        result["workloads"] = [dict((k, v) for k, v in e.items() if not k.startswith("_")
                                    and k not in ("min_replicas", "max_replicas", "source"))
                               for e in planned]
        for e, out in zip(planned, result["workloads"]):
            if "min_replicas" in e:
                out["replicas"] = {"min": e["min_replicas"], "max": e["max_replicas"]}
                out["thresholds_source"] = e["source"]
        return result


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    reconciler = Reconciler(module)
    try:
        result = reconciler.run()
    except XinchuangError as exc:
        for warning in reconciler.warnings:
            module.warn(warning)
        module.fail_json(msg=str(exc))
    except Exception as exc:  # pragma: no cover - unexpected: keep the trace for a bug report
        module.fail_json(msg="hpa_thresholds: unexpected error: %s" % exc,
                         exception=traceback.format_exc())
    for warning in reconciler.warnings:
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
