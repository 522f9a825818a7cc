"""The lab as the e2e tests see it: hosts of the topology table, how to reach them, playbook runs.

The topology table (hack/lab/topologies/<name>.hosts) is the one source of which hosts exist,
which are containers (reached with ``docker exec``) and which are full-system QEMU machines
(reached over SSH with the lab's key), and at which address each one sits.
"""

import base64
import binascii
import datetime
import glob
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time

from tests.proof import secrets as secrets_proof

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
LAB_STATE = os.path.join(ROOT, ".lab")
KUBECONFIG = os.path.join(LAB_STATE, "admin.kubeconfig")
SSH_KEY = os.path.join(LAB_STATE, "ssh", "id_ed25519")
CACHE = os.environ.get("XC_CACHE", "/var/cache/xinchuang")
KUBERNETES_VERSION = "v1.37.2"
KUBECTL = os.path.join(CACHE, "bundle", KUBERNETES_VERSION, "amd64", "bin", "kubectl")
# make e2e-full: the loong64 machine too.
FULL = os.environ.get("XC_E2E_FULL", "0") == "1"
TOPOLOGY = "cluster-full" if FULL else "cluster"
INVENTORIES = [os.path.join(ROOT, "inventories", "lab")] + (
    [os.path.join(ROOT, "inventories", "lab-full")] if FULL else [])


def read_topology(name=TOPOLOGY):
    """{host: {"arch": debian arch, "profile": ..., "address": ...}} from the topology table."""
    hosts = {}
    with open(os.path.join(ROOT, "hack", "lab", "topologies", name + ".hosts")) as fh:
        for line in fh:
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            host, arch, profile, address = fields
            hosts[host] = {"arch": arch, "profile": profile, "address": address}
    return hosts


HOSTS = read_topology()
# Machines that bring_up leaves off: the first test that needs one starts it (start_hosts), so
# no emulated machine idles through tests that do not use it. The mips64el machine (one vCPU,
# the slowest) joins only in the full tier (tests/tiers.yml).
DEFERRED = ["xc-lab-mips64el"]
STARTED = [h for h in HOSTS if h not in DEFERRED]


def log(msg):
    sys.stderr.write("[e2e %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def sh(cmd, timeout=1800, check=True, retry_if=None, **kw):
    """Run CMD. With RETRY_IF (a compiled pattern), a failure whose stderr matches it is tried
    again, three tries in all, five seconds apart; any other failure is final at once."""
    text = kw.pop("text", True)
    for attempt in range(3):
        proc = subprocess.run(cmd, capture_output=True, text=text, timeout=timeout, check=False,
                              **kw)
        stderr = proc.stderr if text else proc.stderr.decode(errors="replace")
        if proc.returncode == 0 or retry_if is None or not retry_if.search(stderr) or attempt == 2:
            break
        log("%s: %s; again in 5 s" % (" ".join(cmd[:4]), stderr.strip()[-200:]))
        time.sleep(5)
    if check and proc.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s\n%s" % (
            " ".join(cmd), proc.returncode, proc.stdout[-4000:], proc.stderr[-4000:]))
    return proc


def is_machine(host):
    return HOSTS[host]["profile"] == "machine"


def host_cmd(host, *cmd):
    """The argv that runs CMD on HOST: docker exec for containers, SSH for machines."""
    if is_machine(host):
        quoted = " ".join(_shell_quote(c) for c in cmd)
        # One SSH connection per machine, shared with the playbook runs (the ControlPath of
        # inventories/lab/group_vars/lab_machines/connection.yml): a new handshake costs a
        # second or two on the emulated CPU, and the tests run many short commands there.
        return ["ssh", "-i", SSH_KEY, "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR", "-o", "ControlMaster=auto", "-o", "ControlPersist=60s",
                "-o", "ControlPath=" + os.path.join(LAB_STATE, "ssh", "%h-%p"),
                "root@" + HOSTS[host]["address"], quoted]
    return ["docker", "exec", host] + list(cmd)


