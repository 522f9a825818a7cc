"""xinchuang.cloud.hpa_thresholds against the testbed's real API server (kwok nodes of all
five families), run through ansible-playbook as users run it."""

import json
from decimal import Decimal

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.operations import hpa_policy as hp
from tests import data as paper
from tests.integration.ansible_run import run_module
from tests.integration.testbed.helpers import deployment, unique_namespace

from .common import POD_REQUESTS, hpa_names, pinned_name, stored_band

MODULE = "xinchuang.cloud.hpa_thresholds"
ROUNDING = Decimal(1).scaleb(-hp.TOLERANCE_PLACES)


@pytest.fixture(scope="module")
def ns(testbed):
    name = unique_namespace(testbed, "hpa")
    objs = [deployment(pinned_name(f), name, family=f, requests=POD_REQUESTS)
            for f in arch.families()]
    objs.append(deployment("web-any", name, requests=POD_REQUESTS))
    objs.append(deployment("web-annotated", name, family="arm", requests=POD_REQUESTS,
                           workload_annotations={hp.ANNOTATION: json.dumps(
                               {"cpu_scale_out": 60, "cpu_scale_in": 20, "max_replicas": 3})}))
    testbed.apply({"apiVersion": "v1", "kind": "List", "items": objs})
    yield name
    testbed.kubectl("delete", "namespace", name, "--wait=false")


def _args(testbed, namespace, **kw):
    args = {"kubeconfig": testbed.kubeconfig, "namespace": namespace, "max_replicas": 5}
    args.update(kw)
    return args


PINNED = [pinned_name(f) for f in arch.families()]


def test_four_passes_for_workloads_pinned_to_each_family(testbed, ns):
    args = _args(testbed, ns, names=PINNED,
                 scale_down={"stabilization_window_seconds": 60})
    check = run_module(MODULE, args, check=True)
    assert not check.get("failed"), check.get("msg")
    assert check["changed"] and check["mode"] == "tolerance"
    assert {w["action"] for w in check["workloads"]} == {"create"}
    assert hpa_names(testbed, ns) == [], "check mode left HPAs behind"

    real = run_module(MODULE, args)
    assert not real.get("failed"), real.get("msg")
    assert real["changed"] and hpa_names(testbed, ns) == sorted(PINNED)

    by_name = dict((w["name"], w) for w in real["workloads"])
    for fam in arch.families():
        entry = by_name[pinned_name(fam)]
        assert entry["family"] == fam and entry["families"] == [fam]
        assert entry["mode"] == "tolerance"
        assert entry["thresholds"] == paper.table3(fam)
        # what the API server stored, read back independently of the module
        stored = stored_band(testbed, ns, pinned_name(fam))
        assert stored["target"] == entry["target"]
        assert stored["scale_up"] == Decimal(entry["tolerances"]["scale_up"])
        assert stored["scale_down"] == Decimal(entry["tolerances"]["scale_down"])
        assert stored["labels"][hp.FAMILY_LABEL] == fam
        assert stored["scaleDown"]["stabilizationWindowSeconds"] == 60
        table = paper.table3(fam)
        ratio = min(Decimal(table[m + "_scale_in"]) / table[m + "_scale_out"] for m in hp.METRICS)
        for metric, target in stored["target"].items():
            out = target * (1 + stored["scale_up"])
            low = target * (1 - stored["scale_down"])
            assert table[metric + "_scale_out"] <= out <= table[metric + "_scale_out"] + target * ROUNDING
            assert low <= table[metric + "_scale_in"]  # never scales in earlier than asked
            assert abs(low - ratio * table[metric + "_scale_out"]) <= target * ROUNDING

    # the paper's C86 and MIPS rows, by hand: 72*1.25 = 90, 76*1.25 = 95, 72*0.625 = 45
    assert by_name[pinned_name("c86")]["target"] == {"cpu": 72, "memory": 76}
    assert by_name[pinned_name("c86")]["tolerances"] == {"scale_up": "0.25", "scale_down": "0.375"}
    assert by_name[pinned_name("mips")]["target"] == {"cpu": 50, "memory": 50}
    assert by_name[pinned_name("mips")]["approximated"] == []

    again_check = run_module(MODULE, args, check=True)
    assert not again_check["changed"], again_check["workloads"]
    again = run_module(MODULE, args)
    assert not again["changed"], again["workloads"]
    assert {w["action"] for w in again["workloads"]} == {"none"}


