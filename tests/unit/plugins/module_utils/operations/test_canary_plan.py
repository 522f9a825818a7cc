"""What a release asks for: weight validation and normalisation, A/B rules, which shares
rise, backends of the cross-architecture preset, step plans, resume and the release window
(plugins/module_utils/operations/canary_plan.py)."""

import datetime

import pytest
from hypothesis import given, strategies as st

from ansible_collections.xinchuang.cloud.plugins.module_utils.operations import canary_plan as policy
from ansible_collections.xinchuang.cloud.plugins.module_utils.operations.canary_plan import CanaryPolicyError


# ---------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------

def test_validate_weights_keeps_order_and_converts_templated_strings():
    assert list(policy.validate_weights({"b": "90", "a": 10.0})) == ["b", "a"]
    assert policy.validate_weights({"b": "90", "a": 10.0}) == {"b": 90, "a": 10}


@pytest.mark.parametrize("weights,message", [
    ({"web": -1}, "negative"),
    ({"web": 0, "other": 0}, "every weight is 0"),
    ({"web": 1.5}, "not an integer"),
    ({"web": "ten"}, "not an integer"),
    ({"web": True}, "boolean"),
    ({}, "must map each backend"),
    ([("web", 1)], "must map each backend"),
    ({"Web_C86": 1}, "not a Service name"),
])
def test_bad_weights_are_refused_with_the_reason(weights, message):
    with pytest.raises(CanaryPolicyError, match=message):
        policy.validate_weights(weights)


def test_nginx_refuses_more_than_two_backends_and_says_why():
    with pytest.raises(CanaryPolicyError, match="exactly two backends.*got 3.*gateway or istio for more"):
        policy.validate_weights({"a": 1, "b": 1, "c": 1}, "nginx")
    with pytest.raises(CanaryPolicyError, match="got 1"):
        policy.validate_weights({"a": 1}, "nginx")


def test_gateway_limits_of_the_crd_are_enforced_before_the_server_sees_them():
    with pytest.raises(CanaryPolicyError, match="HTTPRoute maximum"):
        policy.validate_weights({"a": 1000001}, "gateway")
    with pytest.raises(CanaryPolicyError, match="at most 16"):
        policy.validate_weights(dict(("b%d" % i, 1) for i in range(17)), "gateway")


def test_unknown_provider_is_named():
    with pytest.raises(CanaryPolicyError, match="'envoy'"):
        policy.validate_weights({"a": 1}, "envoy")


# ---------------------------------------------------------------------------
# normalisation
# ---------------------------------------------------------------------------

def test_istio_normalises_to_100_with_largest_remainder():
    assert policy.normalise("istio", {"a": 1, "b": 2}) == {"a": 33, "b": 67}
    assert policy.normalise("istio", {"a": 1, "b": 1, "c": 1}) == {"a": 34, "b": 33, "c": 33}
    assert policy.normalise("istio", {"a": 90, "b": 10}) == {"a": 90, "b": 10}
    assert policy.normalise("istio", {"a": 0, "b": 5}) == {"a": 0, "b": 100}


def test_nginx_normalises_to_its_weight_total():
    assert policy.normalise("nginx", {"s": 975, "c": 25}, 1000) == {"s": 975, "c": 25}
    assert policy.normalise("nginx", {"s": 9, "c": 1}, 1000) == {"s": 900, "c": 100}
    assert policy.normalise("nginx", {"s": 2, "c": 1}) == {"s": 67, "c": 33}


def test_gateway_keeps_weights_as_given():
    assert policy.normalise("gateway", {"a": 2, "b": 1}) == {"a": 2, "b": 1}


@given(st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True), st.integers(0, 10 ** 6),
                       min_size=1, max_size=16).filter(lambda d: sum(d.values()) > 0),
       st.integers(1, 10000))
def test_largest_remainder_sums_to_total_and_stays_within_one_of_the_quota(weights, total):
    out = policy.largest_remainder(weights, total)
    assert sum(out.values()) == total
    whole = sum(weights.values())
    for name, w in weights.items():
        quota = w * total / whole
        assert abs(out[name] - quota) < 1 + 1e-9
        if w == 0:
            assert out[name] == 0
    assert list(out) == list(weights)


# ---------------------------------------------------------------------------
# match rules
# ---------------------------------------------------------------------------

def test_match_rules_are_checked_against_the_weights():
    w = {"web-c86": 90, "web-arm": 10}
    with pytest.raises(CanaryPolicyError, match="not one of the weighted"):
        policy.validate_match([{"backend": "other", "header": "x"}], w, "gateway")
    with pytest.raises(CanaryPolicyError, match="exactly one of header or cookie"):
        policy.validate_match([{"backend": "web-arm", "header": "x", "cookie": "y"}], w, "gateway")
    with pytest.raises(CanaryPolicyError, match="one canary-by-header"):
        policy.validate_match([{"backend": "web-arm", "header": "x"},
                               {"backend": "web-arm", "header": "y"}], w, "nginx")
    assert policy.validate_match(None, w, "gateway") is None
    assert policy.validate_match([], w, "gateway") == []


