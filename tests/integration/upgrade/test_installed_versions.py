"""The upgrade's reading of installed versions (plugins/plugin_utils/cluster/upgrade.py) on the bundle's
real binaries: every Kubernetes and etcd program of the bundle (amd64, and the arm64 node
programs, run through binfmt) prints its version as the parser expects, that version is the one the bundle's
MANIFEST.tsv records, and a plan to that bundle from hosts running those binaries has nothing to
do. The bundle is the one `hack/test.sh binaries` builds (hack/bundle.sh)."""

import os
import subprocess

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.bundle import policy as bundle_policy
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.cluster import upgrade

XC_CACHE = os.environ.get("XC_CACHE", "/var/cache/xinchuang")
VERSION = next(c.version for c in bundle_policy.COMPONENTS if c.binary == "kube-apiserver")
BUNDLE = os.path.join(XC_CACHE, "bundle", VERSION)
GOARCHES = ("amd64", "arm64")


def manifest(goarch):
    path = os.path.join(BUNDLE, goarch, bundle_policy.MANIFEST)
    if not os.path.exists(path):
        pytest.fail("no bundle for %s (%s missing): build it with hack/bundle.sh" % (goarch, path))
    rows = {}
    with open(path) as fh:
        for line in fh:
            if line.startswith("#") or not line.strip():
                continue
            component, version, _source, file, _sha = line.rstrip("\n").split("\t")
            rows[os.path.basename(file)] = version
    return rows


def printed(goarch, binary):
    argv = [os.path.join(BUNDLE, goarch, "bin", binary)] + (["version", "--client"] if binary == "kubectl" else ["--version"])
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("goarch", GOARCHES)
def test_each_program_prints_the_version_its_manifest_records(goarch):
    rows = manifest(goarch)
    # The lines the kubernetes role's round trip prints: the binary and its first line.
    lines = ["%s;%s" % (b, printed(goarch, b).splitlines()[0]) for b in upgrade.COMPONENT_PART if b in rows]
    read = upgrade.installed_versions(lines)
    expected = dict((b, "v" + v.lstrip("v")) for b, v in rows.items() if b in upgrade.COMPONENT_PART)
    assert read == expected
    # Every GOARCH's bundle holds the node's programs; amd64's (the full GOARCH) all of them.
    want = set(upgrade.COMPONENT_PART) if goarch == "amd64" else {"kubelet", "kube-proxy"}
    assert want <= set(read), "the bundle of %s lacks %s" % (goarch, sorted(want - set(read)))


def test_hosts_running_the_bundle_have_nothing_to_do_and_older_ones_move_in_order():
    rows = manifest("amd64")
    versions = dict((b, upgrade.installed_version(b, printed("amd64", b))) for b in upgrade.COMPONENT_PART)
    target = {"kubernetes": versions["kube-apiserver"], "etcd": versions["etcd"]}
    assert target["kubernetes"] == VERSION and target["etcd"] == "v" + rows["etcd"].lstrip("v")
    parts = list(upgrade.PART_NAMES)
    plan = upgrade.upgrade_plan(target, [{"name": "cp1", "parts": parts, "versions": versions}])
    assert plan["problems"] == [] and plan["changes"] == []
    major, minor, _patch = upgrade.release(VERSION, "the bundle")
    older = dict((b, v if b == "etcd" else "v%d.%d.0" % (major, minor - 1)) for b, v in versions.items())
    plan = upgrade.upgrade_plan(target, [{"name": "cp1", "parts": parts, "versions": older}])
    assert plan["problems"] == []
    assert plan["phases"] == {"etcd": [], "control_plane": ["cp1"], "node": ["cp1"]}
