"""What the benchmarks against the Kubernetes testbed share: kubectl, one timed
ansible-playbook run, and the side-by-side table (our module vs its peer, with the ratio).

Used by bench/hpa_thresholds.py and bench/canary_weights.py. Each phase is timed as the wall
time of one ansible-playbook run (start-up included, the same for both tools); the playbook
is written and run by the integration tests' own runner (tests/integration/ansible_run.py),
so the benchmarks run the modules exactly as the tests do.
"""

import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".collections")
for path in (ROOT, COLLECTIONS):
    if path not in sys.path:
        sys.path.insert(0, path)

from tests.integration.ansible_run import run_playbook  # noqa: E402

DEFAULT_KUBECONFIG = os.path.join(ROOT, ".testbed", "admin.kubeconfig")
# A k8s loop over 500 objects takes about 20 minutes on two cores; leave room.
PLAYBOOK_TIMEOUT = 4 * 3600


def kubectl(kubeconfig, *args, **kw):
    """Run the testbed's kubectl (or the one on PATH); stop the bench when it fails."""
    binary = os.path.join(ROOT, ".testbed", "bin", "kubectl")
    if not os.path.exists(binary):
        binary = "kubectl"
    proc = subprocess.run([binary, "--kubeconfig", kubeconfig] + list(args), capture_output=True,
                          text=True, check=False, **kw)
    if proc.returncode != 0:
        raise SystemExit("kubectl %s failed: %s" % (" ".join(args), proc.stderr[-2000:]))
    return proc.stdout


def apply_list(kubeconfig, items, *flags, **kw):
    """kubectl apply of many objects in one request stream (a v1 List on stdin)."""
    return kubectl(kubeconfig, "apply", *(flags + ("-f", "-")),
                   input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}), **kw)


def timed_playbook(tasks, extra_vars=None):
    """(seconds, per-task results) of one ansible-playbook run of ``tasks`` on localhost;
    a failed task stops the bench with its result."""
    start = time.monotonic()
    report, _proc = run_playbook(tasks, extra_vars=extra_vars, timeout=PLAYBOOK_TIMEOUT)
    elapsed = time.monotonic() - start
    results = [t["hosts"]["localhost"] for t in report["plays"][0]["tasks"]]
    for res in results:
        if res.get("failed"):
            raise SystemExit("task failed: %s" % json.dumps(res)[:3000])
    return elapsed, results


def k8s_loop(name, kubeconfig, items_var):
    """The peer: one kubernetes.core.k8s task looping over the objects in ``items_var``."""
    return [{"name": name,
             "kubernetes.core.k8s": {"kubeconfig": kubeconfig, "state": "present",
                                     "definition": "{{ item }}"},
             "loop": "{{ %s }}" % items_var,
             "loop_control": {"label": "{{ item.metadata.name }}"}}]


def server_version(kubeconfig):
    return json.loads(kubectl(kubeconfig, "version", "-o", "json"))["serverVersion"]["gitVersion"]


def comparison_table(title, columns, phases, times, notes=()):
    """Markdown: ``title``, then one row per phase with our time, the peer's and peer/ours.

    ``columns`` is ((our key, our heading), (peer key, peer heading)); ``times`` maps
    (key, phase) to seconds."""
    (ours, ours_heading), (peer, peer_heading) = columns
    lines = [title, "",
             "| phase | %s | %s | ratio |" % (ours_heading, peer_heading),
             "|---|---:|---:|---:|"]
    for phase in phases:
        a, b = times[(ours, phase)], times[(peer, phase)]
        lines.append("| %s | %.1f s | %.1f s | %.1fx |" % (phase, a, b, b / a))
    lines.append("")
    lines.extend(notes)
    return "\n".join(lines) + "\n"


def publish(text, output=None):
    """Print the table, and write it to ``output`` when given."""
    print(text)
    if output:
        os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
        with open(output, "w") as fh:
            fh.write(text)


def utc_now():
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