def test_changed_threshold_updates_only_that_family_with_diff(testbed, ns):
    base = _args(testbed, ns, names=PINNED, scale_down={"stabilization_window_seconds": 60})
    assert not run_module(MODULE, base).get("failed")
    # generation moves with the spec only (the controller keeps writing status)
    versions = dict((n, testbed.get_json("hpa.v2.autoscaling", n, "-n", ns)["metadata"]
                     ["generation"]) for n in PINNED)
    changed = dict(base, thresholds={"loong64": {"cpu_scale_out": 85}})
    check = run_module(MODULE, changed, check=True, diff=True)
    assert check["changed"]
    key = "%s/%s" % (ns, pinned_name("loongarch"))
    assert list(check["diff"]["after"]) == [key]
    assert check["diff"]["before"][key]["spec"] != check["diff"]["after"][key]["spec"]
    assert stored_band(testbed, ns, pinned_name("loongarch"))["target"]["cpu"] == 58  # untouched

    real = run_module(MODULE, changed, diff=True)
    actions = dict((w["name"], w["action"]) for w in real["workloads"])
    assert actions.pop(pinned_name("loongarch")) == "update"
    assert set(actions.values()) == {"none"}
    after = dict((n, testbed.get_json("hpa.v2.autoscaling", n, "-n", ns)["metadata"]
                  ["generation"]) for n in PINNED)
    assert [n for n in PINNED if after[n] != versions[n]] == [pinned_name("loongarch")]
    entry = [w for w in real["workloads"] if w["name"] == pinned_name("loongarch")][0]
    stored = stored_band(testbed, ns, pinned_name("loongarch"))
    assert stored["target"]["cpu"] * (1 + stored["scale_up"]) >= 85
    assert entry["thresholds"]["cpu_scale_out"] == 85
    # back to Table 3
    assert run_module(MODULE, base)["changed"]


def test_annotation_overrides_thresholds_and_replicas(testbed, ns):
    res = run_module(MODULE, _args(testbed, ns, names=["web-annotated"]))
    assert not res.get("failed"), res.get("msg")
    entry = res["workloads"][0]
    assert entry["thresholds_source"] == "annotation"
    assert entry["thresholds"]["cpu_scale_out"] == 60 and entry["thresholds"]["cpu_scale_in"] == 20
    assert entry["thresholds"]["memory_scale_out"] == paper.table3("arm")["memory_scale_out"]
    hpa = testbed.get_json("hpa.v2.autoscaling", "web-annotated", "-n", ns)
    assert hpa["spec"]["maxReplicas"] == 3


def test_multi_family_workload_warns_or_fails_in_strict_mode(testbed, ns):
    before = hpa_names(testbed, ns)
    strict = run_module(MODULE, _args(testbed, ns, names=["web-any", pinned_name("sw64")],
                                      strict=True))
    assert strict.get("failed")
    assert "web-any" in strict["msg"] and "several CPU families" in strict["msg"]
    assert "web-any-mips" in strict["msg"] and "nodeSelector kubernetes.io/arch" in strict["msg"]
    assert hpa_names(testbed, ns) == before, "strict failure wrote something"

    loose = run_module(MODULE, _args(testbed, ns, names=["web-any"]))
    assert not loose.get("failed"), loose.get("msg")
    assert any("several CPU families" in w for w in loose.get("warnings", []))
    entry = loose["workloads"][0]
    assert entry["family"] is None and entry["families"] == arch.families()
    assert entry["thresholds"] == paper.envelope(arch.families())


@pytest.mark.parametrize("bad,words", [
    ({"thresholds": {"c86": {"cpu_scale_out": 120}}}, ["thresholds.c86", "1-100"]),
    ({"thresholds": {"arm": {"memory_scale_in": 95}}}, ["memory_scale_in (95) must be below"]),
    ({"min_replicas": 6, "max_replicas": 2}, ["min_replicas (6) is above max_replicas (2)"]),
    ({"thresholds": {"riscv64": {"cpu_scale_out": 80}}}, ["riscv64", "unknown architecture"]),
    ({"family": "s390x"}, ["family", "s390x"]),
    ({"names": ["web-c86", "nope-1", "nope-2"]}, ["not found", "nope-1", "nope-2"]),
    ({"label_selectors": ["app=nothing-here"], "names": None}, ["no Deployment matches"]),
])
def test_bad_inputs_are_refused_and_nothing_is_written(testbed, bad, words):
    namespace = unique_namespace(testbed, "hpa-bad")
    try:
        testbed.apply(deployment("web-c86", namespace, family="c86", requests=POD_REQUESTS))
        args = _args(testbed, namespace, names=["web-c86"])
        args.update(bad)
        args = dict((k, v) for k, v in args.items() if v is not None)
        res = run_module(MODULE, args)
        assert res.get("failed"), res
        for word in words:
            assert word in res["msg"], res["msg"]
        assert hpa_names(testbed, namespace) == []
    finally:
        testbed.kubectl("delete", "namespace", namespace, "--wait=false")


