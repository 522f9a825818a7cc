"""The real HPA controller acting on bands made by hpa_thresholds, with real metrics.

kwok emulates each node's kubelet /metrics/resource from the Pod annotations
kwok.x-k8s.io/usage-cpu and kwok.x-k8s.io/usage-memory; metrics-server scrapes the nodes and
serves metrics.k8s.io; kube-controller-manager's HPA controller reads it. Nothing here fakes
a metric value on the way: the test only sets the simulated usage of each Pod.

Two families with different Table 3 rows get the same load at the same time:
  c86  (CPU 90/45, memory 95/50): T = 72 % CPU, 76 % memory, u = 0.25, d = 0.375
  mips (CPU 70/30, memory 70/30): T = 50 % both, u = d = 0.4
  phase 1  CPU 60 %, memory 55 %  both hold         (inside both bands)
  phase 2  CPU 80 %               mips scales out   (80 > 70), c86 holds (80 < 90)
  phase 3  CPU 40 %, memory 40 %  c86 scales in     (40 < 45, memory 40 < 47.5), mips holds
"""

import json
import time

import pytest

from tests.integration.ansible_run import run_module
from tests.integration.testbed.helpers import deployment, unique_namespace

pytestmark = pytest.mark.slow

MODULE = "xinchuang.cloud.hpa_thresholds"
REQUESTS = {"cpu": "1", "memory": "1000Mi"}  # so 600m CPU = 60 %, 550Mi = 55 %
START = 3
MAX = 6
FAMILIES = ("c86", "mips")


@pytest.fixture(scope="module")
def metrics_bed(testbed_metrics):
    """The testbed with metrics-server. The metrics path works here (kwok usage ->
    metrics-server -> metrics.k8s.io): when it is not Available the test fails, since a
    fake value would prove nothing and a skip would hide the missing part."""
    deadline = time.monotonic() + 120
    last = ""
    while time.monotonic() < deadline:
        proc = testbed_metrics.kubectl("get", "apiservice", "v1beta1.metrics.k8s.io", "-o", "json")
        if proc.returncode == 0:
            conds = json.loads(proc.stdout).get("status", {}).get("conditions") or []
            if any(c["type"] == "Available" and c["status"] == "True" for c in conds):
                return testbed_metrics
            last = json.dumps(conds)
        else:
            last = proc.stderr
        time.sleep(3)
    pytest.fail("metrics.k8s.io is not Available on the testbed (%s); the controller test "
                "needs kwok usage + metrics-server: see .testbed/logs/metrics-server.log"
                % last[-300:])


def _set_usage(bed, ns, app, cpu_pct, mem_pct):
    """Simulated usage of every current Pod of app (new Pods get it on the next call)."""
    bed.kubectl("annotate", "pods", "-n", ns, "-l", "app=" + app, "--overwrite",
                "kwok.x-k8s.io/usage-cpu=%dm" % (cpu_pct * 10),
                "kwok.x-k8s.io/usage-memory=%dMi" % (mem_pct * 10), check=True)


def _hpa(bed, ns, app):
    return bed.get_json("hpa.v2.autoscaling", app, "-n", ns)


def _current(hpa):
    out = {}
    for metric in (hpa.get("status") or {}).get("currentMetrics") or []:
        res = metric.get("resource") or {}
        value = (res.get("current") or {}).get("averageUtilization")
        if value is not None:
            out[res["name"]] = value
    return out


def _replicas(bed, ns, app):
    return bed.get_json("deployment", app, "-n", ns)["spec"]["replicas"]


