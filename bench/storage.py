"""Local storage beside NAS on one node: fio in a Pod against a `local-storage` volume, then in
a Pod on the same node against an `nfs-lab` volume, in the same run: sequential and random 4k
reads and writes, their IOPS, bandwidth and latency side by side, and the NAS/local ratio
beside the paper's (Table 1: Kingbase TPC-C on NAS at 72 % of local).

Runs on the converged lab (`make demo`, or the e2e's first rollout, kept with XC_E2E_KEEP=1).
The node is the NFS server's (the arm64 machine: the amd64 nodes are containers on this
machine's kernel, which has no NFS client), so its NFS traffic crosses no wire: the table
compares the two storage paths of one node, not a network. The machine is emulated (QEMU
TCG) and its disks are files of this machine opened with cache=unsafe (hack/lab/machines.sh),
so O_DIRECT in the guest still ends in this machine's page cache: absolute numbers are the
emulator's; the NAS/local ratio is what the database issue compares.

    source hack/env.sh && python bench/storage.py [--runtime 20] [--size-mib 64]

The image is xinchuang/fio (hack/images.sh, XC_IMAGES_SET=apps: Debian's fio, pushed to the
lab registry by the e2e's bring-up), at the version built for the node's architecture. Each
volume is claimed by name: a Released one (Retain, after an earlier claim) is made Available
again first, and again at the end; fio deletes its files (--unlink), the rest of the
volume's data stays.
"""

import argparse
import json
import os
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for path in (ROOT, os.path.join(ROOT, ".collections")):
    if path not in sys.path:
        sys.path.insert(0, path)

from tests.e2e import lab  # noqa: E402
from tests.e2e import test_cluster as e2e  # noqa: E402
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.quantity import memory_bytes  # noqa: E402

NODE = e2e.NFS_SERVER
CLASSES = ("local-storage", "nfs-lab")
# (job, fio --rw, block size): sequential in 1 MiB blocks, random in 4 KiB ones.
JOBS = (("seq-read", "read", "1m"), ("seq-write", "write", "1m"),
        ("rand-read-4k", "randread", "4k"), ("rand-write-4k", "randwrite", "4k"))
NAME = "bench-storage"


def fio_image():
    """The lab registry's xinchuang/fio at the version built for NODE's GOARCH."""
    goarch = e2e.goarch(NODE)
    built = os.path.join(lab.CACHE, "bundle", "images", "xinchuang", "fio")
    versions = sorted(v for v in os.listdir(built) if os.path.isdir(os.path.join(built, v, goarch))) \
        if os.path.isdir(built) else []
    if not versions:
        raise SystemExit("no xinchuang/fio built for %s under %s: run XC_IMAGES_SET=apps hack/images.sh build"
                         % (goarch, built))
    return "%s/xinchuang/fio:%s" % (e2e.REGISTRY, versions[-1])


def node_of(pv):
    for term in ((pv["spec"].get("nodeAffinity") or {}).get("required") or {}).get("nodeSelectorTerms") or []:
        for expr in term.get("matchExpressions") or []:
            if expr.get("key") == "kubernetes.io/hostname":
                return expr.get("values") or []
    return None


def volume_of(storage_class, need):
    """The first PersistentVolume of STORAGE_CLASS that NODE can mount, no claim holds and
    holds NEED bytes; a Released one is made Available (its claimRef removed)."""
    pvs = lab.kubectl_json("get", "pv")["items"]
    for pv in sorted(pvs, key=lambda p: p["metadata"]["name"]):
        spec, phase = pv["spec"], pv["status"].get("phase")
        if spec.get("storageClassName") != storage_class or phase not in ("Available", "Released"):
            continue
        nodes = node_of(pv)
        if (nodes is not None and NODE not in nodes) or memory_bytes(spec["capacity"]["storage"]) < need:
            continue
        e2e.pv_available_again(pv["metadata"]["name"], timeout=60)
        return pv
    raise SystemExit("no PersistentVolume of class %s that %s can mount, of %d bytes or more, is Available "
                     "or Released: delete a claim of one, or run playbooks/storage.yml" % (storage_class, NODE, need))


def fio_args(runtime, size_mib):
    args = ["--output-format=json", "--directory=/data", "--size=%dm" % size_mib, "--runtime=%d" % runtime,
            "--time_based", "--direct=1", "--ioengine=psync", "--unlink=1"]
    for job, rw, block in JOBS:
        args += ["--name=" + job, "--rw=" + rw, "--bs=" + block, "--stonewall"]
    return args


