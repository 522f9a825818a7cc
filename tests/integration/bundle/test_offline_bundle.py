"""The product's bundle builder: playbooks/bundle.yml (module xinchuang.cloud.offline_bundle)
run by ansible-playbook on this machine, against the real build cache.

The binaries stage of ``make test`` builds the cache first (hack/bundle.sh goes through the
same builder), so these runs lay out with ``bundle_build: false`` except where a test gives an
empty cache of its own to see the builder reach for Go and the module proxy.
"""

import os
import subprocess
import sys

import pytest
import yaml

from tests.integration.ansible_run import ansible_playbook
from tests.proof import elf

XC_CACHE = os.environ.get("XC_CACHE", "/var/cache/xinchuang")
PLAYBOOK = "playbooks/bundle.yml"
VERSION = "v1.37.2"  # the Kubernetes version of the component table (unit tests pin the table)

pytestmark = pytest.mark.slow


def bundle(dest, check=False, diff=False, extra_env=None, **bundle_vars):
    """Run playbooks/bundle.yml; return (result of its module task, stats, process)."""
    extra = {"ansible_python_interpreter": sys.executable, "bundle_dest": str(dest),
             "bundle_build": False, "bundle_cache_dir": XC_CACHE}
    extra.update(("bundle_" + k, v) for k, v in bundle_vars.items())
    report, proc = ansible_playbook(["-i", "localhost,", "-c", "local", PLAYBOOK], check=check,
                                    diff=diff, extra_vars=extra, extra_env=extra_env, timeout=900)
    task = report["plays"][0]["tasks"][0]
    return task["hosts"]["localhost"], report["stats"]["localhost"], proc


def files_under(root):
    out = []
    for folder, _dirs, names in os.walk(str(root)):
        out += [os.path.relpath(os.path.join(folder, n), str(root)) for n in names]
    return sorted(out)


RUNTIME = dict(goarches=["c86", "kunpeng"], sets=["containerd", "cni"], registry=False)


def test_a_bundle_is_laid_out_once_with_checksums_and_programs_of_each_architecture(tmp_path):
    dest = tmp_path / "bundle"
    first, stats, proc = bundle(dest, **RUNTIME)
    assert stats["failures"] == 0, proc.stdout[-3000:]
    assert first["changed"] is True
    assert first["path"] == str(dest / VERSION)
    assert sorted(first["goarches"]) == ["amd64", "arm64"]  # names of the model, as GOARCHes
    for goarch in ("amd64", "arm64"):
        root = dest / VERSION / goarch
        listed = [line.split("\t") for line in (root / "MANIFEST.tsv").read_text().splitlines()
                  if not line.startswith("#")]
        assert sorted(f[3] for f in listed) == [
            "bin/containerd", "bin/containerd-shim-runc-v2", "bin/ctr", "bin/runc",
            "cni/bridge", "cni/host-local", "cni/loopback", "cni/portmap"]
        check = subprocess.run(["sha256sum", "-c", "--strict", "SHA256SUMS"], cwd=str(root),
                               capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stdout + check.stderr
        assert len(check.stdout.splitlines()) == len(listed)
        for _component, _version, _source, rel, _sha in listed:
            with open(str(root / rel), "rb") as fh:
                assert elf.machine_mismatch(fh.read(elf.HEADER_SIZE), goarch, rel) is None

    again, stats, _proc = bundle(dest, **RUNTIME)
    assert (again["changed"], again["built"], stats["changed"]) == (False, [], 0)
    checked, stats, _proc = bundle(dest, check=True, **RUNTIME)
    assert (checked["changed"], stats["changed"]) == (False, 0)


def test_check_mode_says_what_would_be_placed_and_writes_nothing(tmp_path):
    dest = tmp_path / "bundle"
    result, stats, proc = bundle(dest, check=True, diff=True, **RUNTIME)
    assert stats["failures"] == 0, proc.stdout[-3000:]
    assert result["changed"] is True and stats["changed"] == 1
    assert not dest.exists()
    after = [d["after"] for d in result["diff"]]
    assert len(after) == 2 and all("cni/bridge" in text for text in after)


def test_a_damaged_file_is_replaced_and_a_smaller_run_keeps_what_an_earlier_one_left(tmp_path):
    dest = tmp_path / "bundle"
    bundle(dest, goarches=["amd64"], sets=["containerd"], registry=False, runc=False)
    ctr = dest / VERSION / "amd64" / "bin" / "ctr"
    os.unlink(str(ctr))  # a hard link into the cache: unlink, never write through it
    ctr.write_bytes(b"\x7fELF damaged")
    result, _stats, _proc = bundle(dest, goarches=["amd64"], sets=["cni"], registry=False, runc=False)
    assert result["changed"] is True
    manifest = (dest / VERSION / "amd64" / "MANIFEST.tsv").read_text()
    assert "bin/ctr" in manifest and "cni/bridge" in manifest  # the containerd run's files stay
    # The damaged file was not this run's: SHA256SUMS says so, and the containerd run mends it.
    sums = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=str(dest / VERSION / "amd64"),
                          capture_output=True, text=True, check=False)
    assert sums.returncode != 0 and "bin/ctr: FAILED" in sums.stdout
    mended, _stats, _proc = bundle(dest, goarches=["amd64"], sets=["containerd"], registry=False, runc=False)
    assert mended["changed"] is True
    assert subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=str(dest / VERSION / "amd64"),
                          capture_output=True, check=False).returncode == 0


