"""Pure logic of hpa_thresholds: Table 3, validation, architecture detection, the band."""

import json
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.operations import hpa_policy as hp
from tests import data as paper

PLACES = hp.TOLERANCE_PLACES
# The largest error rounding a tolerance up can put on a threshold: T * 10**-places.
ROUNDING = Decimal(1).scaleb(-PLACES)


def _thresholds():
    pct = st.integers(min_value=1, max_value=100)

    def build(values):
        cpu_in, cpu_out, mem_in, mem_out = values
        return {"cpu_scale_in": cpu_in, "cpu_scale_out": cpu_out,
                "memory_scale_in": mem_in, "memory_scale_out": mem_out}

    pair = st.tuples(pct, pct).filter(lambda p: p[0] < p[1])
    return st.tuples(pair, pair).map(lambda ab: build(ab[0] + ab[1]))


# --- Table 3 ----------------------------------------------------------------------------

def test_defaults_are_the_papers_table3():
    # The oracle: the paper's Table 3 as typed into docs/paper-tables.yml (never skips).
    assert hp.PAPER_TABLE3 == paper.table3()
    assert hp.merge_thresholds() == paper.table3()


def test_table3_has_a_row_for_every_family_of_the_architecture_model():
    assert sorted(hp.PAPER_TABLE3) == sorted(arch.families())


def test_override_accepts_any_name_of_a_family_and_keeps_other_values():
    table = hp.merge_thresholds({"amd64": {"cpu_scale_out": 85}, "mips64el": {"memory_scale_in": 20}})
    assert table["c86"] == dict(paper.table3("c86"), cpu_scale_out=85)
    assert table["mips"]["memory_scale_in"] == 20
    assert table["arm"] == paper.table3("arm")


@pytest.mark.parametrize("overrides,words", [
    ({"c86": {"cpu_scale_out": 101}}, ["thresholds.c86", "cpu_scale_out", "1-100"]),
    ({"c86": {"cpu_scale_in": 0}}, ["cpu_scale_in", "1-100"]),
    ({"arm": {"cpu_scale_in": 90}}, ["thresholds.arm", "cpu_scale_in (90) must be below"]),
    ({"arm": {"memory_scale_in": 95, "memory_scale_out": 95}}, ["memory_scale_in (95)"]),
    ({"riscv64": {"cpu_scale_out": 80}}, ["thresholds.riscv64", "unknown architecture"]),
    ({"c86": {"cpu_out": 80}}, ["unknown keys cpu_out"]),
    ({"c86": {"cpu_scale_out": "lots"}}, ["cpu_scale_out is 'lots'"]),
    ({"c86": {"cpu_scale_out": 80.5}}, ["not an integer"]),
    ({"c86": [80]}, ["must be a dictionary"]),
])
def test_bad_thresholds_are_refused_naming_the_input(overrides, words):
    with pytest.raises(hp.ThresholdError) as err:
        hp.merge_thresholds(overrides)
    for word in words:
        assert word in str(err.value)


def test_thresholds_from_yaml_strings_are_accepted():
    assert hp.merge_thresholds({"c86": {"cpu_scale_out": "85"}})["c86"]["cpu_scale_out"] == 85


def test_replica_bounds():
    hp.validate_replicas(1, 1, "x")
    with pytest.raises(hp.ThresholdError, match="min_replicas \\(5\\) is above max_replicas \\(2\\)"):
        hp.validate_replicas(5, 2, "x")
    with pytest.raises(hp.ThresholdError, match="min_replicas must be an integer >= 1"):
        hp.validate_replicas(0, 2, "x")


# --- the annotation -----------------------------------------------------------------------

def test_annotation_overrides_are_parsed_and_family_normalised():
    got = hp.parse_annotation(json.dumps({"cpu_scale_out": "85", "family": "loong64"}), "w")
    assert got == {"cpu_scale_out": 85, "family": "loongarch"}


@pytest.mark.parametrize("text,word", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    ('{"cpu": 3}', "unknown keys cpu"),
    ('{"family": "s390x"}', "unknown architecture"),
])
def test_bad_annotation_is_refused_naming_the_workload(text, word):
    with pytest.raises(hp.ThresholdError) as err:
        hp.parse_annotation(text, "Deployment ns/web")
    assert "Deployment ns/web" in str(err.value) and word in str(err.value)


# --- architecture of a Pod template ------------------------------------------------------