def run_fio(storage_class, image, args, need):
    """fio's JSON report of one run on a volume of STORAGE_CLASS, and the volume."""
    pv = volume_of(storage_class, need)
    name = "%s-%s" % (NAME, storage_class)
    access = pv["spec"]["accessModes"][0]
    lab.apply(e2e.claim(name, pv["spec"]["capacity"]["storage"], storage_class=storage_class, access=access,
                        volume_name=pv["metadata"]["name"]))
    lab.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
               "spec": {"nodeSelector": {"kubernetes.io/hostname": NODE}, "restartPolicy": "Never",
                        # root in the Pod: the local directory is root's; NFS squashes it to nobody.
                        "securityContext": {"runAsUser": 0},
                        "containers": [{"name": "fio", "image": image, "args": args,
                                        "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": name}}]}})
    try:
        lab.wait_for("Pod %s Succeeded" % name, lambda: e2e.pod_succeeded(name), timeout=1800, interval=5)
        out = lab.kubectl("logs", name).stdout
    finally:
        lab.kubectl("delete", "pod", name, "--ignore-not-found", "--wait=true")
        lab.kubectl("delete", "pvc", name, "--ignore-not-found", "--wait=true")
    e2e.wait_for_pv_phase(pv["metadata"]["name"], "Released")
    e2e.pv_available_again(pv["metadata"]["name"], timeout=60)
    # fio's warnings share the log with its report: the report is the JSON object in it.
    return json.JSONDecoder().raw_decode(out[out.index("{"):])[0], pv


def measures(report):
    """{job: (IOPS, MiB/s, mean latency ms, p95 completion latency ms)} of a fio JSON report."""
    rows, rw_of = {}, dict((j, r) for j, r, _b in JOBS)
    for job in report["jobs"]:
        rw = rw_of[job["jobname"]]
        side = job["write" if "write" in rw else "read"]
        p95 = (side["clat_ns"].get("percentile") or {}).get("95.000000", 0)
        rows[job["jobname"]] = (side["iops"], side["bw"] / 1024.0, side["lat_ns"]["mean"] / 1e6, p95 / 1e6)
    return rows


def paper_ratio():
    with open(os.path.join(ROOT, "docs", "paper-tables.yml")) as fh:
        table = dict((row["storage"], row["tpmC"]) for row in yaml.safe_load(fh)["tpcc_kingbase"])
    return table["nas"] / float(table["local"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--runtime", type=int, default=20, help="seconds each fio job runs")
    ap.add_argument("--size-mib", type=int, default=64, help="MiB of the file each fio job works on")
    args = ap.parse_args()
    image = fio_image()
    results, volumes = {}, {}
    for storage_class in CLASSES:
        # fio lays out one file per job and deletes it when the job ends: a volume of twice that.
        report, pv = run_fio(storage_class, image, fio_args(args.runtime, args.size_mib), 2 * args.size_mib << 20)
        results[storage_class], volumes[storage_class] = measures(report), pv
        version = report.get("fio version", "fio")
    local, nas = CLASSES
    print("\n%s on %s (%s, QEMU TCG), O_DIRECT, psync (queue depth 1), %d MiB per job, %d s per job; image %s"
          % (version, NODE, e2e.uname(NODE), args.size_mib, args.runtime, image))
    for storage_class, pv in volumes.items():
        source = pv["spec"].get("local") or pv["spec"].get("nfs") or {}
        print("  %s: PV %s (%s)" % (storage_class, pv["metadata"]["name"],
                                    ", ".join("%s=%s" % kv for kv in sorted(source.items()))))
    print("| job | %s IOPS | %s MiB/s | %s mean ms | %s p95 ms | %s IOPS | %s MiB/s | %s mean ms | %s p95 ms "
          "| NAS/local IOPS |" % ((local,) * 4 + (nas,) * 4))
    print("|---|" + "---:|" * 9)
    ratios = []
    for job, _rw, _block in JOBS:
        a, b = results[local][job], results[nas][job]
        ratio = b[0] / a[0] if a[0] else 0.0
        ratios.append(ratio)
        print("| %s | %.0f | %.1f | %.2f | %.2f | %.0f | %.1f | %.2f | %.2f | %.2f |" % ((job,) + a + b + (ratio,)))
    print("\nNAS/local IOPS over the four jobs: %.2f to %.2f; the paper's NAS/local tpmC (Table 1): %.2f"
          % (min(ratios), max(ratios), paper_ratio()))


if __name__ == "__main__":
    main()
