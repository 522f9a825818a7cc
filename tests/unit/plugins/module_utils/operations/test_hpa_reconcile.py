"""hpa_thresholds planning and reconciling, moved out of the module: one workload's plan
(hpa_policy.plan_workload), option checks, and the reconciler against an in-memory API
server standing in for the REST helpers (the real one is in tests/integration/hpa)."""

import copy
import json
import threading

import pytest
import yaml

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.operations import hpa_policy as hp
from ansible_collections.xinchuang.cloud.plugins.module_utils.operations import hpa_reconcile as hr
from ansible_collections.xinchuang.cloud.plugins.module_utils.cluster import kube
from ansible_collections.xinchuang.cloud.plugins.module_utils.cluster.kube import KubeApiError
from tests import data as paper


def workload(name, family=None, namespace="ns", annotation=None, labels=None):
    spec = {"containers": [{"name": "app", "image": "registry.invalid/app:1"}]}
    if family:
        spec["nodeSelector"] = {hp.ARCH_LABEL: arch.lookup(family).oci_arch}
    meta = {"name": name, "namespace": namespace, "labels": dict(labels or {"tier": "web"})}
    if annotation is not None:
        meta["annotations"] = {hp.ANNOTATION: json.dumps(annotation)}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
            "spec": {"template": {"spec": spec}}}


TABLE = hp.merge_thresholds()


# --- one workload's plan ------------------------------------------------------------------

def test_plan_takes_family_and_thresholds_from_the_pod_template():
    entry = hp.plan_workload(workload("web-arm", "arm"), "Deployment", TABLE, max_replicas=5)
    assert entry == {"namespace": "ns", "name": "web-arm", "kind": "Deployment", "hpa": "web-arm",
                     "families": ["arm"], "family": "arm", "thresholds": paper.table3("arm"),
                     "min_replicas": 1, "max_replicas": 5, "source": "table"}


def test_annotation_beats_option_beats_pod_template():
    obj = workload("web", "arm", annotation={"cpu_scale_out": 85, "family": "mips",
                                             "max_replicas": 3})
    entry = hp.plan_workload(obj, "Deployment", TABLE, family="c86", max_replicas=9)
    assert entry["family"] == "mips" and entry["source"] == "annotation"
    assert entry["thresholds"] == dict(paper.table3("mips"), cpu_scale_out=85)
    assert (entry["min_replicas"], entry["max_replicas"]) == (1, 3)
    entry = hp.plan_workload(workload("web", "arm"), "Deployment", TABLE, family="c86",
                             max_replicas=9)
    assert entry["family"] == "c86" and entry["families"] == ["arm"]


def test_multi_family_workload_gets_the_envelope_and_a_warning():
    entry = hp.plan_workload(workload("web-any"), "Deployment", TABLE, max_replicas=5)
    assert entry["family"] is None and entry["families"] == arch.families()
    assert entry["thresholds"] == paper.envelope(arch.families())
    warning = hp.multi_family_warning([entry])
    assert warning.startswith("1 workload(s) may run on several CPU families")
    assert "Deployment ns/web-any" in warning and "strict: true" in warning
    assert hp.multi_family_warning([hp.plan_workload(workload("a", "arm"), "Deployment", TABLE,
                                                     max_replicas=5)]) is None


def test_warning_names_ten_multi_family_workloads_at_most():
    entries = [hp.plan_workload(workload("w%02d" % i), "Deployment", TABLE, max_replicas=5)
               for i in range(12)]
    warning = hp.multi_family_warning(entries)
    assert warning.startswith("12 workload(s)") and "ns/w09" in warning
    assert "ns/w10" not in warning and " ..." in warning


def test_strict_refuses_a_multi_family_workload_with_the_split():
    with pytest.raises(hp.MixedArchitectureError) as err:
        hp.plan_workload(workload("web-any"), "Deployment", TABLE, strict=True, max_replicas=5)
    assert "strict: true" in str(err.value) and "web-any-c86" in str(err.value)