def _tmpl(node_selector=None, terms=None):
    spec = {}
    if node_selector:
        spec["nodeSelector"] = node_selector
    if terms is not None:
        spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": terms}}}
    return {"spec": spec}


@pytest.mark.parametrize("family", arch.families())
def test_node_selector_on_the_oci_arch_pins_the_family(family):
    oci = arch.lookup(family).oci_arch
    assert hp.pod_template_families(_tmpl({hp.ARCH_LABEL: oci})) == [family]


def test_no_constraint_means_every_family():
    assert hp.pod_template_families(_tmpl()) == arch.families()


def test_required_affinity_terms_are_ored_and_expressions_anded():
    c86, arm, la = (arch.lookup(f).oci_arch for f in ("c86", "arm", "loongarch"))
    terms = [
        {"matchExpressions": [{"key": hp.ARCH_LABEL, "operator": "In", "values": [c86, arm]},
                              {"key": hp.ARCH_LABEL, "operator": "NotIn", "values": [arm]}]},
        {"matchExpressions": [{"key": hp.ARCH_LABEL, "operator": "In", "values": [la]}]},
    ]
    assert hp.pod_template_families(_tmpl(terms=terms)) == ["c86", "loongarch"]


def test_node_selector_and_affinity_are_anded():
    arm = arch.lookup("arm").oci_arch
    terms = [{"matchExpressions": [{"key": hp.ARCH_LABEL, "operator": "NotIn", "values": [arm]}]}]
    assert hp.pod_template_families(_tmpl({hp.ARCH_LABEL: arm}, terms)) == []


def test_family_label_and_unrelated_expressions():
    terms = [{"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]},
                                   {"key": hp.FAMILY_LABEL, "operator": "In", "values": ["sw64"]}]}]
    assert hp.pod_template_families(_tmpl(terms=terms)) == ["sw64"]


def test_foreign_architectures_are_not_families():
    terms = [{"matchExpressions": [{"key": hp.ARCH_LABEL, "operator": "In", "values": ["s390x"]}]}]
    assert hp.pod_template_families(_tmpl(terms=terms)) == []


def test_split_advice_names_every_family_by_its_node_label():
    text = hp.split_advice("Deployment", "web", ["c86", "mips"])
    assert "web-c86" in text and arch.lookup("c86").oci_arch in text
    assert "web-mips" in text and arch.lookup("mips").oci_arch in text


def test_envelope_is_the_earliest_scale_out_and_latest_scale_in():
    env = hp.envelope(hp.PAPER_TABLE3, ["c86", "mips"])
    assert env == {"cpu_scale_out": 70, "cpu_scale_in": 30, "memory_scale_out": 70,
                   "memory_scale_in": 30}
    hp.validate_thresholds(env, "envelope")


# --- the band -----------------------------------------------------------------------------

def _check_band(thr, band, metrics):
    up, down = band["scale_up_tolerance"], band["scale_down_tolerance"]
    assert up >= 0 and 0 <= down < 1
    # both decimals carry at most PLACES places (what we send as the Quantity)
    assert -up.as_tuple().exponent <= PLACES and -down.as_tuple().exponent <= PLACES
    lowest = min(Fraction(thr[m + "_scale_in"], thr[m + "_scale_out"]) for m in metrics)
    for m in metrics:
        t = band["targets"][m]
        assert isinstance(t, int) and 1 <= t <= thr[m + "_scale_out"]
        out = Decimal(t) * (1 + up)
        low = Decimal(t) * (1 - down)
        # T(1+u) = scale_out, exactly within rounding, and never below it
        assert Decimal(thr[m + "_scale_out"]) <= out <= thr[m + "_scale_out"] + t * ROUNDING
        # T(1-d) = ratio * scale_out <= scale_in: never scales in earlier than asked
        want_low = lowest * thr[m + "_scale_out"]
        assert Fraction(str(low)) <= want_low
        assert Fraction(str(low)) >= want_low - Fraction(t) * Fraction(str(ROUNDING))
        assert low <= thr[m + "_scale_in"]
        if Fraction(thr[m + "_scale_in"], thr[m + "_scale_out"]) == lowest:
            assert thr[m + "_scale_in"] - t * ROUNDING <= low  # exact for the tightest metric
        assert band["effective"][m + "_scale_out"] == out
        assert band["effective"][m + "_scale_in"] == low