def test_rising_backends_compare_shares_not_raw_weights():
    # gateway: {c86: 1} -> {c86: 90, arm: 10} lowers c86's share from 100 % to 90 %
    assert policy.rising_backends({"c86": 1}, {"c86": 90, "arm": 10}) == ["arm"]
    assert policy.rising_backends({"c86": 90, "arm": 10}, {"c86": 50, "arm": 50}) == ["arm"]
    assert policy.rising_backends({"c86": 50, "arm": 50}, {"c86": 90, "arm": 10}) == ["c86"]
    assert policy.rising_backends({"c86": 9, "arm": 1}, {"c86": 90, "arm": 10}) == []
    assert policy.rising_backends({}, {"c86": 1, "arm": 0}) == ["c86"]


def test_selector_matches():
    assert policy.selector_matches({"app": "a"}, {"app": "a", "v": "1"})
    assert not policy.selector_matches({"app": "a"}, {"app": "b"})
    assert not policy.selector_matches({}, {"app": "a"})


# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# step plans, rollback, resume
# ---------------------------------------------------------------------------

def test_step_plan_10_50_100():
    assert policy.step_plan("c86", "arm", [10, 50, 100]) == [
        {"c86": 90, "arm": 10}, {"c86": 50, "arm": 50}, {"c86": 0, "arm": 100}]


def test_step_plan_always_ends_with_promotion():
    assert policy.step_plan("s", "c", [5, 25])[-1] == {"s": 0, "c": 100}


@pytest.mark.parametrize("steps", [[], [50, 10], [0, 50], [10, 10], [10, 101], "10,50"])
def test_bad_steps_are_refused(steps):
    with pytest.raises(CanaryPolicyError):
        policy.step_plan("s", "c", steps)


def test_rollback_goes_to_the_previous_step_or_all_stable():
    plan = policy.step_plan("s", "c", [10, 50, 100])
    assert policy.rollback_weights(plan, 1) == {"s": 90, "c": 10}
    assert policy.rollback_weights(plan, 0) == {"s": 100, "c": 0}


def test_resume_index_only_for_the_same_release_in_progress():
    steps = [10, 50, 100]
    rid = policy.release_id("s", "c", steps)
    assert rid == "s->c@10,50,100"
    notes = {policy.ANNOTATION_RELEASE: rid, policy.ANNOTATION_STEP: "2", policy.ANNOTATION_STATE: "in-progress"}
    assert policy.resume_index(notes, "s", "c", steps) == 1
    assert policy.resume_index(dict(notes, **{policy.ANNOTATION_STATE: "promoted"}), "s", "c", steps) == 3
    assert policy.resume_index(dict(notes, **{policy.ANNOTATION_STATE: "rolled-back"}), "s", "c", steps) == 0
    assert policy.resume_index(notes, "s", "c", [10, 100]) == 0
    assert policy.resume_index({}, "s", "c", steps) == 0


def test_the_request_is_checked_as_a_whole_before_any_request():
    weights, match, total = policy.validate_request(
        "nginx", {"web-c86": "90", "web-arm": 10},
        [{"backend": "web-arm", "cookie": "canary"}], 1000)
    assert weights == {"web-c86": 90, "web-arm": 10} and total == 1000
    assert match == [{"backend": "web-arm", "header": None, "cookie": "canary", "value": None,
                      "type": "exact"}]
    assert policy.validate_request("gateway", None, None, None) == (None, None, None)
    with pytest.raises(CanaryPolicyError, match="match needs weights"):
        policy.validate_request("gateway", None, [{"backend": "a", "header": "x"}], None)
    with pytest.raises(CanaryPolicyError, match="nginx provider; drop it for provider istio"):
        policy.validate_request("istio", {"a": 1}, None, 100)
    with pytest.raises(CanaryPolicyError, match="positive integer, got 0"):
        policy.validate_request("nginx", {"a": 1, "b": 1}, None, 0)


# ---------------------------------------------------------------------------
# the release plan the canary_release role runs (through the canary_* filters)
# ---------------------------------------------------------------------------

def test_release_plan_has_each_steps_weights_and_the_step_to_roll_back_to():
    release = policy.release_plan("web-c86", "web-arm", [10, 50])
    assert release["release"] == "web-c86->web-arm@10,50"
    assert release["percents"] == [10, 50, 100] and release["steps"] == [10, 50]
    assert [s["number"] for s in release["plan"]] == [1, 2, 3]
    # the same weights as step_plan, and rollback_weights' answer for each step
    weights = policy.step_plan("web-c86", "web-arm", [10, 50])
    assert [s["weights"] for s in release["plan"]] == weights
    for index, step in enumerate(release["plan"]):
        assert step["rollback"] == {"number": index, "weights": policy.rollback_weights(
            weights, index, "web-c86", "web-arm")}
    assert release["plan"][0]["rollback"]["weights"] == {"web-c86": 100, "web-arm": 0}


@pytest.mark.parametrize("stable,canary", [("web", "web"), ("", "web"), ("web", None)])
def test_release_plan_needs_two_different_services(stable, canary):
    with pytest.raises(CanaryPolicyError, match="two different Services"):
        policy.release_plan(stable, canary, [10])


