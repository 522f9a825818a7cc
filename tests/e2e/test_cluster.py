"""The main job end to end: site.yml on the lab builds a real cluster, offline.

The lab's cluster topology (hack/lab.sh up --topology cluster): xc-lab-amd64 is control plane,
etcd and node; xc-lab-amd64-w1 a second amd64 node; the arm64, mips64el and loong64 hosts run
under QEMU user emulation as staged nodes (binaries installed and run, not joined);
xc-lab-registry is the private registry every image comes from (containerd runs offline:
only that registry is configured). The tests run in file order and share one cluster:

first rollout -> node Ready, labels -> DNS from a Pod, image from the private registry ->
emulated kubelets run -> second run changes nothing -> check mode changes nothing ->
scale.yml adds a node -> a Pod on it resolves through CoreDNS on the other node ->
remove_node.yml removes it -> bad inputs stop in preflight, naming host and fix.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
INVENTORY = os.path.join(ROOT, "inventories", "lab")
LAB_STATE = os.path.join(ROOT, ".lab")
KUBECONFIG = os.path.join(LAB_STATE, "admin.kubeconfig")
CACHE = os.environ.get("XC_CACHE", "/var/cache/xinchuang")
KUBECTL = os.path.join(CACHE, "bundle", "v1.37.2", "amd64", "bin", "kubectl")
CONTROL_PLANE = "xc-lab-amd64"
WORKER = "xc-lab-amd64-w1"
STAGED = {"xc-lab-arm64": "aarch64", "xc-lab-mips64el": "mips64", "xc-lab-loong64": "loongarch64"}
REGISTRY = "xc-lab-registry:5000"
TOOLBOX = REGISTRY + "/library/busybox:1.35.0"

pytestmark = pytest.mark.slow
TIMES = {}


def log(msg):
    sys.stderr.write("[e2e %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def sh(cmd, timeout=1800, check=True, **kw):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, **kw)
    if check and proc.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s\n%s" % (
            " ".join(cmd), proc.returncode, proc.stdout[-4000:], proc.stderr[-4000:]))
    return proc


def playbook(name, *args, timeout=3000, inventory=INVENTORY):
    """ansible-playbook on the lab inventory; returns (report, process, seconds)."""
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": os.path.join(ROOT, ".collections"),
        "ANSIBLE_CONFIG": os.path.join(ROOT, "hack", "ansible.cfg"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
        "ANSIBLE_NOCOLOR": "1",
    })
    env.pop("REQUESTS_CA_BUNDLE", None)
    start = time.time()
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", inventory,
                           os.path.join(ROOT, "playbooks", name)] + list(args),
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout,
                          check=False)
    took = time.time() - start
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError("ansible-playbook %s printed no JSON (exit %s):\n%s\n%s"
                             % (name, proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    log("%s %s: %.0f s, exit %d" % (name, " ".join(args), took, proc.returncode))
    return report, proc, took


def failures(report):
    """Every failed task result as 'host: task: msg'."""
    out = []
    for play in report.get("plays", []):
        for task in play["tasks"]:
            for host, res in task["hosts"].items():
                if res.get("failed") or res.get("unreachable"):
                    out.append("%s: %s: %s" % (host, task["task"]["name"],
                                               res.get("msg") or res.get("stderr") or res))
    return out


def changed_tasks(report):
    """Every changed task as 'host: task' (for messages when a run should change nothing)."""
    out = []
    for play in report.get("plays", []):
        for task in play["tasks"]:
            for host, res in task["hosts"].items():
                if res.get("changed"):
                    out.append("%s: %s" % (host, task["task"]["name"]))
    return out


def assert_ok(report, proc):
    assert proc.returncode == 0, "run failed:\n" + "\n".join(failures(report) or [proc.stderr[-3000:]])


def assert_converged(report, proc, what):
    """The run succeeded and no task reported a change."""
    assert_ok(report, proc)
    changed = changed_tasks(report)
    assert not changed, "%s changed:\n%s" % (what, "\n".join(changed))


def kubectl(*args, timeout=300, check=True):
    return sh([KUBECTL, "--kubeconfig", KUBECONFIG] + list(args), timeout=timeout, check=check)


def docker_exec(host, *cmd, check=True):
    return sh(["docker", "exec", host] + list(cmd), timeout=300, check=check)


@pytest.fixture(scope="module")
def lab():
    """The cluster topology up, the bundle laid out and the images in the private registry."""
    start = time.time()
    sh([os.path.join(ROOT, "hack", "bundle.sh")], timeout=7200)
    sh([os.path.join(ROOT, "hack", "lab.sh"), "up", "--topology", "cluster"], timeout=3600)
    registry = os.path.join(LAB_STATE, "registry")
    with open(os.path.join(registry, "username")) as fh:
        user = fh.read().strip()
    sh([os.path.join(ROOT, "hack", "images.sh"), "push", "127.0.0.1:25000",
        "--ca", os.path.join(registry, "ca.crt"), "--username", user,
        "--password-file", os.path.join(registry, "password")], timeout=3600)
    TIMES["lab up + bundle + images"] = time.time() - start
    log("lab ready in %.0f s" % TIMES["lab up + bundle + images"])
    yield
    for name, took in TIMES.items():
        log("TIME %-32s %6.0f s" % (name, took))


@pytest.mark.timeout(3600)
def test_first_rollout(lab):
    # The second amd64 node is added later by scale.yml.
    report, proc, took = playbook("site.yml", "--limit", "all:!" + WORKER)
    TIMES["site.yml first rollout"] = took
    assert_ok(report, proc)
    for host in [CONTROL_PLANE] + list(STAGED):
        assert report["stats"][host]["failures"] == 0


def test_node_is_ready_with_family_labels(lab):
    node = json.loads(kubectl("get", "node", CONTROL_PLANE, "-o", "json").stdout)
    ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
    assert ready and ready[0]["status"] == "True", node["status"]["conditions"]
    labels = node["metadata"]["labels"]
    assert labels["kubernetes.io/arch"] == "amd64"
    assert labels["xinchuang.cloud/arch-family"] == "c86"
    assert "xinchuang.cloud/cpu-vendor" in labels
    assert node["status"]["nodeInfo"]["kubeletVersion"] == "v1.37.2"
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://2.4.2")
    # Staged hosts did not join.
    names = kubectl("get", "nodes", "-o", "name").stdout.split()
    assert names == ["node/" + CONTROL_PLANE], names


def run_dns_pod(name, node):
    """A Pod from the private registry on NODE asks the cluster DNS; returns (logs, pod)."""
    kubectl("delete", "pod", name, "--ignore-not-found", "--wait=true")
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "nodeName": node, "restartPolicy": "Never",
            "containers": [{
                "name": "lookup", "image": TOOLBOX,
                "command": ["/bin/busybox", "nslookup", "kubernetes.default.svc.cluster.local"],
            }],
        },
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(pod, fh)
    try:
        kubectl("apply", "-f", fh.name)
    finally:
        os.unlink(fh.name)
    deadline = time.time() + 300
    phase = ""
    while time.time() < deadline:
        phase = kubectl("get", "pod", name, "-o", "jsonpath={.status.phase}").stdout
        if phase in ("Succeeded", "Failed"):
            break
        time.sleep(3)
    logs = kubectl("logs", name, check=False).stdout
    got = json.loads(kubectl("get", "pod", name, "-o", "json").stdout)
    assert phase == "Succeeded", "pod %s on %s: %s\n%s\n%s" % (
        name, node, phase, logs, json.dumps(got["status"], indent=1)[-3000:])
    return logs, got


def test_dns_from_a_pod_and_image_from_the_private_registry(lab):
    logs, pod = run_dns_pod("e2e-dns", CONTROL_PLANE)
    # The API server's ClusterIP: the first address of the Service range.
    assert "10.96.0.1" in logs, logs
    status = pod["status"]["containerStatuses"][0]
    assert status["imageID"].startswith(REGISTRY + "/library/busybox@sha256:"), status
    # CoreDNS itself came from the private registry too.
    dns = json.loads(kubectl("-n", "kube-system", "get", "pods", "-l", "k8s-app=kube-dns",
                             "-o", "json").stdout)["items"]
    assert dns, "no CoreDNS Pods"
    for item in dns:
        for cs in item["status"]["containerStatuses"]:
            assert cs["imageID"].startswith(REGISTRY + "/coredns/coredns@sha256:"), cs


def test_containerd_is_offline(lab):
    hosts_dir = docker_exec(CONTROL_PLANE, "sh", "-c",
                            "cat /etc/containerd/certs.d/docker.io/hosts.toml").stdout
    assert "xc-lab-registry:5000" in hosts_dir
    assert "registry-1.docker.io" not in hosts_dir


@pytest.mark.parametrize("host", sorted(STAGED))
def test_staged_hosts_run_their_cross_built_binaries(lab, host):
    assert docker_exec(host, "uname", "-m").stdout.strip() == STAGED[host]
    out = docker_exec(host, "/usr/local/bin/kubelet", "--version").stdout
    assert out.strip() == "Kubernetes v1.37.2"
    out = docker_exec(host, "/usr/local/bin/containerd", "--version").stdout
    assert "2.4.2" in out
    # Staged: nothing started.
    assert docker_exec(host, "test", "-e", "/etc/kubernetes/kubelet.conf", check=False).returncode != 0


@pytest.mark.timeout(3600)
def test_second_run_changes_nothing(lab):
    report, proc, took = playbook("site.yml", "--limit", "all:!" + WORKER)
    TIMES["site.yml second run"] = took
    assert_converged(report, proc, "the second run")


@pytest.mark.timeout(3600)
def test_check_mode_reports_no_changes(lab):
    report, proc, took = playbook("site.yml", "--check", "--limit", "all:!" + WORKER)
    TIMES["site.yml --check"] = took
    assert_converged(report, proc, "check mode")


@pytest.mark.timeout(3600)
def test_scale_adds_a_node(lab):
    report, proc, took = playbook("scale.yml", "--limit", WORKER)
    TIMES["scale.yml"] = took
    assert_ok(report, proc)
    node = json.loads(kubectl("get", "node", WORKER, "-o", "json").stdout)
    ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
    assert ready and ready[0]["status"] == "True"
    # The control plane learnt a route to the new node's Pod subnet.
    routes = docker_exec(CONTROL_PLANE, "ip", "route").stdout
    assert node["spec"]["podCIDR"] in routes, routes
    # A Pod on the new node resolves through the cluster DNS Service.
    logs, _pod = run_dns_pod("e2e-dns-w1", WORKER)
    assert "10.96.0.1" in logs, logs
    # Adding again changes nothing.
    report, proc, _took = playbook("scale.yml", "--limit", WORKER)
    assert_converged(report, proc, "scale.yml again")


@pytest.mark.timeout(1800)
def test_remove_node(lab):
    kubectl("delete", "pod", "e2e-dns-w1", "--ignore-not-found")
    report, proc, took = playbook("remove_node.yml", "-e", "node=" + WORKER)
    TIMES["remove_node.yml"] = took
    assert_ok(report, proc)
    names = kubectl("get", "nodes", "-o", "name").stdout.split()
    assert "node/" + WORKER not in names
    active = docker_exec(WORKER, "systemctl", "is-active", "kubelet", check=False).stdout.strip()
    assert active != "active"
    routes = docker_exec(CONTROL_PLANE, "ip", "route").stdout
    assert "via" not in "".join(r for r in routes.splitlines() if r.startswith("10.244.")), routes


def test_control_plane_cannot_be_removed(lab):
    report, proc, _took = playbook("remove_node.yml", "-e", "node=" + CONTROL_PLANE)
    assert proc.returncode != 0
    assert any("kube_control_plane or etcd" in f for f in failures(report)), failures(report)


def lab_inventory_with(tmp_path, etcd_extra=()):
    """A copy of the lab inventory, with more etcd members."""
    import shutil
    inv = tmp_path / "lab"
    shutil.copytree(INVENTORY, str(inv))
    hosts = (inv / "hosts.yml").read_text()
    for host in etcd_extra:
        hosts = hosts.replace("    etcd:\n      hosts:\n", "    etcd:\n      hosts:\n        %s:\n" % host)
    (inv / "hosts.yml").write_text(hosts)
    # inventory_dir moves: keep the lab state where it is.
    (inv / "group_vars" / "all" / "zz-state.yml").write_text("xinchuang_lab_state: %s\n" % LAB_STATE)
    return str(inv)


@pytest.mark.timeout(1800)
def test_even_etcd_count_stops_in_preflight(lab, tmp_path):
    inv = lab_inventory_with(tmp_path, etcd_extra=[WORKER])
    report, proc, _took = playbook("site.yml", inventory=inv)
    assert proc.returncode != 0
    msgs = "\n".join(failures(report))
    assert "etcd" in msgs and "odd" in msgs, msgs
    assert not changed_tasks(report), "changed before stopping:\n" + "\n".join(changed_tasks(report))


@pytest.mark.timeout(1800)
def test_bundle_without_the_hosts_goarch_stops_before_any_change(lab, tmp_path):
    # A bundle whose arm64 directory lacks kubelet.
    bundle = tmp_path / "bundle"
    src = os.path.join(CACHE, "bundle", "v1.37.2")
    for goarch in os.listdir(src):
        for sub in ("bin", "cni"):
            d = bundle / "v1.37.2" / goarch / sub
            d.mkdir(parents=True)
            for name in os.listdir(os.path.join(src, goarch, sub)):
                if not (goarch == "arm64" and name == "kubelet"):
                    os.symlink(os.path.join(src, goarch, sub, name), str(d / name))
    report, proc, _took = playbook("site.yml", "--limit", "all:!" + WORKER,
                                   "-e", "xinchuang_bundle_dir=%s container_runtime_bundle_dir=%s"
                                   % (bundle, bundle))
    assert proc.returncode != 0
    msgs = "\n".join(failures(report))
    assert "xc-lab-arm64" in msgs and "kubelet" in msgs and "hack/bundle.sh arm64" in msgs, msgs
    assert not changed_tasks(report), "changed before stopping:\n" + "\n".join(changed_tasks(report))