def test_template_on_no_family_and_bad_annotation_name_the_workload():
    obj = workload("odd")
    obj["spec"]["template"]["spec"]["nodeSelector"] = {hp.ARCH_LABEL: "s390x"}
    with pytest.raises(hp.ThresholdError, match="Deployment ns/odd: its Pod template"):
        hp.plan_workload(obj, "Deployment", TABLE, max_replicas=5)
    obj = workload("web", "arm", annotation={"cpu_scale_in": 95})
    with pytest.raises(hp.ThresholdError, match="Deployment ns/web \\(annotation "):
        hp.plan_workload(obj, "Deployment", TABLE, max_replicas=5)
    obj = workload("web", "arm", annotation={"min_replicas": 8})
    with pytest.raises(hp.ThresholdError, match="min_replicas \\(8\\) is above"):
        hp.plan_workload(obj, "Deployment", TABLE, max_replicas=5)


def test_band_report_gives_quantity_strings_and_rounded_floats():
    report = hp.band_report(hp.workload_band(hp.PAPER_TABLE3["c86"], "tolerance"))
    assert report["mode"] == "tolerance" and report["target"] == {"cpu": 72, "memory": 76}
    assert report["tolerances"] == {"scale_up": "0.25", "scale_down": "0.375"}
    assert report["effective"]["memory_scale_in"] == 47.5
    fallback = hp.band_report(hp.workload_band(hp.PAPER_TABLE3["c86"], "fallback", ["cpu"], 60))
    assert fallback["tolerances"] == {"scale_up": None, "scale_down": None}
    assert fallback["target"] == {"cpu": 90} and "60s" in fallback["approximated"][0]


# --- options and parallel writes ----------------------------------------------------------

def params(**kw):
    out = dict(namespace="ns", all_namespaces=False, names=None, label_selectors=["tier=web"],
               kind="Deployment", family=None, thresholds={}, metrics=["cpu", "memory"],
               min_replicas=1, max_replicas=5, scale_up=None, scale_down=None, band_mode="auto",
               fallback_stabilization_window=600, strict=False, state="present",
               field_manager=hp.MANAGED_BY, force_conflicts=False, parallel=4)
    out.update(kw)
    return out


@pytest.mark.parametrize("changes,words", [
    ({"all_namespaces": True}, "mutually exclusive"),
    ({"namespace": None}, "give namespace, or all_namespaces: true"),
    ({"names": ["a"]}, "exactly one of names or label_selectors"),
    ({"label_selectors": None}, "exactly one of names or label_selectors"),
    ({"max_replicas": None}, "max_replicas is required with state: present"),
    ({"parallel": 0}, "parallel must be at least 1"),
])
def test_option_combinations_are_refused_before_connecting(changes, words):
    with pytest.raises(hr.HpaReconcileError, match=words):
        hr.validate_options(params(**changes))
    with pytest.raises(hr.HpaReconcileError, match=words):
        hr.HpaReconciler(params(**changes)).run()  # no client: it would need one to go on


def test_run_parallel_stops_submitting_after_the_first_failure():
    seen = []

    def work(item):
        seen.append(item)
        if item == 2:
            raise ValueError("boom")
        return item * 10

    results, failure = hr.run_parallel(work, list(range(50)), 1)
    assert results[:2] == [0, 10] and failure[0] == 2 and str(failure[1]) == "boom"
    assert seen == [0, 1, 2] and results[3:] == [None] * 47
    assert hr.run_parallel(work, [], 4) == ([], None)


# --- the reconciler against an in-memory API server --------------------------------------

# The Status of a server-side apply conflict, as kube-apiserver answers it.
CONFLICT_STATUS = {
    "kind": "Status", "status": "Failure", "reason": "Conflict", "code": 409,
    "message": "Apply failed with 1 conflict: conflict with \"kubectl-autoscale\" using "
               "autoscaling/v2: .spec.maxReplicas",
    "details": {"causes": [{"reason": "FieldManagerConflict", "field": ".spec.maxReplicas",
                            "message": "conflict with \"kubectl-autoscale\" using autoscaling/v2"}]},
}