@pytest.mark.parametrize("family", arch.families())
def test_table3_bands_are_exact_on_scale_out_for_both_metrics(family):
    thr = hp.PAPER_TABLE3[family]
    band = hp.plan_band(thr)
    _check_band(thr, band, hp.METRICS)


def test_c86_band_worked_example():
    band = hp.plan_band(hp.PAPER_TABLE3["c86"])
    assert band["targets"] == {"cpu": 72, "memory": 76}
    assert band["scale_up_tolerance"] == Decimal("0.25")
    assert band["scale_down_tolerance"] == Decimal("0.375")
    # 72 * 1.25 = 90, 76 * 1.25 = 95; 72 * 0.625 = 45; memory scales in at 47.5 < 50
    assert band["effective"]["memory_scale_in"] == Decimal("47.5")
    assert len(band["approximated"]) == 1 and "memory_scale_in" in band["approximated"][0]


def test_mips_band_is_exact_in_both_directions_for_both_metrics():
    band = hp.plan_band(hp.PAPER_TABLE3["mips"])
    assert band["targets"] == {"cpu": 50, "memory": 50}
    assert band["scale_up_tolerance"] == Decimal("0.4") == band["scale_down_tolerance"]
    assert band["approximated"] == []


@settings(max_examples=400, deadline=None)
@given(_thresholds(), st.sampled_from([("cpu",), ("memory",), ("cpu", "memory")]))
def test_band_keeps_every_requested_band(thr, metrics):
    band = hp.plan_band(thr, metrics)
    assert sorted(band["targets"]) == sorted(metrics)
    _check_band(thr, band, metrics)


@settings(max_examples=300, deadline=None)
@given(_thresholds())
def test_a_single_metric_is_exact_in_both_directions(thr):
    band = hp.plan_band(thr, ["cpu"])
    assert band["approximated"] == []
    t = band["targets"]["cpu"]
    assert thr["cpu_scale_in"] <= t <= thr["cpu_scale_out"]
    assert abs(Decimal(t) * (1 - band["scale_down_tolerance"]) - thr["cpu_scale_in"]) <= t * ROUNDING


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(st.integers(1, 99), st.integers(2, 100), st.integers(1, 100), st.integers(1, 100))
def test_equal_ratios_are_exact_for_both_metrics(num, den, k1, k2):
    assume(num < den)
    # cpu and memory bands with the same scale_in/scale_out ratio num/den
    (ci, co), (mi, mo) = (num * k1, den * k1), (num * k2, den * k2)
    assume(co <= 100 and mo <= 100)
    thr = {"cpu_scale_in": ci, "cpu_scale_out": co, "memory_scale_in": mi, "memory_scale_out": mo}
    band = hp.plan_band(thr)
    assert band["approximated"] == []
    _check_band(thr, band, hp.METRICS)


def _controller_acts(util, target, up, down):
    """The HPA controller's test (pkg/controller/podautoscaler/replica_calculator.go):
    hold while (1-d) <= util/T <= (1+u), utilisation an integer percentage."""
    ratio = float(util) / float(target)
    if ratio > 1.0 + float(up):
        return "out"
    if ratio < 1.0 - float(down):
        return "in"
    return "hold"


@settings(max_examples=300, deadline=None)
@given(_thresholds())
def test_controller_holds_inside_the_band_and_acts_one_point_beyond(thr):
    band = hp.plan_band(thr, ["cpu"])
    t, up, down = band["targets"]["cpu"], band["scale_up_tolerance"], band["scale_down_tolerance"]
    low, high = thr["cpu_scale_in"], thr["cpu_scale_out"]
    # Strictly inside the band it holds. Exactly on a threshold the controller compares
    # util/T with 1+u in float64, which may fall either side of an exact decimal.
    for util in range(low + 1, high):
        assert _controller_acts(util, t, up, down) == "hold", util
    assert _controller_acts(high, t, up, down) in ("hold", "out")
    assert _controller_acts(low, t, up, down) in ("hold", "in")
    if high < 100:
        assert _controller_acts(high + 1, t, up, down) == "out"
    if low > 1:
        assert _controller_acts(low - 1, t, up, down) == "in"