def test_fallback_mode_targets_scale_out_with_a_slow_scale_in(testbed, ns):
    res = run_module(MODULE, _args(testbed, ns, names=[pinned_name("sw64")],
                                   band_mode="fallback", fallback_stabilization_window=900))
    assert not res.get("failed"), res.get("msg")
    entry = res["workloads"][0]
    assert entry["mode"] == "fallback" and res["mode"] == "fallback"
    assert entry["target"] == {"cpu": 75, "memory": 80}
    assert entry["tolerances"] == {"scale_up": None, "scale_down": None}
    hpa = testbed.get_json("hpa.v2.autoscaling", pinned_name("sw64"), "-n", ns)
    assert "tolerance" not in json.dumps(hpa["spec"]["behavior"])
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 900
    # and back: the tolerance fields return, the window we no longer set goes away
    res = run_module(MODULE, _args(testbed, ns, names=[pinned_name("sw64")]))
    assert res["changed"] and res["mode"] == "tolerance"
    hpa = testbed.get_json("hpa.v2.autoscaling", pinned_name("sw64"), "-n", ns)
    assert "tolerance" in hpa["spec"]["behavior"]["scaleDown"]
    assert hpa["spec"]["behavior"]["scaleDown"].get("stabilizationWindowSeconds") != 900


def test_statefulsets_by_label_selector_and_state_absent(testbed):
    namespace = unique_namespace(testbed, "hpa-sts")
    try:
        objs = []
        for fam in ("arm", "loongarch"):
            obj = deployment("db-%s" % fam, namespace, family=fam, labels={"tier": "db"},
                             requests=POD_REQUESTS)
            obj["kind"] = "StatefulSet"
            obj["spec"]["serviceName"] = "db"
            objs.append(obj)
        testbed.apply({"apiVersion": "v1", "kind": "List", "items": objs})
        # an HPA of someone else with the name of nothing we target stays untouched
        args = {"kubeconfig": testbed.kubeconfig, "namespace": namespace, "kind": "StatefulSet",
                "label_selectors": ["tier=db"], "max_replicas": 4}
        res = run_module(MODULE, args)
        assert not res.get("failed"), res.get("msg")
        assert sorted(w["family"] for w in res["workloads"]) == ["arm", "loongarch"]
        hpa = testbed.get_json("hpa.v2.autoscaling", "db-arm", "-n", namespace)
        assert hpa["spec"]["scaleTargetRef"]["kind"] == "StatefulSet"

        gone = dict(args, state="absent")
        check = run_module(MODULE, gone, check=True)
        assert check["changed"] and hpa_names(testbed, namespace) == ["db-arm", "db-loongarch"]
        real = run_module(MODULE, gone)
        assert real["changed"] and hpa_names(testbed, namespace) == []
        assert not run_module(MODULE, gone)["changed"]
    finally:
        testbed.kubectl("delete", "namespace", namespace, "--wait=false")


def test_foreign_hpa_conflicts_unless_forced(testbed, ns):
    name = pinned_name("arm")
    testbed.kubectl("delete", "hpa.v2.autoscaling", name, "-n", ns, "--ignore-not-found")
    testbed.kubectl("autoscale", "deployment", name, "-n", ns, "--cpu=50%", "--max=7", check=True)
    res = run_module(MODULE, _args(testbed, ns, names=[name]))
    assert res.get("failed") and "force_conflicts" in res["msg"], res.get("msg")
    forced = run_module(MODULE, _args(testbed, ns, names=[name], force_conflicts=True))
    assert not forced.get("failed"), forced.get("msg")
    stored = stored_band(testbed, ns, name)
    assert stored["target"] == forced["workloads"][0]["target"]


def test_team_user_with_namespace_rights_only(testbed):
    namespace = testbed.user_namespace
    testbed.apply(deployment("team-web-mips", namespace, family="mips", requests=POD_REQUESTS))
    try:
        args = {"kubeconfig": testbed.user_kubeconfig, "namespace": namespace,
                "names": ["team-web-mips"], "max_replicas": 3}
        res = run_module(MODULE, args)
        assert not res.get("failed"), res.get("msg")
        assert res["workloads"][0]["family"] == "mips"
        denied = run_module(MODULE, dict(args, namespace="default"))
        assert denied.get("failed") and "403" in denied["msg"], denied.get("msg")
    finally:
        testbed.kubectl("delete", "hpa.v2.autoscaling,deployment", "team-web-mips", "-n",
                        namespace, "--ignore-not-found")