class FakeServer(object):
    """Just enough of the API server for the REST helpers hpa_reconcile calls."""

    def __init__(self, workloads=(), tolerance=True):
        self.objects = {}
        for obj in workloads:
            self.put(obj)
        self.tolerance = tolerance
        self.writes = []
        self.lock = threading.Lock()
        self.conflict = set()

    def put(self, obj):
        meta = obj["metadata"]
        self.objects[(obj["kind"], meta["namespace"], meta["name"])] = copy.deepcopy(obj)

    def list(self, client, api_version, kind, namespace=None, label_selector=None, **kw):
        assert client is self
        out = []
        for (k, ns, _name), obj in sorted(self.objects.items()):
            labels = obj["metadata"].get("labels") or {}
            if k != kind or (namespace and ns != namespace):
                continue
            if label_selector and labels.get(label_selector.split("=")[0]) != \
                    label_selector.split("=")[1]:
                continue
            out.append(copy.deepcopy(obj))
        return out

    def apply(self, client, body, field_manager, dry_run=False, force=False, plural=None):
        stored = copy.deepcopy(body)
        if not self.tolerance:
            for direction in (stored["spec"].get("behavior") or {}).values():
                direction.pop("tolerance", None)
        with self.lock:
            self.writes.append(("apply", body["metadata"]["name"], dry_run, force))
            if body["metadata"]["name"] in self.conflict and not force:
                # what kube.server_side_apply raises for the API server's answer
                raise kube.conflict_error(body, field_manager, KubeApiError(
                    "PATCH ...: HTTP 409 Conflict", status=409, reason="Conflict",
                    details=CONFLICT_STATUS))
            if not dry_run:
                self.put(stored)
        return stored

    def delete(self, client, api_version, kind, name, namespace=None, dry_run=False, plural=None):
        with self.lock:
            self.writes.append(("delete", name, dry_run))
            key = (kind, namespace, name)
            if key not in self.objects:
                return False
            if not dry_run:
                del self.objects[key]
        return True


@pytest.fixture
def server(monkeypatch):
    fake = FakeServer([workload("web-%s" % f, f) for f in arch.families()]
                      + [workload("db-c86", "c86", labels={"tier": "db"})])
    monkeypatch.setattr(hr, "list_objects", fake.list)
    monkeypatch.setattr(hr, "server_side_apply", fake.apply)
    monkeypatch.setattr(hr, "delete_object", fake.delete)
    return fake


def run(server, check=False, diff=False, **kw):
    reconciler = hr.HpaReconciler(params(**kw), check_mode=check, diff=diff, client=server)
    return reconciler.run(), reconciler.warnings


def test_creates_one_hpa_per_workload_then_changes_nothing(server):
    result, warnings = run(server)
    assert result["changed"] and result["mode"] == "tolerance" and not warnings
    by_name = dict((w["name"], w) for w in result["workloads"])
    assert sorted(by_name) == sorted("web-%s" % f for f in arch.families())
    c86 = by_name["web-c86"]
    assert c86["action"] == "create" and c86["replicas"] == {"min": 1, "max": 5}
    assert c86["thresholds_source"] == "table" and c86["tolerances"]["scale_up"] == "0.25"
    assert not any(k.startswith("_") or k in ("min_replicas", "source") for k in c86)
    # the probe (a dry run) decided the mode, then five applies
    assert server.writes[0] == ("apply", hr.PROBE_NAME, True, False)
    assert len(server.writes) == 6
    del server.writes[:]
    again, _warnings = run(server)
    assert not again["changed"] and server.writes == []  # a stored tolerance proves the mode
    assert set(w["action"] for w in again["workloads"]) == {"none"}


def test_check_mode_sends_dry_runs_and_diff_shows_before_and_after(server):
    result, _warnings = run(server, check=True, diff=True, names=["web-mips"],
                            label_selectors=None)
    assert result["changed"] and server.writes[-1] == ("apply", "web-mips", True, False)
    assert not any(k[0] == hr.HPA_KIND for k in server.objects)
    assert result["diff"]["before"] == {"ns/web-mips": {}}
    assert result["diff"]["after"]["ns/web-mips"]["spec"]["maxReplicas"] == 5