@pytest.mark.parametrize("bad, words", [
    (dict(goarches=["amd64", "sparc"]), ["'sparc'", "c86, arm, loongarch, sw64, mips"]),
    (dict(sets=["containerd", "kernel"]), ["'kernel'", "bundle", "cluster"]),
    (dict(kubernetes_version="v1.35.4"), ["'v1.35.4'", VERSION, "v1.36.3"]),
])
def test_bad_input_is_named_with_the_fix_before_anything_is_made(tmp_path, bad, words):
    dest = tmp_path / "bundle"
    result, stats, _proc = bundle(dest, **bad)
    assert stats["failures"] == 1
    for word in words:
        assert word in result["msg"], result["msg"]
    assert not dest.exists()


def test_without_build_a_missing_binary_is_named_and_nothing_is_placed(tmp_path):
    dest = tmp_path / "bundle"
    # An empty cache of its own: every binary is missing.
    result, stats, _proc = bundle(dest, cache_dir=str(tmp_path / "empty-cache"),
                                  goarches=["amd64"], sets=["cni"], registry=False, runc=False)
    assert stats["failures"] == 1
    assert "bridge (cni-plugins v1.10.0, amd64)" in result["msg"], result["msg"]
    assert "nothing was changed" in result["msg"]
    assert not dest.exists()


def test_sw64_without_the_vendor_toolchain_is_skipped_saying_how(tmp_path):
    dest = tmp_path / "bundle"
    result, stats, proc = bundle(dest, goarches=["sunway", "amd64"], sets=["cni"], registry=False,
                                 runc=False)
    assert stats["failures"] == 0, proc.stdout[-3000:]
    assert "sw64_goroot" in result["goarches"]["sw64"]["skipped"]
    assert any("sw64 skipped" in w for w in result.get("warnings", []))
    assert files_under(dest / VERSION) == ["amd64/MANIFEST.tsv", "amd64/SHA256SUMS", "amd64/cni/bridge",
                                           "amd64/cni/host-local", "amd64/cni/loopback",
                                           "amd64/cni/portmap"]


def test_building_without_go_says_so_and_how_to_fix(tmp_path):
    result, stats, _proc = bundle(tmp_path / "bundle", build=True, cache_dir=str(tmp_path / "cache"),
                                  go_binary=str(tmp_path / "no-go"), goarches=["amd64"],
                                  sets=["cni"], registry=False, runc=False)
    assert stats["failures"] == 1
    assert "no Go toolchain" in result["msg"] and "go_binary" in result["msg"], result["msg"]


@pytest.mark.parametrize("proxy, message", [
    ("http://127.0.0.1:9", "the Go module proxy did not answer"),
    ("off", "GOPROXY is 'off'"),
])
def test_building_with_an_unreachable_proxy_says_which_and_how_to_fix(tmp_path, proxy, message):
    result, stats, _proc = bundle(tmp_path / "bundle", build=True, cache_dir=str(tmp_path / "cache"),
                                  goarches=["amd64"], sets=["cni"], registry=False, runc=False,
                                  extra_env={"GOPROXY": proxy})
    assert stats["failures"] == 1
    assert message in result["msg"] and "GOPROXY" in result["msg"], result["msg"]
    assert not (tmp_path / "bundle").exists()


GATEWAY_API = dict(goarches=["amd64"], sets=["gateway-api"], registry=False, runc=False)