def _drive(bed, ns, usage, until, timeout, what):
    """Keep every Pod at ``usage`` {app: (cpu, mem)} and poll until ``until()`` is true."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        for app, (cpu, mem) in usage.items():
            _set_usage(bed, ns, app, cpu, mem)
        last = until()
        if last:
            return last
        time.sleep(5)
    state = dict((app, {"replicas": _replicas(bed, ns, app), "current": _current(_hpa(bed, ns, app)),
                        "conditions": [(c["type"], c["status"], c.get("reason"))
                                       for c in (_hpa(bed, ns, app).get("status") or {})
                                       .get("conditions") or []]})
                 for app in usage)
    raise AssertionError("timed out after %ss waiting for %s; state: %s" % (timeout, what, state))


def _seen(bed, ns, app, cpu, mem=None):
    cur = _current(_hpa(bed, ns, app))
    ok = abs(cur.get("cpu", -100) - cpu) <= 3
    if mem is not None:
        ok = ok and abs(cur.get("memory", -100) - mem) <= 3
    return ok


def test_controller_holds_in_band_scales_out_above_and_in_below_per_family(metrics_bed):
    bed = metrics_bed
    ns = unique_namespace(bed, "hpa-ctl")
    apps = dict((f, "load-%s" % f) for f in FAMILIES)
    try:
        bed.apply({"apiVersion": "v1", "kind": "List", "items": [
            deployment(apps[f], ns, START, family=f, requests=REQUESTS,
                       annotations={"kwok.x-k8s.io/usage-cpu": "600m",
                                    "kwok.x-k8s.io/usage-memory": "550Mi"})
            for f in FAMILIES]})
        res = run_module(MODULE, {
            "kubeconfig": bed.kubeconfig, "namespace": ns, "names": sorted(apps.values()),
            "min_replicas": 1, "max_replicas": MAX,
            # act on every sync: no scale-down stabilisation, so the band alone decides
            "scale_down": {"stabilization_window_seconds": 0},
        })
        assert not res.get("failed"), res.get("msg")
        bands = dict((w["name"], w) for w in res["workloads"])
        assert bands[apps["c86"]]["target"] == {"cpu": 72, "memory": 76}
        assert bands[apps["mips"]]["target"] == {"cpu": 50, "memory": 50}

        # phase 1: inside both bands -> both hold at START for several controller syncs
        both = dict((apps[f], (60, 55)) for f in FAMILIES)
        _drive(bed, ns, both, lambda: all(_seen(bed, ns, a, 60, 55) for a in apps.values()),
               240, "the HPAs to see 60 % CPU / 55 % memory")
        for _period in range(4):  # 4 x 15 s: the controller's sync period is 15 s
            _drive(bed, ns, both, lambda: True, 5, "")
            time.sleep(10)
            assert [_replicas(bed, ns, a) for a in sorted(apps.values())] == [START, START]

        # phase 2: 80 % CPU -> above mips' 70, below c86's 90
        load = dict((apps[f], (80, 55)) for f in FAMILIES)
        _drive(bed, ns, load, lambda: _replicas(bed, ns, apps["mips"]) > START, 240,
               "mips to scale out above its 70 % CPU")
        _drive(bed, ns, load, lambda: _seen(bed, ns, apps["c86"], 80), 120,
               "c86 to see 80 % CPU")
        for _period in range(3):
            _drive(bed, ns, load, lambda: True, 5, "")
            time.sleep(10)
            assert _replicas(bed, ns, apps["c86"]) == START, "c86 scaled at 80 % CPU"
        mips_after_out = _replicas(bed, ns, apps["mips"])

        # phase 3: 40 % CPU and memory -> below c86's 45 / 47.5, inside mips' 30..70
        low = dict((apps[f], (40, 40)) for f in FAMILIES)
        _drive(bed, ns, low, lambda: _replicas(bed, ns, apps["c86"]) < START, 240,
               "c86 to scale in below its 45 % CPU")
        _drive(bed, ns, low, lambda: _seen(bed, ns, apps["mips"], 40, 40), 120,
               "mips to see 40 % CPU / memory")
        for _period in range(3):
            _drive(bed, ns, low, lambda: True, 5, "")
            time.sleep(10)
            assert _replicas(bed, ns, apps["mips"]) >= mips_after_out, "mips scaled in at 40 %"
    finally:
        bed.kubectl("delete", "namespace", ns, "--wait=false")
