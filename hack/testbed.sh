#!/usr/bin/env bash
# A real Kubernetes control plane for tests, built from upstream source (docs/testbed.md).
#   hack/testbed.sh build [SET] [GOARCH]  build matrix rows (default: set testbed, host GOARCH)
#   hack/testbed.sh up [--metrics]        start it on 127.0.0.1 (--metrics or TESTBED_METRICS=1:
#                                         also metrics-server, so `kubectl top` and HPAs work)
#   hack/testbed.sh down                  stop every process `up` started, by PID
#   hack/testbed.sh status                what runs, on which ports, where the logs are
#   hack/testbed.sh reset                 down, then forget etcd data, certificates, kubeconfigs
source "$(dirname "$0")/common.sh"
TB_STATE="${TB_STATE:-$XC_ROOT/.testbed}"
TB_USER=team-a-user
TB_USER_NAMESPACE=team-a
source "$XC_ROOT/hack/testbed/build.sh"
source "$XC_ROOT/hack/testbed/pki.sh"
source "$XC_ROOT/hack/testbed/run.sh"

# The architecture model (nodes.py, tb_host_goarch) imports by its collection path.
if [ ! -e "$XC_ROOT/.collections/ansible_collections/xinchuang/cloud" ]; then
  mkdir -p "$XC_ROOT/.collections/ansible_collections/xinchuang"
  ln -sfn "$XC_ROOT" "$XC_ROOT/.collections/ansible_collections/xinchuang/cloud"
fi

usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
TB_HOST_GOARCH="$(tb_host_goarch)"

cmd="${1:-}"; shift || true
case "$cmd" in
  build)
    set_name="${1:-testbed}"; goarch="${2:-$(tb_host_goarch)}"
    tb_build "$set_name" "$goarch"
    if [ "$set_name" = testbed ] && [ "$goarch" = "$(tb_host_goarch)" ]; then tb_link_bin testbed; fi
    ;;
  up)
    metrics="${TESTBED_METRICS:-0}"
    for a in "$@"; do
      case "$a" in
        --metrics) metrics=1 ;;
        *) usage ;;
      esac
    done
    # Builds only what is missing from the cache (a few file tests when all is there).
    tb_build testbed "$(tb_host_goarch)"
    tb_lock
    tb_up "$metrics"
    ;;
  down) tb_lock; tb_down ;;
  status) tb_status ;;
  reset) tb_lock; tb_reset ;;
  *) usage ;;
esac