def test_release_annotations_record_release_step_and_state():
    assert policy.release_annotations("s->c@10", 2, "in-progress") == {
        policy.ANNOTATION_RELEASE: "s->c@10", policy.ANNOTATION_STEP: "2",
        policy.ANNOTATION_STATE: "in-progress"}
    with pytest.raises(CanaryPolicyError, match="'done' must be one of in-progress"):
        policy.release_annotations("s->c@10", 2, "done")


def test_what_the_plan_writes_is_what_resume_reads():
    release = policy.release_plan("s", "c", [10, 50])
    notes = policy.release_annotations(release["release"], 2, "in-progress")
    assert policy.resume_index(notes, "s", "c", [10, 50]) == 1
    assert policy.resume_index(notes, "s", "c", [10, 50], resume=False) == 0
    done = policy.release_annotations(release["release"], len(release["plan"]), "promoted")
    assert policy.resume_index(done, "s", "c", [10, 50]) == len(release["plan"])


# ---------------------------------------------------------------------------
# backends of the cross_arch preset
# ---------------------------------------------------------------------------

def arch_deployment(name, goarch, version="1.0", app="web"):
    labels = {"app": name, "app.kubernetes.io/name": app, "app.kubernetes.io/version": version}
    return {"metadata": {"name": name, "labels": dict(labels)},
            "spec": {"template": {"metadata": {"labels": labels},
                                  "spec": {"nodeSelector": {"kubernetes.io/arch": goarch}}}}}


def arch_service(name, selector):
    return {"metadata": {"name": name}, "spec": {"selector": selector}}


def test_cross_arch_preset_picks_one_deployment_per_architecture_and_its_service():
    deployments = [arch_deployment("web-c86", "amd64"), arch_deployment("web-arm", "arm64"),
                   arch_deployment("web-la", "loong64"), arch_deployment("db-arm", "arm64", app="db")]
    services = [arch_service("web-c86", {"app": "web-c86"}), arch_service("web-arm", {"app": "web-arm"}),
                arch_service("headless", {})]
    # any name of a family: the model gives the GOARCH the node label carries
    assert policy.cross_arch_backends(deployments, services, "web", "x86_64", "aarch64") == {
        "stable": {"deployment": "web-c86", "service": "web-c86"},
        "canary": {"deployment": "web-arm", "service": "web-arm"}}


def test_cross_arch_preset_refuses_different_versions_naming_what_it_found():
    deployments = [arch_deployment("web-c86", "amd64"), arch_deployment("web-arm", "arm64", "2.0")]
    with pytest.raises(CanaryPolicyError) as err:
        policy.cross_arch_backends(deployments, [], "web", "c86", "arm")
    text = str(err.value)
    assert "same app.kubernetes.io/version" in text and "['web-c86']" in text and "['web-arm']" in text
    # naming the version picks it
    deployments.append(arch_deployment("web-c86-v2", "amd64", "2.0"))
    services = [arch_service(n, {"app": n}) for n in ("web-c86", "web-arm", "web-c86-v2")]
    assert policy.cross_arch_backends(deployments, services, "web", "c86", "arm", "2.0")[
        "stable"]["deployment"] == "web-c86-v2"


def test_cross_arch_preset_needs_exactly_one_service_per_deployment():
    deployments = [arch_deployment("web-c86", "amd64"), arch_deployment("web-arm", "arm64")]
    services = [arch_service("web-c86", {"app": "web-c86"}),
                arch_service("all", {"app.kubernetes.io/name": "web"})]
    with pytest.raises(CanaryPolicyError, match="web-c86 has \\['web-c86', 'all'\\], web-arm has \\['all'\\]"):
        policy.cross_arch_backends(deployments, services, "web", "c86", "arm")


# ---------------------------------------------------------------------------
# release window
# ---------------------------------------------------------------------------

MONDAY_0230 = datetime.datetime(2026, 11, 30, 2, 30)


@pytest.mark.parametrize("start,end,days,is_open", [
    ("", "", [], True),
    ("01:00", "05:00", [], True),
    ("02:30", "05:00", [], True),  # the start is inside
    ("01:00", "02:30", [], False),  # the end is not
    ("23:00", "03:00", [], True),  # crossing midnight
    ("03:00", "23:00", [], False),
    ("", "", ["Mon"], True),
    ("", "", ["Sat", "Sun"], False),
    ("01:00", "05:00", ["Tue"], False),
])
def test_release_window(start, end, days, is_open):
    state = policy.window_state(MONDAY_0230, start, end, days)
    assert state["open"] is is_open and state["now"] == "Mon 02:30"
    if not is_open:
        assert state["message"].startswith("Outside the release window: it is Mon 02:30 UTC")
        assert "Nothing was changed" in state["message"]


@pytest.mark.parametrize("start,end,days", [
    ("1:00", "05:00", []), ("01:00", "", []), ("24:00", "05:00", []), ("", "", ["Monday"]),
])
def test_malformed_window_is_refused_naming_it(start, end, days):
    with pytest.raises(CanaryPolicyError, match="HH:MM .*got"):
        policy.window_state(MONDAY_0230, start, end, days)
