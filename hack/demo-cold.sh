#!/usr/bin/env bash
# `make demo` as a new user runs it on a fresh machine: a fresh clone of HEAD and an empty cache
# (XC_CACHE: the virtualenv's wheels, the Go toolchains, modules and builds, the Debian
# packages, the lab's images and machines, the bundle, the images). The full tier's last stage
# (docs/development.md, "Two tiers"): twice a fresh machine's `make demo` failed where a warm
# one passed (issue 34, a race that only a cold first rollout loses).
# Usage: hack/demo-cold.sh   (XC_DEMO_COLD_DIR: where the clone and the cache go, default a new
# directory under /var/tmp; removed at the end unless XC_DEMO_COLD_KEEP=1)
# On a fresh machine, whose cache (XC_CACHE, default /var/cache/xinchuang) is missing or empty,
# that cache is the cold one: the run fills it, and it stays for every later run (the cold
# builds and the check in one). Otherwise the run gets an empty cache of its own under
# XC_DEMO_COLD_DIR, which needs XC_DEMO_COLD_MIN_FREE_GB (default 45) free there: a cold bundle,
# lab and image set with its Go build cache took 47 GB on 2026-12-05.
# shellcheck source=hack/common.sh
source "$(dirname "$0")/common.sh"
work="${XC_DEMO_COLD_DIR:-$(mktemp -d /var/tmp/xc-demo-cold.XXXXXX)}"
[ -z "$(ls -A "$work" 2>/dev/null)" ] || xc_die "XC_DEMO_COLD_DIR=$work is not empty: give an empty or new directory"
repo="$work/repo"
if [ -z "$(ls -A "$XC_CACHE" 2>/dev/null)" ]; then
  cache="$XC_CACHE"   # a fresh machine: its own cache is the empty one, and is kept
else
  cache="$work/cache"
  need_gb="${XC_DEMO_COLD_MIN_FREE_GB:-45}"
  free_gb=$(( $(df --output=avail -k "$work" | tail -n 1) / 1024 / 1024 ))
  if [ "$free_gb" -lt "$need_gb" ]; then
    rmdir "$work" 2>/dev/null || true
    xc_die "a cold cache needs ${need_gb} GB free under $work, which has ${free_gb} GB: set XC_DEMO_COLD_DIR to a larger disk, or run this first on a fresh machine (its empty $XC_CACHE is then the cold cache)"
  fi
fi
mkdir -p "$cache"
# Nothing of this run's environment reaches the clone's (its own caches, venv and Go paths).
clean_env=(env)
for name in $(compgen -e | grep -E '^(XC_|GO|ANSIBLE_|VIRTUAL_ENV$)'); do clean_env+=(-u "$name"); done
clean_env+=(XC_CACHE="$cache")
cleanup() {
  if [ -d "$repo" ]; then
    (cd "$repo" && "${clean_env[@]}" hack/lab.sh down --topology cluster >/dev/null 2>&1) || true
  fi
  [ "${XC_DEMO_COLD_KEEP:-0}" = 1 ] || rm -rf "$work"   # the machine's own cache is not under it
}
trap cleanup EXIT
git clone -q "$XC_ROOT" "$repo"
xc_log "make demo from a fresh clone of $(git -C "$repo" rev-parse --short HEAD) with an empty cache ($cache)"
start=$(date +%s)
rc=0
(cd "$repo" && "${clean_env[@]}" make demo) 2>&1 | tee "$work/demo.log" || rc=$?
took=$(( $(date +%s) - start ))
reports="${XC_TEST_REPORTS:-$XC_ROOT/.test-reports}"
mkdir -p "$reports" && cp "$work/demo.log" "$reports/demo-cold.log"
# The play recaps (registry.yml's, then site.yml's): no host failed or was unreachable, and the
# last one, site.yml's, names every host of the lab inventory's cluster groups. (registry.yml's
# Harbor play matches no host in the lab, which has no harbor group: "no hosts matched" there
# is expected, so the hosts are counted instead.)
# Read with the e2e's own pattern of a recap line (tests/e2e/lab.py RECAP), by the clone's
# virtualenv (PyYAML reads the inventory); the recaps go to stderr, each problem to a line.
problems=()
[ "$rc" -eq 0 ] || problems+=("make demo exited $rc")
judged="$(cd "$repo" && .venv/bin/python - "$work/demo.log" inventories/lab/hosts.yml <<'EOF'
import sys

import yaml

from tests.e2e.lab import RECAP

log, inventory = sys.argv[1:]
with open(log) as fh:
    blocks = fh.read().split("PLAY RECAP")[1:]
for block in blocks:
    sys.stderr.write("PLAY RECAP" + block.split("\n\n", 1)[0] + "\n\n")
if not blocks:
    print("no PLAY RECAP: site.yml did not run to its end")
runs = [RECAP.findall(block) for block in blocks]
if any(int(unreachable) or int(failed) for run in runs for _h, _o, _c, unreachable, failed in run):
    print("a host failed or was unreachable")
with open(inventory) as fh:
    groups = yaml.safe_load(fh)["all"]["children"]
last = dict((host, int(ok)) for host, ok, _c, _u, _f in (runs[-1] if runs else []))
for host in sorted(set(h for g in ("kube_control_plane", "kube_node") for h in groups[g]["hosts"])):
    if not last.get(host):
        print("site.yml's recap has no run on %s" % host)
EOF
)" || judged="the recaps of $work/demo.log or the cluster hosts of inventories/lab/hosts.yml could not be read"
[ -z "$judged" ] || mapfile -t -O "${#problems[@]}" problems <<<"$judged"
if [ "${#problems[@]}" -gt 0 ]; then
  xc_log "cold make demo FAILED after ${took}s: ${problems[*]}"
  grep -E '^(fatal|failed):|FAILED!' "$work/demo.log" | tail -n 20 >&2 || true
  exit 1
fi
xc_log "cold make demo passed in ${took}s (cache $(du -sh "$cache" | cut -f1))"