def test_fallback_targets_scale_out_and_slows_scale_in():
    band = hp.plan_fallback(hp.PAPER_TABLE3["sw64"], window_seconds=900)
    assert band["mode"] == "fallback"
    assert band["targets"] == {"cpu": 75, "memory": 80}
    body = hp.hpa_body({"namespace": "n", "name": "w", "kind": "Deployment"}, band, 1, 5)
    assert body["spec"]["behavior"] == {"scaleDown": {"stabilizationWindowSeconds": 900}}
    assert all("tolerance" not in str(r) for r in body["spec"]["behavior"].values())
    assert len(band["approximated"]) == 2 and "scale-in below about" in band["approximated"][0]


def test_no_metric_is_refused():
    with pytest.raises(hp.ThresholdError, match="metrics"):
        hp.plan_band(hp.PAPER_TABLE3["c86"], [])


# --- the HPA body and comparison ---------------------------------------------------------

def _body(band=None, **kw):
    band = band or hp.plan_band(hp.PAPER_TABLE3["c86"])
    return hp.hpa_body({"namespace": "ns", "name": "web", "kind": "Deployment"}, band, 2, 9,
                       family="c86", thresholds=hp.PAPER_TABLE3["c86"], **kw)


def test_body_carries_targets_tolerances_and_rate_policies():
    body = _body(scale_up={"policies": [{"type": "Pods", "value": 4, "period_seconds": 15}]},
                 scale_down={"stabilization_window_seconds": 0, "select_policy": "Min"})
    spec = body["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
    assert [m["resource"]["target"]["averageUtilization"] for m in spec["metrics"]] == [72, 76]
    assert spec["behavior"]["scaleUp"] == {
        "tolerance": "0.25", "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}]}
    assert spec["behavior"]["scaleDown"] == {
        "tolerance": "0.375", "stabilizationWindowSeconds": 0, "selectPolicy": "Min"}
    assert body["metadata"]["labels"][hp.FAMILY_LABEL] == "c86"


def test_stored_hpa_with_server_defaults_and_canonical_quantities_needs_no_apply():
    desired = _body()
    stored = json.loads(json.dumps(desired))
    stored["metadata"]["resourceVersion"] = "42"
    stored["spec"]["behavior"]["scaleUp"]["tolerance"] = "250m"
    stored["spec"]["behavior"]["scaleUp"]["selectPolicy"] = "Max"
    stored["spec"]["behavior"]["scaleDown"]["tolerance"] = "375m"
    stored["status"] = {"currentReplicas": 2}
    assert not hp.needs_apply(desired, stored)


def test_changed_target_or_dropped_policy_needs_apply():
    desired = _body()
    stored = json.loads(json.dumps(desired))
    stored["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] = 50
    assert hp.needs_apply(desired, stored)
    # we stop setting a policy: only the hash annotation can tell
    with_policy = _body(scale_up={"select_policy": "Max"})
    assert hp.needs_apply(desired, json.loads(json.dumps(with_policy)))
    assert hp.needs_apply(desired, None)


def test_spec_hash_ignores_nothing_we_set():
    assert _body()["metadata"]["annotations"][hp.HASH_ANNOTATION] != \
        _body(scale_down={"select_policy": "Min"})["metadata"]["annotations"][hp.HASH_ANNOTATION]


def test_has_tolerance():
    assert hp.has_tolerance(_body())
    assert not hp.has_tolerance({"spec": {"behavior": {"scaleDown": {"policies": []}}}})


def test_the_documented_defaults_are_the_products():
    """The module's documentation and docs/modules/hpa_thresholds.md show Table 3 to users;
    they are copies for reading, kept equal to the product's one table."""
    import os
    import re

    import yaml

    from ansible_collections.xinchuang.cloud.plugins.modules import hpa_thresholds as module

    def rows(pairs):
        return dict((fam, {"cpu_scale_out": int(a), "cpu_scale_in": int(b),
                           "memory_scale_out": int(c), "memory_scale_in": int(d)})
                    for fam, a, b, c, d in pairs)

    doc = " ".join(yaml.safe_load(module.DOCUMENTATION)["options"]["thresholds"]["description"])
    prose = doc[doc.index("Defaults (Table 3):"):]
    assert rows(re.findall(r"(\w+) (\d+)/(\d+)(?: CPU)?, (\d+)/(\d+)", prose)) == hp.PAPER_TABLE3
    path = os.path.join(paper.ROOT, "docs", "modules", "hpa_thresholds.md")
    with open(path) as fh:
        table = re.findall(r"^ *\| (\w+) +\| (\d+) / (\d+) +\| (\d+) / (\d+) +\|$", fh.read(), re.M)
    assert rows(table) == hp.PAPER_TABLE3
