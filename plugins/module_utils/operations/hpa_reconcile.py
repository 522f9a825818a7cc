# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hpa_thresholds reconciler: reads workloads and HPAs, applies what differs.

The I/O half of the module. Every decision (family, thresholds, band, HPA body, whether
it must be applied) is pure logic in ``hpa_policy.py``; this file lists, probes, applies
and deletes through ``kube.py`` (the collection's one Kubernetes client path), in this order:

1. validate the options and every targeted workload, collecting all errors, before the
   first write (nothing is applied on any error);
2. one list call per namespace (per selector) for the workloads and one for the HPAs;
3. the band mode: ``auto`` trusts an HPA already stored with a tolerance, else asks the
   server with one dry-run apply of a probe HPA;
4. server-side apply (or delete) in parallel, only where the stored object differs.

Errors are ``HpaReconcileError`` (a XinchuangError) with the fix named; the module turns
them into ``fail_json``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from concurrent.futures import ThreadPoolExecutor

from ansible_collections.xinchuang.cloud.plugins.module_utils.operations import hpa_policy as hp
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError
from ansible_collections.xinchuang.cloud.plugins.module_utils.cluster.kube import (
    api_client,
    delete_object,
    list_objects,
    server_side_apply,
)

HPA_API = "autoscaling/v2"
HPA_KIND = "HorizontalPodAutoscaler"
WORKLOAD_API = "apps/v1"
PROBE_NAME = "xinchuang-tolerance-probe"
BAND_MODES = ("auto",) + hp.MODES


class HpaReconcileError(XinchuangError):
    """Errors collected before any write, reported together, or a write that failed."""


def scaling_rules_argument_spec():
    """Suboptions of ``scale_up`` and ``scale_down`` (documented under both options of the
    hpa_thresholds module; tests/unit/plugins/module_utils/operations/test_hpa_reconcile.py keeps both copies equal to this)."""
    return dict(
        stabilization_window_seconds=dict(type="int"),
        select_policy=dict(type="str", choices=["Max", "Min", "Disabled"]),
        policies=dict(type="list", elements="dict", options=dict(
            type=dict(type="str", required=True, choices=["Pods", "Percent"]),
            value=dict(type="int", required=True),
            period_seconds=dict(type="int", required=True),
        )),
    )


def validate_options(params):
    """Option combinations the argument spec cannot express, checked before connecting."""
    if params["namespace"] and params["all_namespaces"]:
        raise HpaReconcileError("namespace and all_namespaces are mutually exclusive; give one")
    if not params["namespace"] and not params["all_namespaces"]:
        raise HpaReconcileError("give namespace, or all_namespaces: true")
    if (params["names"] is None) == (params["label_selectors"] is None):
        raise HpaReconcileError("give exactly one of names or label_selectors")
    if params["state"] == "present" and params["max_replicas"] is None:
        raise HpaReconcileError("max_replicas is required with state: present")
    if params["parallel"] < 1:
        raise HpaReconcileError("parallel must be at least 1")


def run_parallel(func, items, parallel):
    """Run func(item) over items with up to ``parallel`` calls in flight; stop submitting
    after the first failure. Returns (results, (item, exception) of the first failure or
    None); results of items not run are None."""
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

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        list(pool.map(guarded, range(len(items))))
    return results, (failure[0] if failure else None)


def workload_results(planned):
    """RV(workloads): the planned entries without the private fields, replica bounds and
    threshold source renamed as documented."""
    out = []
    for entry in planned:
        item = dict((k, v) for k, v in entry.items() if not k.startswith("_")
                    and k not in ("min_replicas", "max_replicas", "source"))
        if "min_replicas" in entry:
            item["replicas"] = {"min": entry["min_replicas"], "max": entry["max_replicas"]}
            item["thresholds_source"] = entry["source"]
        out.append(item)
    return out


class HpaReconciler(object):
    """One hpa_thresholds call. ``params`` are the module's options; ``warnings`` collects
    what the module should warn about (also when ``run`` raises)."""

    def __init__(self, params, check_mode=False, diff=False, client=None):
        self.p = params
        self.check = check_mode
        self.diff = diff
        self.client = client
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
                    found[hp.object_key(obj)] = obj
            return [found[k] for k in sorted(found)], []
        by_name = {}
        for obj in list_objects(self.client, WORKLOAD_API, kind, scope):
            by_name.setdefault(hp.object_key(obj)[1], []).append(obj)
        missing = []
        for entry in self.p["names"]:
            ns, name = (entry.split("/", 1) if "/" in entry and scope is None
                        else (self.p["namespace"], entry))
            matches = [o for o in by_name.get(name, [])
                       if ns is None or hp.object_key(o)[0] == ns]
            if not matches:
                missing.append(entry if ns is None else "%s/%s" % (ns, name))
            for obj in matches:
                found[hp.object_key(obj)] = obj
        return [found[k] for k in sorted(found)], missing

    def read_hpas(self):
        return dict((hp.object_key(o), o) for o in list_objects(
            self.client, HPA_API, HPA_KIND, self.namespace_scope()))

    def detect_mode(self, workloads, hpas):
        """``tolerance`` when the server keeps behavior.*.tolerance, else ``fallback``."""
        if self.p["band_mode"] != "auto":
            return self.p["band_mode"]
        if any(hp.has_tolerance(o) for o in hpas.values()):
            return "tolerance"
        probe = {
            "apiVersion": HPA_API, "kind": HPA_KIND,
            "metadata": {"name": PROBE_NAME, "namespace": workloads[0]["namespace"]},
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

    # --- planning -----------------------------------------------------------------------
    def plan(self):
        """Every targeted workload's entry, or HpaReconcileError with all problems at once."""
        try:
            table = hp.merge_thresholds(self.p["thresholds"])
            option_family = (hp.family_key(self.p["family"], "family")
                             if self.p["family"] else None)
            hp.validate_replicas(self.p["min_replicas"], self.p["max_replicas"], "options")
        except hp.ThresholdError as exc:
            raise HpaReconcileError(str(exc))
        if not self.p["metrics"]:
            raise HpaReconcileError("metrics: give at least one of %s" % ", ".join(hp.METRICS))
        errors = []
        objs, missing = self.read_workloads()
        if missing:
            errors.append("%s not found: %s; create them first or correct names (nothing was "
                          "applied)" % (self.p["kind"], ", ".join(missing)))
        if not objs and not missing:
            errors.append("no %s matches label_selectors %s in %s" % (
                self.p["kind"], self.p["label_selectors"],
                "any namespace" if self.p["all_namespaces"] else
                "namespace %s" % self.p["namespace"]))
        planned = []
        for obj in objs:
            try:
                planned.append(hp.plan_workload(
                    obj, self.p["kind"], table, family=option_family, strict=self.p["strict"],
                    min_replicas=self.p["min_replicas"], max_replicas=self.p["max_replicas"]))
            except (hp.ThresholdError, hp.MixedArchitectureError) as exc:
                errors.append(str(exc))
        if errors:
            raise HpaReconcileError("; ".join(errors) + " (nothing was applied)")
        warning = hp.multi_family_warning(planned)
        if warning:
            self.warnings.append(warning)
        return planned

    # --- writing ------------------------------------------------------------------------
    def present(self):
        planned = self.plan()
        hpas = self.read_hpas()
        mode = self.detect_mode(planned, hpas)
        todo = []
        for entry in planned:
            band = hp.workload_band(entry["thresholds"], mode, self.p["metrics"],
                                    self.p["fallback_stabilization_window"])
            body = hp.hpa_body(entry, band, entry["min_replicas"], entry["max_replicas"],
                               self.p["scale_up"], self.p["scale_down"], family=entry["family"],
                               thresholds=entry["thresholds"])
            current = hpas.get((entry["namespace"], entry["name"]))
            entry.update(hp.band_report(band))
            entry["_body"], entry["_current"] = body, current
            entry["action"] = "none"
            entry["changed"] = False
            if hp.needs_apply(body, current):
                entry["action"] = "create" if current is None else "update"
                todo.append(entry)

        def apply(entry):
            return server_side_apply(self.client, entry["_body"], self.p["field_manager"],
                                     dry_run=self.check, force=self.p["force_conflicts"])

        results, failure = run_parallel(apply, todo, self.p["parallel"])
        for entry, stored in zip(todo, results):
            if stored is not None:
                entry["changed"] = True
                entry["_after"] = stored
        if failure:
            self.fail_partial(todo, failure)
        return mode, planned

    def fail_partial(self, todo, failure):
        entry, exc = failure
        done = ["%s/%s" % (e["namespace"], e["name"]) for e in todo if e["changed"]]
        # kube.py's conflict policy names the other managers and force_conflicts itself.
        msg = "applying the HPA for %s failed: %s" % (
            hp.describe_workload(entry.get("kind", self.p["kind"]), entry["namespace"],
                                 entry["name"]), exc)
        if done and not self.check:
            msg += "; already applied: %s" % ", ".join(done)
        raise HpaReconcileError(msg)

    def absent(self):
        objs, missing = self.read_workloads()
        names = [hp.object_key(o) for o in objs]
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

        results, failure = run_parallel(delete, todo, self.p["parallel"])
        for entry, gone in zip(todo, results):
            entry["changed"] = bool(gone)
            entry["_after"] = None
        if failure:
            self.fail_partial(todo, failure)
        return None, planned

    def run(self):
        """The module's result: changed, mode, workloads and, with diff, diff."""
        validate_options(self.p)
        if self.client is None:
            self.client = api_client(self.p)
        mode, planned = self.present() if self.p["state"] == "present" else self.absent()
        result = {"changed": any(e["changed"] for e in planned), "mode": mode}
        if self.diff:
            before, after = {}, {}
            for e in planned:
                if e["changed"]:
                    key = "%s/%s" % (e["namespace"], e["name"])
                    before[key] = hp.trim(e.get("_current"))
                    after[key] = hp.trim(e.get("_after"))
            result["diff"] = {"before": before, "after": after}
        result["workloads"] = workload_results(planned)
        return result