def _shell_quote(arg):
    if re.match(r"^[A-Za-z0-9_./:=,@+-]+$", arg):
        return arg
    return "'" + arg.replace("'", "'\\''") + "'"


def on_host(host, *cmd, check=True, timeout=300, binary=False):
    """Run CMD on HOST; returns the CompletedProcess (stdout as bytes when BINARY)."""
    return sh(host_cmd(host, *cmd), timeout=timeout, check=check, text=not binary)


# kubectl's own transport failing, not the command it ran: on the emulated machines kubelet's
# exec/attach stream can take longer than the API server waits for it. Such a failure is tried
# again (three tries); what the command itself printed or exited with is never retried.
TRANSIENT = re.compile(r"context deadline exceeded|error dialing backend|TLS handshake timeout|"
                       r"unable to upgrade connection|i/o timeout|connection reset by peer")


def kubectl(*args, timeout=300, check=True, stdin=None, kubeconfig=KUBECONFIG):
    """kubectl as the admin, or as the user of KUBECONFIG (a tenant's, say)."""
    return sh([KUBECTL, "--kubeconfig", kubeconfig] + list(args), timeout=timeout, check=check,
              retry_if=TRANSIENT, input=stdin)


def kubectl_bytes(*args):
    """kubectl's output as bytes (kubectl exec ... cat of a binary file)."""
    return sh([KUBECTL, "--kubeconfig", KUBECONFIG] + list(args), retry_if=TRANSIENT,
              text=False).stdout


def kubectl_json(*args):
    return json.loads(kubectl(*(list(args) + ["-o", "json"])).stdout)


def apply(obj):
    kubectl("apply", "-f", "-", stdin=json.dumps(obj))


def json_report(stdout):
    """The JSON callback's report from ansible-playbook's output: what ansible.builtin.pause
    prints to the terminal ("Pausing for 90 seconds ...") comes before it."""
    text = stdout.lstrip()
    if not text.startswith("{"):
        start = text.find("\n{\n")
        text = text[start + 1:] if start >= 0 else text
    return json.loads(text)


