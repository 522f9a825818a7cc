"""Every chart under charts/ (the app store's, roles/appstore) against the real tools: Helm built
from upstream source (the bundle's ``helm`` row, plugins/module_utils/bundle/policy.py) and the
test bed's API server.

- ``helm lint --strict`` passes, for each application chart and for the library of their helpers
  (charts/common);
- what ``helm template`` renders, with the values the role gives (image and kubernetes.io/arch
  affinity from plugins/plugin_utils/appstore/appstore.py) and with persistence on, is accepted by the API
  server (``kubectl apply --dry-run=server``) into a namespace that warns on anything short of Pod
  Security ``restricted``, with no such warning;
- a bad value is rejected by the chart's values.schema.json, naming the value.
"""

import json
import os
import subprocess
import uuid

import pytest
import yaml

from ansible_collections.xinchuang.cloud.plugins.plugin_utils.appstore import appstore

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def chart_type(name):
    with open(os.path.join(ROOT, "charts", name, "Chart.yaml")) as fh:
        return yaml.safe_load(fh).get("type", "application")


# The application charts; charts/common is the library of their helpers (type: library), which
# Helm renders only through a chart that depends on it.
CHARTS = sorted(d for d in os.listdir(os.path.join(ROOT, "charts"))
                if os.path.isfile(os.path.join(ROOT, "charts", d, "Chart.yaml")) and chart_type(d) == "application")
CATALOGUE = yaml.safe_load(open(os.path.join(ROOT, "roles", "appstore", "defaults", "main.yml")))["appstore_catalogue"]


@pytest.fixture(scope="module")
def restricted_namespace(testbed):
    name = "appstore-charts-" + uuid.uuid4().hex[:6]
    testbed.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {
        "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/warn": "restricted"}}},
        check=True)
    yield name
    testbed.kubectl("delete", "namespace", name, "--wait=false")


def run(*args, stdin=None):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120, input=stdin, check=False)


def test_every_chart_has_a_catalogue_entry_and_the_first_four_are_there():
    assert {"nginx", "redis", "postgresql", "tomcat"} <= set(CHARTS)
    for chart in CHARTS:
        entries = [n for n, e in CATALOGUE.items() if e["chart"] == chart]
        assert entries, "charts/%s is in no appstore_catalogue entry" % chart


@pytest.mark.parametrize("chart", CHARTS)
def test_the_chart_passes_helm_lint_strict(helm, chart):
    proc = run(helm, "lint", "--strict", os.path.join(ROOT, "charts", chart))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_library_of_the_helpers_passes_helm_lint_strict(helm):
    assert chart_type("common") == "library" and "common" not in CHARTS
    proc = run(helm, "lint", "--strict", os.path.join(ROOT, "charts", "common"))
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("chart", CHARTS)
def test_what_the_chart_renders_with_the_roles_values_is_accepted_as_restricted(
        helm, testbed, restricted_namespace, chart, tmp_path):
    name = [n for n, e in CATALOGUE.items() if e["chart"] == chart][0]
    plan = appstore.install_plan([{"name": name, "families": ["c86", "arm"]}], CATALOGUE, "registry.local:5000")
    values = plan[0]["values"]
    if "persistence" in yaml.safe_load(open(os.path.join(ROOT, "charts", chart, "values.yaml"))):
        values = dict(values, persistence={"enabled": True, "size": "1Gi"})
    values_file = tmp_path / "values.json"
    values_file.write_text(json.dumps(values))
    rendered = run(helm, "template", name, os.path.join(ROOT, "charts", chart), "--namespace", restricted_namespace,
                   "-f", str(values_file))
    assert rendered.returncode == 0, rendered.stderr
    objects = [o for o in yaml.safe_load_all(rendered.stdout) if o]
    workloads = [o for o in objects if o["kind"] in ("Deployment", "StatefulSet")]
    assert len(workloads) == 1
    pod = workloads[0]["spec"]["template"]["spec"]
    assert pod["affinity"] == values["affinity"]
    assert pod["containers"][0]["image"] == plan[0]["image"]
    assert all(c.get("resources", {}).get("limits") and c.get("readinessProbe") and c.get("livenessProbe")
               for c in pod["containers"])
    proc = testbed.kubectl("apply", "--dry-run=server", "-n", restricted_namespace, "-f", "-", input=rendered.stdout)
    assert proc.returncode == 0, proc.stderr
    assert "PodSecurity" not in proc.stderr, proc.stderr
    assert proc.stdout.count("(server dry run)") == len(objects), proc.stdout


@pytest.mark.parametrize("chart", CHARTS)
@pytest.mark.parametrize("setting,words", [
    ("service.port=70000", ["/service/port", "65"]),
    ("replicaCount=-1", ["/replicaCount"]),
    ("resources.limits.memory=lots", ["/resources/limits/memory", "lots"]),
    ("securityContext.runAsUser=0", ["/securityContext/runAsUser"]),
    ("replica_count=2", ["replica_count"]),
])
def test_a_bad_value_is_rejected_by_the_schema_naming_it(helm, chart, setting, words):
    proc = run(helm, "template", "x", os.path.join(ROOT, "charts", chart), "--set", setting)
    assert proc.returncode != 0 and "values don't meet the specifications of the schema" in proc.stderr
    for word in words:
        assert word in proc.stderr, proc.stderr
