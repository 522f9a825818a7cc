"""Print the testbed's simulated nodes (a JSON v1 List for `kubectl apply -f -`).

One node per CPU family (or --per-family N), named kwok-<family>-<i>, built from the
collection's architecture model (plugins/module_utils/model/arch.py): kubernetes.io/arch is the
family's OCI architecture, the family and default CPU vendor become xinchuang.cloud/ labels.
Run with PYTHONPATH=$XC_ROOT/.collections so the model imports by its collection path.
"""

import argparse
import json

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch

# kwok manages only the nodes carrying this annotation (--manage-nodes-with-annotation-selector),
# so a real node joined later is never touched by it.
MANAGED_BY = ("kwok.x-k8s.io/node", "fake")
CAPACITY = {"cpu": "32", "memory": "64Gi", "pods": "110"}


def node(family, index):
    name = "kwok-%s-%d" % (family.family, index)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/arch": family.oci_arch,
                "kubernetes.io/os": "linux",
                "kubernetes.io/hostname": name,
                "type": "kwok",
                "xinchuang.cloud/arch-family": family.family,
                "xinchuang.cloud/cpu-vendor": family.vendors[0],
            },
            "annotations": {
                MANAGED_BY[0]: MANAGED_BY[1],
                "node.alpha.kubernetes.io/ttl": "0",
                # metrics-server >= 0.7 scrapes this path instead of /metrics/resource: kwok
                # serves every node's kubelet metrics on one port, told apart by the path.
                "metrics.k8s.io/resource-metrics-path":
                    "/metrics/nodes/%s/metrics/resource" % name,
            },
        },
        "status": {
            "capacity": dict(CAPACITY),
            "allocatable": dict(CAPACITY),
            # All fields are required by the schema; kwok's node stage keeps what is set.
            "nodeInfo": {
                "architecture": family.oci_arch,
                "operatingSystem": "linux",
                "osImage": "simulated %s node (kwok)" % family.title,
                "kernelVersion": "kwok",
                "kubeletVersion": "kwok",
                "kubeProxyVersion": "kwok",
                "containerRuntimeVersion": "kwok",
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
            },
        },
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-family", type=int, default=1)
    args = parser.parse_args()
    if args.per_family < 1:
        parser.error("--per-family must be at least 1")
    items = [node(f, i) for f in arch.FAMILIES for i in range(args.per_family)]
    print(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}, indent=1))


if __name__ == "__main__":
    main()