def test_every_problem_is_reported_before_any_write(server):
    server.put(workload("web-bad", "arm", annotation={"cpu_scale_in": 99}))
    with pytest.raises(hr.HpaReconcileError) as err:
        run(server, names=["web-bad", "nope", "web-arm"], label_selectors=None)
    text = str(err.value)
    assert "Deployment not found: ns/nope" in text
    assert "Deployment ns/web-bad (annotation" in text and text.endswith("(nothing was applied)")
    assert server.writes == []


def test_a_selector_matching_nothing_is_an_error(server):
    with pytest.raises(hr.HpaReconcileError, match="no Deployment matches label_selectors"):
        run(server, label_selectors=["tier=none"])


def test_fallback_when_the_server_drops_the_tolerance(server):
    server.tolerance = False
    result, _warnings = run(server, label_selectors=["tier=db"])
    assert result["mode"] == "fallback" and result["workloads"][0]["mode"] == "fallback"
    stored = server.objects[(hr.HPA_KIND, "ns", "db-c86")]
    assert stored["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 600


def test_conflict_names_force_conflicts(server):
    server.conflict.add("db-c86")
    with pytest.raises(hr.HpaReconcileError, match="set force_conflicts: true") as err:
        run(server, label_selectors=["tier=db"], band_mode="tolerance")
    assert '"kubectl-autoscale"' in str(err.value) and ".spec.maxReplicas" in str(err.value)
    result, _warnings = run(server, label_selectors=["tier=db"], band_mode="tolerance",
                            force_conflicts=True)
    assert result["changed"] and server.writes[-1] == ("apply", "db-c86", False, True)


def test_absent_deletes_only_managed_hpas(server):
    run(server)
    foreign = copy.deepcopy(server.objects[(hr.HPA_KIND, "ns", "web-arm")])
    foreign["metadata"]["labels"] = {}
    server.put(foreign)
    result, warnings = run(server, state="absent", max_replicas=None)
    actions = dict((w["name"], w["action"]) for w in result["workloads"])
    assert actions["web-arm"] == "none" and actions["web-c86"] == "delete"
    assert warnings == ["HPA ns/web-arm is not managed by %s; left alone" % hp.MANAGED_BY]
    assert result["mode"] is None and result["changed"]
    assert [k for k in server.objects if k[0] == hr.HPA_KIND] == [(hr.HPA_KIND, "ns", "web-arm")]


# --- scale_up / scale_down: one spec, two documented copies that cannot drift -------------

def assert_documented_as_specified(doc, spec, where):
    assert sorted(doc) == sorted(spec), where
    for name, option in spec.items():
        documented = doc[name]
        for key in ("type", "choices", "elements"):
            assert documented.get(key) == option.get(key), "%s.%s %s" % (where, name, key)
        assert bool(documented.get("required")) == bool(option.get("required")), where
        if "options" in option:
            assert_documented_as_specified(documented["suboptions"], option["options"],
                                           "%s.%s" % (where, name))


def test_scale_up_and_scale_down_are_documented_alike_and_as_specified():
    # ansible-test wants doc fragments as string literals (its yamllint test parses them), and
    # fragments merge by option name, so the two options' suboptions are written out twice;
    # this keeps the copies equal to each other and to scaling_rules_argument_spec().
    from ansible_collections.xinchuang.cloud.plugins.modules import hpa_thresholds as module
    options = yaml.safe_load(module.DOCUMENTATION)["options"]
    up, down = options["scale_up"], options["scale_down"]
    assert up["suboptions"] == down["suboptions"]
    assert up["description"] == [d.replace("scale-down", "scale-up").replace("scaleDown", "scaleUp")
                                 for d in down["description"]]
    spec = hr.scaling_rules_argument_spec()
    assert_documented_as_specified(up["suboptions"], spec, "scale_up")
    argument_spec = module.argument_spec()
    assert argument_spec["scale_up"]["options"] == argument_spec["scale_down"]["options"] == spec