def slowest_tasks(report, count):
    """[(seconds, 'play / task')] of a JSON report's COUNT slowest tasks (a task's time is from
    its start on the first host to its end on the last), for XC_E2E_PROFILE=COUNT."""
    out = []
    for play in report.get("plays", []):
        for task in play["tasks"]:
            duration = task["task"].get("duration") or {}
            if duration.get("start") and duration.get("end"):
                start, end = (datetime.datetime.strptime(duration[k][:26].rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f")
                              for k in ("start", "end"))
                out.append(((end - start).total_seconds(), "%s / %s" % (play["play"]["name"], task["task"]["name"])))
    return sorted(out, reverse=True)[:count]


def playbook(name, *args, timeout=3600, inventories=None, callback="ansible.posix.json",
             env_extra=None):
    """ansible-playbook on the lab inventory; returns (report or None, process, seconds).

    With the JSON callback the report is the parsed run; with another callback (e.g. the
    default one for a -vvv run whose output is searched) it is None.
    """
    env = _playbook_env(env_extra)
    env["ANSIBLE_STDOUT_CALLBACK"] = callback
    argv = [os.path.join(BIN, "ansible-playbook")]
    for inv in inventories or INVENTORIES:
        argv += ["-i", inv]
    argv += [os.path.join(ROOT, "playbooks", name)] + list(args)
    start = time.time()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=timeout, check=False)
    took = time.time() - start
    report = None
    if callback == "ansible.posix.json":
        try:
            report = json_report(proc.stdout)
        except ValueError:
            raise AssertionError("ansible-playbook %s printed no JSON (exit %s):\n%s\n%s"
                                 % (name, proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    log("%s %s: %.0f s, exit %d" % (name, " ".join(args), took, proc.returncode))
    if report and os.environ.get("XC_E2E_PROFILE"):
        for seconds, task in slowest_tasks(report, int(os.environ["XC_E2E_PROFILE"])):
            log("  %6.1f s  %s" % (seconds, task))
    assert_no_secret("ansible-playbook %s %s" % (name, " ".join(args)), proc.stdout + proc.stderr)
    return report, proc, took


_INVENTORY_VALUES = {}


def inventory_value(name, host="xc-lab-amd64"):
    """What the lab inventory gives NAME for HOST, templated by Ansible as a run sees it (its
    environment switches included, e.g. XC_LAB_CNI): the inventory says it once, the tests ask.
    One ad-hoc `debug` per name and host, remembered; an undefined name fails."""
    key = (name, host)
    if key not in _INVENTORY_VALUES:
        argv = [os.path.join(BIN, "ansible"), host]
        for inv in INVENTORIES:
            argv += ["-i", inv]
        argv += ["-m", "ansible.builtin.debug", "-a", "msg={{ %s | to_json }}" % name]
        env = _playbook_env(None)
        env.update(ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False)
        try:
            result = json_report(proc.stdout)["plays"][0]["tasks"][0]["hosts"][host]
        except (ValueError, KeyError, IndexError):
            result = {}
        if proc.returncode != 0 or "msg" not in result or result.get("failed"):
            raise AssertionError("the lab inventory gives no %s for %s (exit %d): %s%s"
                                 % (name, host, proc.returncode, result.get("msg", proc.stdout[-2000:]),
                                    proc.stderr[-2000:]))
        _INVENTORY_VALUES[key] = json.loads(result["msg"])
    return _INVENTORY_VALUES[key]


# --- no run prints a secret -----------------------------------------------------------------
# Every playbook the e2e runs (playbook(), runner_playbook()) has its whole output searched for
# every secret the lab holds at that moment, plain and base64: what an operator's terminal or
# AWX's job output would show. The JSON callback's report holds each task's arguments and
# results, the default callback at -vvv (the second site.yml run) the rest of what Ansible says.
# Values seen once stay searched for (a secret made by one run must not show in a later one).
AESCBC_KEY = ("xc-lab-amd64", "/etc/kubernetes/ca/encryption-aescbc.key")  # kubernetes role's CA host and kubernetes_ca_dir
TENANT_KUBECONFIGS = os.path.join(LAB_STATE, "tenants")  # inventories/lab tenancy_kubeconfig_dir
# Secret keys whose values are not secret (certificates, user names) and would match anywhere.
PUBLIC_KEYS = re.compile(r"(^|[._-])(crt|cert|certificate|ca|username|user|userid|user_name)$", re.I)
SECRETS = {}  # {what: value}, every secret seen so far
# The lab's database account (inventories/lab/group_vars/database: a password lookup's file).
DATABASE_PASSWORD = os.path.join(LAB_STATE, "database", "tpcc-password")


def _remember(what, value):
    value = (value or "").strip()
    if len(value) >= secrets_proof.MIN_LENGTH and "BEGIN CERTIFICATE" not in value:
        SECRETS.setdefault(what, value)


def _decoded(data):
    try:
        return base64.b64decode(data, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def registry_secret():
    """The lab registry's password (hack/lab/registry.sh writes it beside its CA)."""
    with open(os.path.join(LAB_STATE, "registry", "password")) as fh:
        return fh.read().strip()


AESCBC_NAME = "the Secrets encryption (aescbc) key"


def lab_secrets():
    """{what: value} of every secret known so far: the registry password, the iSCSI CHAP
    secrets of the inventory, the Secrets encryption (aescbc) key, the tenants' client keys
    (client-key-data), and each data value of every Secret in the cluster that is not a
    certificate or a user name (the ones the roles write: CHAP, Ceph, pull secrets, database
    passwords), each plain and base64."""
    if os.path.exists(os.path.join(LAB_STATE, "registry", "password")):
        _remember("the registry password", registry_secret())
    if os.path.exists(DATABASE_PASSWORD):  # made by the first run that reads it (group_vars/database)
        with open(DATABASE_PASSWORD) as fh:
            _remember("the database account's password", (fh.read().split() or [""])[0])
    for path in glob.glob(os.path.join(ROOT, "inventories", "lab", "host_vars", "*.yml")):
        with open(path) as fh:
            text = fh.read()
        for match in re.finditer(r"^\s*(\w*chap_(?:mutual_)?secret):\s*(\S+)\s*$", text, re.M):
            _remember("%s of %s" % (match.group(1), os.path.basename(path)), match.group(2).strip("'\""))
    if AESCBC_NAME not in SECRETS:  # made once by the first rollout, never again
        key = sh(host_cmd(AESCBC_KEY[0], "cat", AESCBC_KEY[1]), check=False, timeout=60)
        if key.returncode == 0:
            _remember(AESCBC_NAME, key.stdout)
    for path in glob.glob(os.path.join(TENANT_KUBECONFIGS, "*.kubeconfig")):
        with open(path) as fh:
            for match in re.finditer(r"client-key-data:\s*(\S+)", fh.read()):
                _remember("the client key of " + os.path.basename(path), _decoded(match.group(1)))
    if os.path.exists(KUBECONFIG):
        got = sh([KUBECTL, "--kubeconfig", KUBECONFIG, "get", "secrets", "--all-namespaces", "-o", "json",
                  "--request-timeout=20s"], check=False, timeout=60)
        if got.returncode == 0:
            for item in json.loads(got.stdout)["items"]:
                meta = item["metadata"]
                for name, data in (item.get("data") or {}).items():
                    if PUBLIC_KEYS.search(name):
                        continue
                    _remember("Secret %s/%s key %s" % (meta["namespace"], meta["name"], name), _decoded(data))
    return SECRETS


def assert_no_secret(run, output):
    """OUTPUT of RUN holds none of the lab's secrets (plain or base64) nor a private key."""
    leaked = secrets_proof.leaks(output, lab_secrets())
    assert not leaked, "%s printed %s" % (run, "; ".join(leaked))
    assert "PRIVATE KEY-----" not in output, "%s printed a private key" % run


def runner_playbook(name, private_dir, *args, timeout=3600):
    """The playbook run as AWX runs a job: ansible-runner with a private data directory of its
    own (env/cmdline holds the inventories and ARGS; the project is this checkout), the same
    settings as playbook(). Returns (artifacts {status, rc, stdout, events}, process, seconds);
    the job's output (its stdout file and events) is searched for the lab's secrets."""
    env = _playbook_env(None)
    os.makedirs(os.path.join(private_dir, "env"), exist_ok=True)
    cmdline = []
    for inv in INVENTORIES:
        cmdline += ["-i", inv]
    with open(os.path.join(private_dir, "env", "cmdline"), "w") as fh:
        fh.write(" ".join(shlex.quote(a) for a in cmdline + list(args)))
    ident = "e2e"
    argv = [os.path.join(BIN, "ansible-runner"), "run", private_dir, "--project-dir", ROOT,
            "-p", os.path.join("playbooks", name), "--ident", ident, "-q"]
    start = time.time()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=timeout, check=False)
    took = time.time() - start
    artifacts = os.path.join(private_dir, "artifacts", ident)
    out = {}
    for item in ("status", "rc", "stdout"):
        path = os.path.join(artifacts, item)
        out[item] = None
        if os.path.exists(path):
            with open(path) as fh:
                out[item] = fh.read().strip()
    events_dir = os.path.join(artifacts, "job_events")
    names = os.listdir(events_dir) if os.path.isdir(events_dir) else []
    # Event files are <counter>-<uuid>.json: in the order the run emitted them.
    out["events"] = []
    for event_file in sorted(names, key=lambda n: int(n.split("-", 1)[0])):
        with open(os.path.join(events_dir, event_file)) as fh:
            out["events"].append(json.load(fh))
    log("ansible-runner %s %s: %.0f s, status %s, rc %s" % (name, " ".join(args), took, out["status"], out["rc"]))
    assert_no_secret("ansible-runner %s %s" % (name, " ".join(args)),
                     proc.stdout + proc.stderr + (out["stdout"] or "") + json.dumps(out["events"]))
    return out, proc, took


def _playbook_env(env_extra):
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": os.path.join(ROOT, ".collections"),
        "ANSIBLE_CONFIG": os.path.join(ROOT, "hack", "ansible.cfg"),
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
        "ANSIBLE_NOCOLOR": "1",
        "PATH": BIN + os.pathsep + os.environ.get("PATH", ""),
    })
    # Mitogen keeps one Python per host for the whole run (a task on an emulated machine costs
    # a fraction of a second instead of seconds); XC_E2E_STRATEGY=linear runs without it.
    env["ANSIBLE_STRATEGY"] = os.environ.get("XC_E2E_STRATEGY", "mitogen_linear")
    # Facts gathered once per host life and cached, as ops do with fact_caching (kubespray's
    # default) or AWX's fact cache: a rerun skips the setup module. hack/lab.sh down drops a
    # host's file; the roles read what drifts (swap, the kernel) live, not from facts.
    env.update({
        "ANSIBLE_CACHE_PLUGIN": "ansible.builtin.jsonfile",
        "ANSIBLE_CACHE_PLUGIN_CONNECTION": os.path.join(LAB_STATE, "facts"),
        "ANSIBLE_CACHE_PLUGIN_TIMEOUT": "7200",
    })
    env.update(env_extra or {})
    env.pop("REQUESTS_CA_BUNDLE", None)
    return env


