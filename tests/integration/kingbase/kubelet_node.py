"""A real node for the kingbase role's kubernetes form: containerd, runc, the CNI plugins and the
kubelet of the offline bundle (this machine's GOARCH), run as processes of this machine against a test bed of
their own (hack/testbed.sh with its own state and ports), so Pods really run and nothing of the
session's test bed (kwok's nodes, other tests' DaemonSets) reaches them.

The test bed's kwok nodes only simulate Pods; no fixture of tests/integration had a node that
runs containers. What this one does on this machine, and undoes:

- containerd with its own root, state and socket under a work directory (fixtures_containerd's
  ContainerdProcess), CRI on, the cgroupfs driver, restrict_oom_score_adj (this machine grants
  no CAP_SYS_RESOURCE), images pulled from the session's registry through certs.d;
- a bridge ``xckb0`` with 10.251.7.0/24 from host-local (no masquerade: the Pods need no route
  out; the kubelet's probes and exec go through the runtime), removed at the end;
- the kubelet with the role's security settings (kube_components.kubelet_security: webhook
  authentication and authorization, the cluster CA), certificates of the test bed's CA made by
  hack/pki.py, cgroupRoot /xc-kb-node in every hierarchy (as the kubernetes role's unit makes it),
  cgroup v1 allowed, eviction thresholds low enough for a shared disk. The kubelet writes its
  sysctl defaults (vm.overcommit_memory=1, kernel.panic=10, kernel.panic_on_oops=1) into this
  machine's kernel, as the lab's worker containers already do;
- the sandbox image: pause.c of the k8s.io/kubernetes module compiled here and pushed as
  library/pause:kbnode (hack/images.sh builds it only with the whole cluster set).

At the end the Pods are deleted through the API, the runtime's containers killed, mounts under
the work directory undone, the cgroups and the bridge removed and the test bed stopped.
"""

import base64
import json
import os
import shutil
import socket
import subprocess
import time

import yaml

from ansible_collections.xinchuang.cloud.plugins.module_utils.images import oci_layout
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.cluster import components as kube_components
from hack import pki
from tests.integration.ansible_run import ROOT
from tests.integration.fixtures_containerd import ContainerdProcess, host_goarch, run_bundle_sh
from tests.integration.fixtures_testbed import Testbed, run_script
from tests.integration.server_process import LoggedProcess

NODE = "xc-kb-node"
BRIDGE = "xckb0"
SUBNET = "10.251.7.0/24"
CGROUP_ROOT = "/xc-kb-node"
PAUSE = "library/pause:kbnode"
# The private test bed's ports: the session's + 2000, clear of it and of testbed/test_script.py's.
PORTS = {
    "TESTBED_PORT_ETCD": 14379,
    "TESTBED_PORT_ETCD_PEER": 14380,
    "TESTBED_PORT_APISERVER": 18443,
    "TESTBED_PORT_CONTROLLER_MANAGER": 18257,
    "TESTBED_PORT_SCHEDULER": 18259,
    "TESTBED_PORT_KWOK": 18250,
    "TESTBED_PORT_METRICS_SERVER": 18444,
}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def node_ip():
    """This machine's address on its default route (the kubelet refuses a loopback node IP)."""
    out = subprocess.run(["ip", "-o", "route", "get", "192.0.2.255"], capture_output=True, text=True,
                         check=False).stdout.split()
    if "src" in out:
        return out[out.index("src") + 1]
    for line in subprocess.run(["ip", "-o", "-4", "addr", "show", "scope", "global"], capture_output=True,
                               text=True, check=True).stdout.splitlines():
        return line.split()[3].split("/")[0]
    raise RuntimeError("no global IPv4 address on this machine for the kubelet")


def unmount_under(path):
    """Unmount what the runtime and the kubelet left mounted below ``path`` (deepest first)."""
    with open("/proc/self/mounts") as fh:
        points = [line.split()[1] for line in fh]
    for point in sorted((p for p in points if p.startswith(path + "/")), reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def cgroup_mounts():
    with open("/proc/self/mounts") as fh:
        return [line.split()[1] for line in fh if line.split()[2] in ("cgroup", "cgroup2")]


def make_cgroup_root():
    """The kubelet's cgroupRoot in every hierarchy (roles/kubernetes' kubelet-cgroup-root.sh)."""
    for mount in cgroup_mounts():
        path = mount + CGROUP_ROOT
        if os.path.isdir(path):
            continue
        os.mkdir(path)
        for name in ("cpuset.cpus", "cpuset.mems"):
            mine, parent = os.path.join(path, name), os.path.join(mount, name)
            if os.path.exists(mine):
                with open(mine) as fh:
                    empty = not fh.read().strip()
                if empty:
                    with open(parent) as src, open(mine, "w") as dst:
                        dst.write(src.read())


def remove_cgroup_root():
    for mount in cgroup_mounts():
        top = mount + CGROUP_ROOT
        if not os.path.isdir(top):
            continue
        for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda w: -len(w[0])):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass


class KubeletProcess(LoggedProcess):
    stop_timeout = 20
    tail_lines = 60

    def __init__(self, binary, args, log_path):
        super(KubeletProcess, self).__init__(log_path)
        self.binary, self.args = binary, args

    def start(self):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.binary] + self.args, stdout=self._log, stderr=subprocess.STDOUT)
        return self


class KubeletNode(object):
    """The private test bed (``bed``: a fixtures_testbed.Testbed) and its real node ``NODE``."""

    def __init__(self, workdir, registry):
        self.workdir = workdir
        self.registry = registry
        self.env = dict((k, str(v)) for k, v in PORTS.items())
        self.env["TB_STATE"] = os.path.join(workdir, "testbed")
        self.bed = None
        self.containerd = None
        self.kubelet = None
        self.bin_dir = None
        self.ip = node_ip()
        self.timings = {}

    # --- set-up ---------------------------------------------------------------------------

    def start(self):
        started = time.time()
        up = run_script("up", env=self.env)
        if up.returncode != 0:
            raise RuntimeError("the private test bed did not start:\n%s\n%s" % (up.stdout[-2000:], up.stderr[-4000:]))
        self.bed = Testbed(self.env["TB_STATE"])
        self.timings["testbed up"] = time.time() - started
        # The API server's client certificate for kubelets is in this group (hack/testbed/pki.sh),
        # as kubeadm's; the kubelet asks the API server whether it may serve exec (Webhook).
        self.bed.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                        "metadata": {"name": "xc-kb-node-apiserver-kubelet"},
                        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                    "name": "system:kubelet-api-admin"},
                        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                      "name": "kubeadm:cluster-admins"}]})
        started = time.time()
        goarch = host_goarch()
        bundle = run_bundle_sh([goarch], dict(os.environ, XC_BUNDLE_SETS="containerd,cni,kubelet"))
        if bundle.returncode != 0:
            raise RuntimeError("hack/bundle.sh %s failed:\n%s" % (goarch, bundle.stderr[-3000:]))
        arch_dir = os.path.join(bundle.stdout.strip().splitlines()[-1], goarch)
        self.bin_dir, cni_dir = os.path.join(arch_dir, "bin"), os.path.join(arch_dir, "cni")
        self.timings["bundle"] = time.time() - started
        started = time.time()
        self._push_pause()
        self.timings["pause image"] = time.time() - started
        self._start_containerd(cni_dir)
        started = time.time()
        self._start_kubelet()
        self.timings["node Ready"] = time.time() - started
        return self

    def _push_pause(self):
        source = subprocess.run(
            ["bash", "-c", 'source hack/common.sh; source hack/testbed/build.sh; tb_bundle source kube-apiserver'],
            cwd=ROOT, capture_output=True, text=True, check=False)
        pause_c = os.path.join(source.stdout.strip(), "build", "pause", "linux", "pause.c")
        if not os.path.exists(pause_c):
            raise RuntimeError("no pause.c of k8s.io/kubernetes (%s): %s" % (pause_c, source.stderr[-2000:]))
        out = os.path.join(self.workdir, "pause")
        os.makedirs(out)
        # build/pause/Makefile's flags, as hack/images.sh compiles it.
        subprocess.run(["gcc", "-Os", "-Wall", "-Werror", "-static", "-DVERSION=kbnode", "-o", os.path.join(out, "pause"),
                        pause_c],
                       check=True, capture_output=True)
        subprocess.run(["strip", os.path.join(out, "pause")], check=True)
        oci_layout.write_layout(os.path.join(out, "oci"), host_goarch(), "kbnode",
                                oci_layout.layer(files=[("/pause", os.path.join(out, "pause"), 0o755)]),
                                oci_layout.image_config(entrypoint=["/pause"], user="65535:65535",
                                                        created_by="xc-kb-node fixture"))
        certs = os.path.join(out, "certs")
        os.makedirs(certs)
        shutil.copy(self.registry.ca, os.path.join(certs, "ca.crt"))
        subprocess.run(["skopeo", "copy", "--quiet", "--dest-cert-dir", certs, "--dest-creds",
                        "%s:%s" % (self.registry.username, self.registry.password),
                        "oci:%s:kbnode" % os.path.join(out, "oci"), "docker://%s/%s" % (self.registry.host, PAUSE)],
                       check=True, capture_output=True, text=True)

    def _start_containerd(self, cni_dir):
        wd = self.workdir
        certs_d = os.path.join(wd, "certs.d", self.registry.host)
        os.makedirs(certs_d)
        auth = base64.b64encode(
            ("%s:%s" % (self.registry.username, self.registry.password)).encode()).decode()
        with open(os.path.join(certs_d, "hosts.toml"), "w") as fh:
            fh.write('server = "https://%s"\n\n[host."https://%s"]\n  capabilities = ["pull", "resolve"]\n'
                     '  ca = "%s"\n  [host."https://%s".header]\n    Authorization = "Basic %s"\n'
                     % (self.registry.host, self.registry.host, self.registry.ca, self.registry.host, auth))
        net_d = os.path.join(wd, "cni", "net.d")
        os.makedirs(net_d)
        with open(os.path.join(net_d, "10-xc-kb.conflist"), "w") as fh:
            json.dump({"cniVersion": "1.0.0", "name": "xc-kb", "plugins": [
                {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False,
                 "ipam": {"type": "host-local", "ranges": [[{"subnet": SUBNET}]],
                          "dataDir": os.path.join(wd, "cni", "ipam")}},
                {"type": "portmap", "capabilities": {"portMappings": True}}]}, fh)
        self.sock = os.path.join(wd, "run", "containerd.sock")
        config = os.path.join(wd, "containerd.toml")
        with open(config, "w") as fh:
            fh.write("\n".join([
                "version = 3",
                'root = "%s"' % os.path.join(wd, "containerd-root"),
                'state = "%s"' % os.path.join(wd, "run", "containerd"),
                # The host's containerd (under dockerd) may own NRI's socket.
                'disabled_plugins = ["io.containerd.nri.v1.nri"]',
                "[grpc]", '  address = "%s"' % self.sock,
                "[ttrpc]", '  address = "%s.ttrpc"' % self.sock,
                "[debug]", '  address = "%s.debug"' % self.sock,
                "[plugins]",
                '  [plugins."io.containerd.cri.v1.images"]',
                '    snapshotter = "overlayfs"',
                '    [plugins."io.containerd.cri.v1.images".pinned_images]',
                '      sandbox = "%s/%s"' % (self.registry.host, PAUSE),
                '    [plugins."io.containerd.cri.v1.images".registry]',
                '      config_path = "%s"' % os.path.join(wd, "certs.d"),
                '  [plugins."io.containerd.cri.v1.runtime"]',
                "    restrict_oom_score_adj = true",
                '    [plugins."io.containerd.cri.v1.runtime".cni]',
                '      bin_dirs = ["%s"]' % cni_dir,
                '      conf_dir = "%s"' % net_d,
                '    [plugins."io.containerd.cri.v1.runtime".containerd]',
                '      default_runtime_name = "runc"',
                '      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]',
                '        runtime_type = "io.containerd.runc.v2"',
                '        [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]',
                '          BinaryName = "%s"' % os.path.join(self.bin_dir, "runc"),
                "          SystemdCgroup = false",
            ]) + "\n")
        self._old_path = os.environ["PATH"]
        os.environ["PATH"] = self.bin_dir + os.pathsep + self._old_path  # the shim, beside containerd
        self.containerd = ContainerdProcess(os.path.join(self.bin_dir, "containerd"), config, self.sock,
                                            os.path.join(wd, "containerd.log")).start()

    def _start_kubelet(self):
        wd = self.workdir
        pki_dir = os.path.join(self.env["TB_STATE"], "pki")
        mine = os.path.join(wd, "kubelet-pki")
        client = pki.ensure_cert(mine, "kubelet-client", pki_dir, cn="system:node:" + NODE, org="system:nodes",
                                 usage="client", days=2)
        server = pki.ensure_cert(mine, "kubelet-server", pki_dir, cn=NODE, sans="IP:%s,DNS:%s" % (self.ip, NODE),
                                 usage="server", days=2)
        kubeconfig = os.path.join(wd, "kubelet.kubeconfig")
        with open(kubeconfig, "w") as fh:
            yaml.safe_dump(kube_components.kubeconfig(self.bed.server, "testbed", "system:node:" + NODE,
                                                      os.path.join(pki_dir, "ca.crt"), client.cert, client.key), fh)
        config = {"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
                  "cgroupDriver": "cgroupfs", "cgroupRoot": CGROUP_ROOT, "failCgroupV1": False, "failSwapOn": False,
                  "containerRuntimeEndpoint": "unix://" + self.sock,
                  "address": self.ip, "port": free_port(), "readOnlyPort": 0,
                  "healthzBindAddress": "127.0.0.1", "healthzPort": free_port(),
                  "resolvConf": "/etc/resolv.conf", "clusterDomain": "cluster.local",
                  "podLogsDir": os.path.join(wd, "pod-logs"),
                  "rotateCertificates": False, "serverTLSBootstrap": False,
                  # A shared machine's disk: evict only when it is truly full, collect no image.
                  "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%",
                                   "imagefs.available": "1%", "nodefs.inodesFree": "1%"},
                  "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
                  # Mounted ConfigMaps follow sooner than the default minute (the reload waits for them).
                  "syncFrequency": "10s"}
        config.update(kube_components.kubelet_security(os.path.join(pki_dir, "ca.crt"), server.cert, server.key))
        config_path = os.path.join(wd, "kubelet.yaml")
        with open(config_path, "w") as fh:
            yaml.safe_dump(config, fh)
        make_cgroup_root()
        self.kubelet = KubeletProcess(os.path.join(self.bin_dir, "kubelet"), [
            "--config", config_path, "--kubeconfig", kubeconfig, "--root-dir", os.path.join(wd, "kubelet"),
            "--hostname-override", NODE, "--node-ip", self.ip, "--v", "2"], os.path.join(wd, "kubelet.log")).start()
        deadline = time.time() + 180
        while time.time() < deadline:
            if self.kubelet.proc.poll() is not None:
                break
            proc = self.bed.kubectl("get", "node", NODE, "-o", "json")
            if proc.returncode == 0:
                conditions = json.loads(proc.stdout)["status"].get("conditions") or []
                if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                    return
            time.sleep(2)
        raise RuntimeError("node %s not Ready; kubelet log tail:\n%s\ncontainerd log tail:\n%s"
                           % (NODE, self.kubelet.log_tail(), self.containerd.log_tail()))

    # --- use ------------------------------------------------------------------------------

    def ctr(self, *args):
        return subprocess.run([os.path.join(self.bin_dir, "ctr"), "--address", self.sock, "-n", "k8s.io"] + list(args),
                              capture_output=True, text=True, timeout=120, check=False)

    # --- tear-down ------------------------------------------------------------------------

    def stop(self):
        if self.bed is not None and self.kubelet is not None and self.kubelet.proc is not None:
            # Pods first, through the API, while the kubelet still runs them down.
            for namespace in json.loads(self.bed.kubectl("get", "namespaces", "-o", "json").stdout or '{"items": []}')[
                    "items"]:
                name = namespace["metadata"]["name"]
                if name.startswith("kube-") or name == "default":
                    continue
                self.bed.kubectl("delete", "statefulsets,pods", "--all", "-n", name, "--wait=false")
            deadline = time.time() + 90
            while time.time() < deadline:
                pods = self.bed.kubectl("get", "pods", "-A", "--field-selector", "spec.nodeName=" + NODE, "-o", "name")
                if not pods.stdout.strip():
                    break
                time.sleep(2)
        if self.kubelet is not None:
            self.kubelet.stop()
        if self.containerd is not None:
            for line in self.ctr("tasks", "ls", "-q").stdout.split():
                self.ctr("tasks", "kill", "--signal", "SIGKILL", line)
            time.sleep(1)
            for line in self.ctr("tasks", "ls", "-q").stdout.split():
                self.ctr("tasks", "rm", "-f", line)
            for line in self.ctr("containers", "ls", "-q").stdout.split():
                self.ctr("containers", "rm", line)
            self.containerd.stop()
            os.environ["PATH"] = self._old_path
        unmount_under(self.workdir)
        remove_cgroup_root()
        # The kubelet links each container's log into /var/log/containers (a fixed path).
        if os.path.isdir("/var/log/containers"):
            for name in os.listdir("/var/log/containers"):
                link = os.path.join("/var/log/containers", name)
                if os.path.islink(link) and os.readlink(link).startswith(os.path.join(self.workdir, "")):
                    os.unlink(link)
        subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True, check=False)
        if self.bed is not None:
            run_script("down", env=self.env)