def crds_of(folder):
    """{file name: the CRD's group, plural and channel} of a folder of CRD manifests (one a file)."""
    out = {}
    for path in sorted(folder.iterdir()):
        doc = yaml.safe_load(path.read_text())
        assert doc["kind"] == "CustomResourceDefinition", path
        out[path.name] = (doc["spec"]["group"], doc["spec"]["names"]["plural"],
                          doc["metadata"]["annotations"]["gateway.networking.k8s.io/channel"])
    return out


def test_the_gateway_api_crds_are_fetched_from_their_module_and_laid_out_as_copies(tmp_path):
    dest, cache = tmp_path / "bundle", tmp_path / "cache"
    first, stats, proc = bundle(dest, build=True, cache_dir=str(cache), **GATEWAY_API)
    assert stats["failures"] == 0, proc.stdout[-3000:]
    assert first["changed"] is True and first["built"] == []  # nothing to compile
    root = dest / VERSION / "amd64"
    crds = crds_of(root / "manifests" / "gateway-api")
    assert {plural for _group, plural, _channel in crds.values()} >= {"gatewayclasses", "gateways", "httproutes"}
    assert {(group, channel) for group, _plural, channel in crds.values()} == {("gateway.networking.k8s.io", "standard")}
    listed = [line.split("\t") for line in (root / "MANIFEST.tsv").read_text().splitlines()
              if not line.startswith("#")]
    assert sorted(f[3] for f in listed) == sorted("manifests/gateway-api/" + n for n in crds)
    assert {(f[0], f[1], f[2]) for f in listed} == {("gateway-api", "v1.4.1", "sigs.k8s.io/gateway-api")}
    sums = subprocess.run(["sha256sum", "-c", "--strict", "SHA256SUMS"], cwd=str(root),
                          capture_output=True, text=True, check=False)
    assert sums.returncode == 0 and len(sums.stdout.splitlines()) == len(crds), sums.stdout + sums.stderr
    # The module cache stays as Go unpacked it: the bundle's files are copies, nothing written there.
    module = next((cache / "go" / "mod" / "sigs.k8s.io").glob("gateway-api@v1.4.1"))
    for name in crds:
        assert not os.path.samefile(str(root / "manifests" / "gateway-api" / name),
                                    str(module / "config" / "crd" / "standard" / name))
    assert not list(module.rglob("*.sha256"))

    again, stats, _proc = bundle(dest, build=True, cache_dir=str(cache), **GATEWAY_API)
    assert (again["changed"], stats["changed"]) == (False, 0)


def test_check_mode_lists_a_manifest_source_to_fetch_and_fetches_nothing(tmp_path):
    dest, cache = tmp_path / "bundle", tmp_path / "cache"
    result, stats, proc = bundle(dest, check=True, diff=True, build=True, cache_dir=str(cache), **GATEWAY_API)
    assert stats["failures"] == 0, proc.stdout[-3000:]
    assert result["changed"] is True
    after = result["diff"][0]["after"]
    assert "gateway-api\tv1.4.1 (to fetch)\tsigs.k8s.io/gateway-api\tmanifests/gateway-api/" in after, after
    assert not dest.exists() and not (cache / "manifests").exists()


def test_without_build_a_manifest_source_not_in_the_cache_is_named(tmp_path):
    dest = tmp_path / "bundle"
    result, stats, _proc = bundle(dest, cache_dir=str(tmp_path / "empty-cache"), **GATEWAY_API)
    assert stats["failures"] == 1
    assert "manifests/gateway-api (sigs.k8s.io/gateway-api v1.4.1, manifests)" in result["msg"], result["msg"]
    assert not dest.exists()


def test_the_previous_minor_s_bundle_asks_for_its_kubernetes_programs_and_keeps_the_rest(tmp_path):
    # check mode against an empty cache: the plan names what a v1.36.3 bundle holds.
    dest = tmp_path / "bundle"
    result, stats, proc = bundle(dest, check=True, diff=True, cache_dir=str(tmp_path / "empty-cache"), build=True,
                                 kubernetes_version="v1.36.3", goarches=["amd64", "arm64"], registry=False,
                                 runc=False, sets=["kubelet", "containerd"])
    assert stats["failures"] == 0, proc.stdout[-3000:]
    assert result["path"] == str(dest / "v1.36.3")
    assert result["changed"] is True and not dest.exists()
    after = result["diff"][0]["after"]
    assert "kubelet\tv1.36.3\tk8s.io/kubernetes\tbin/kubelet" in after, after
    assert "containerd\tv2.4.2\t" in after, after