def _result_text(res):
    """A failed result's message; a command's "non-zero return code" alone says nothing, so
    the last lines of its stderr (else stdout) follow it."""
    msg = res.get("msg")
    output = (res.get("stderr") or res.get("stdout") or "").strip()
    if not msg:
        return output or res
    if output and "rc" in res:
        return "%s (rc %s): %s" % (msg, res["rc"], " | ".join(output.splitlines()[-5:]))
    return msg


def failures(report):
    """Every failed task result as 'host: task: msg'. A loop's failure says only "One or more
    items failed": each failed item's message follows it (the full tier once lost why a
    service of the loong64 machine did not start)."""
    out = []
    for play in report.get("plays", []):
        for task in play["tasks"]:
            for host, res in task["hosts"].items():
                if res.get("failed") or res.get("unreachable"):
                    items = ["%s: %s" % (item.get("item"), _result_text(item))
                             for item in res.get("results") or [] if isinstance(item, dict) and item.get("failed")]
                    out.append("%s: %s: %s%s" % (host, task["task"]["name"], _result_text(res),
                                                 "".join("\n    item " + i for i in items)))
    return out


def task_results(report, name):
    """[(host, result)] of every run of the task called NAME (a role's tasks: the part after
    its "Role | " prefix will do)."""
    return [(host, res) for play in report.get("plays", []) for task in play["tasks"]
            if task["task"]["name"] == name or task["task"]["name"].endswith("| " + name)
            for host, res in task["hosts"].items()]


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


RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def recap(output):
    """{host: {"ok", "changed", "unreachable", "failed"}} from a default-callback PLAY RECAP."""
    text = output[output.rfind("PLAY RECAP"):]
    return {m.group(1): {"ok": int(m.group(2)), "changed": int(m.group(3)),
                         "unreachable": int(m.group(4)), "failed": int(m.group(5))}
            for m in RECAP.finditer(text)}


def wait_for(what, probe, timeout=600, interval=3):
    """Poll PROBE until it returns a truthy value; fail naming WHAT and the last answer."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("%s: not after %d s (last: %r)" % (what, timeout, last))


def lab_sh(action, hosts):
    """The argv of hack/lab.sh ACTION for HOSTS of the topology."""
    return [os.path.join(ROOT, "hack", "lab.sh"), action, "--topology", TOPOLOGY] + list(hosts)


def start_hosts(*hosts):
    """Start HOSTS of the topology (hack/lab.sh up: a host already up is reused)."""
    sh(lab_sh("up", hosts), timeout=3600)


def stop_hosts(*hosts):
    """Stop HOSTS after their last use (hack/lab.sh down; the network stays while others use it)."""
    sh(lab_sh("down", hosts), timeout=600)


# The push of the application images that bring_up(apps_later=True) leaves running.
_APPS_PUSH = {}


def bring_up(apps_later=False):
    """The lab as `make lab` makes it, for the e2e tests and bench/rollout.py: the offline
    bundle, the topology's hosts, the registry host installed by playbooks/registry.yml (the
    collection's registry role, from the bundle), the cluster images and the application images
    pushed to it. Returns {step: seconds}. APPS_LATER: the application images (only the app
    store's releases and the database's StatefulSets pull them) are pushed in the background,
    beside the first rollout; app_images_pushed() waits for them."""
    times = {}
    start = time.time()
    sh([os.path.join(ROOT, "hack", "bundle.sh")], timeout=7200)
    times["bundle"] = time.time() - start
    # The containers first, then the machines boot in the background (about a minute under
    # emulation) while the registry host is installed and the images pushed: none of that
    # reaches a machine.
    start = time.time()
    start_hosts(*[h for h in STARTED if not is_machine(h)])
    times["lab up (containers)"] = time.time() - start
    booting = _start_in_background(lab_sh("up", [h for h in STARTED if is_machine(h)]))
    report, proc, times["registry.yml"] = playbook("registry.yml")
    assert_ok(report, proc)
    registry = os.path.join(LAB_STATE, "registry")
    with open(os.path.join(registry, "username")) as fh:
        user = fh.read().strip()
    address = [v["address"] for v in HOSTS.values() if v["profile"] == "registry"][0]
    push = [os.path.join(ROOT, "hack", "images.sh"), "push", address + ":5000",
            "--ca", os.path.join(registry, "ca.crt"), "--username", user,
            "--password-file", os.path.join(registry, "password")]
    start = time.time()
    sh(push, timeout=3600)
    times["images push"] = time.time() - start
    # The application images built here, for the app store's releases (playbooks/appstore.yml).
    start = time.time()
    apps = _start_in_background(push, env=dict(os.environ, XC_IMAGES_SET="apps"))
    if apps_later:
        _APPS_PUSH["started"] = (apps, start)
    else:
        _wait_in_background(apps, timeout=3600)
        times["images push (apps)"] = time.time() - start
    start = time.time()
    _wait_in_background(booting, timeout=3600)
    times["machines up (after the pushes)"] = time.time() - start
    return times


def app_images_pushed():
    """Wait for the push of the application images that bring_up(apps_later=True) started;
    the seconds it took from its start, or None when none is pending (pushed already)."""
    pending = _APPS_PUSH.pop("started", None)
    if pending is None:
        return None
    started, start = pending
    _wait_in_background(started, timeout=3600)
    return time.time() - start


def _start_in_background(cmd, env=None):
    """CMD started with its output in a temporary file; _wait_in_background ends it."""
    out = tempfile.TemporaryFile()
    return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env), out


def _wait_in_background(started, timeout):
    """Wait for a command of _start_in_background; fail with its output if it failed."""
    proc, out = started
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    out.seek(0)
    text = out.read().decode(errors="replace")
    out.close()
    if proc.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s" % (" ".join(proc.args), proc.returncode, text[-4000:]))
