# shellcheck shell=bash
# Run half of hack/testbed.sh: start, stop and report the control plane. Sourced after
# hack/common.sh, build.sh and pki.sh.
#
# Every process is started by `up` with setsid (it outlives the shell that started it),
# recorded in $TB_STATE/run/<component>.pid (PID and the binary it must be running), and
# stopped by `down` through that PID only, after checking /proc/PID/exe is still that binary.

TB_RUN="$TB_STATE/run"
TB_LOGS="$TB_STATE/logs"
TB_MANIFESTS="$XC_ROOT/hack/testbed/manifests"
TB_START_TIMEOUT="${TESTBED_START_TIMEOUT:-90}"

# Base components in start order; metrics-server is the add-on of `up --metrics`.
TB_BASE=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
TB_ALL=("${TB_BASE[@]}" metrics-server)

# Ports, all on 127.0.0.1: component, the environment variable that moves the port, default.
TB_PORTS=(
  "etcd TESTBED_PORT_ETCD 12379"
  "etcd TESTBED_PORT_ETCD_PEER 12380"
  "kube-apiserver TESTBED_PORT_APISERVER 16443"
  "kube-controller-manager TESTBED_PORT_CONTROLLER_MANAGER 16257"
  "kube-scheduler TESTBED_PORT_SCHEDULER 16259"
  "kwok TESTBED_PORT_KWOK 16250"
  "metrics-server TESTBED_PORT_METRICS_SERVER 16444"
)
tb_port() {  # NAME (ETCD, APISERVER, ...): the port in use
  local c comp var def
  for c in "${TB_PORTS[@]}"; do
    read -r comp var def <<<"$c"
    if [ "$var" = "TESTBED_PORT_$1" ]; then echo "${!var:-$def}"; fi
  done
}
TB_PORT_ETCD="$(tb_port ETCD)"
TB_PORT_ETCD_PEER="$(tb_port ETCD_PEER)"
TB_PORT_APISERVER="$(tb_port APISERVER)"
TB_PORT_CONTROLLER_MANAGER="$(tb_port CONTROLLER_MANAGER)"
TB_PORT_SCHEDULER="$(tb_port SCHEDULER)"
TB_PORT_KWOK="$(tb_port KWOK)"
TB_PORT_METRICS_SERVER="$(tb_port METRICS_SERVER)"

# tb_ports_of COMPONENT: "port variable" lines
tb_ports_of() {
  local c comp var
  for c in "${TB_PORTS[@]}"; do
    read -r comp var _ <<<"$c"
    if [ "$comp" = "$1" ]; then echo "$(tb_port "${var#TESTBED_PORT_}") $var"; fi
  done
}

tb_kubectl() { "$(tb_bin kubectl)" --kubeconfig "$TB_STATE/admin.kubeconfig" "$@"; }

# --- processes -------------------------------------------------------------------------

tb_pid() { [ -f "$TB_RUN/$1.pid" ] && sed -n 1p "$TB_RUN/$1.pid"; }

# tb_running NAME: the recorded PID is alive and still runs the recorded binary.
tb_running() {
  local pid exe
  pid="$(tb_pid "$1")" || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  exe="$(sed -n 2p "$TB_RUN/$1.pid")"
  [ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" = "$exe" ]
}

tb_start() {
  local name="$1"; shift
  local exe; exe="$(readlink -f "$1")"
  mkdir -p "$TB_RUN" "$TB_LOGS"
  printf '# %s started %s\n# %s\n' "$name" "$(date -Is)" "$*" >"$TB_LOGS/$name.log"
  # 8>&- 9>&-: the daemon must not inherit (and so hold forever) the build lock or the lock
  # of tb_lock (`hack/testbed.sh up` after a build in the same shell).
  setsid "$@" >>"$TB_LOGS/$name.log" 2>&1 </dev/null 8>&- 9>&- &
  local pid="$!" i
  printf '%s\n%s\n' "$pid" "$exe" >"$TB_RUN/$name.pid"
  # The background shell execs setsid, which execs the program: until then /proc/PID/exe is
  # bash or setsid, and tb_running takes a program still starting for one that exited (a CI run
  # on a loaded machine failed so: "kube-apiserver: exited during start-up", then stopped it).
  for i in $(seq 1 50); do
    tb_running "$name" || ! kill -0 "$pid" 2>/dev/null && break
    sleep 0.1
  done
}

# tb_stop NAME...: SIGTERM to each recorded process at once, SIGKILL to any still there after 10 s.
tb_stop() {
  local name pids=() names=() i pid
  for name in "$@"; do
    if tb_running "$name"; then
      pid="$(tb_pid "$name")"
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid"); names+=("$name")
    fi
    rm -f "$TB_RUN/$name.pid"
  done
  for i in $(seq 1 50); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  for i in "${!pids[@]}"; do
    if kill -0 "${pids[$i]}" 2>/dev/null; then
      xc_log "${names[$i]} (pid ${pids[$i]}) ignored SIGTERM for 10 s: SIGKILL"
      kill -KILL "${pids[$i]}" 2>/dev/null || true
    fi
    xc_log "stopped ${names[$i]} (pid ${pids[$i]})"
  done
}

tb_log_tail() {
  local name="$1" n="${2:-40}"
  [ -f "$TB_LOGS/$name.log" ] || return 0
  echo "----- last $n lines of $TB_LOGS/$name.log -----" >&2
  tail -n "$n" "$TB_LOGS/$name.log" >&2
  echo "----- end of $name log -----" >&2
}

# tb_fail NAME MESSAGE: print the component's log tail, stop what was started, exit 1.
tb_fail() {
  local name="$1"; shift
  printf 'ERROR: %s: %s\n' "$name" "$*" >&2
  tb_log_tail "$name"
  xc_log "stopping the half-started testbed"
  tb_down >&2
  exit 1
}

# tb_wait NAME CHECK...: until CHECK succeeds; fail fast when the process exits.
tb_wait() {
  local name="$1"; shift
  local deadline=$(( $(date +%s) + TB_START_TIMEOUT ))
  while :; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    tb_running "$name" || tb_fail "$name" "exited during start-up"
    [ "$(date +%s)" -lt "$deadline" ] || tb_fail "$name" "not ready after ${TB_START_TIMEOUT}s"
    sleep 0.5
  done
}

tb_https() {  # URL [curl args]: GET must answer 2xx
  local url="$1"; shift
  curl -sf --max-time 3 "$@" "$url"
}

# --- preflight ----------------------------------------------------------------------------

tb_check_ports() {
  local name port line who var
  for name in "$@"; do
    while read -r port var; do
      line="$(ss -Hltnp "sport = :$port" 2>/dev/null | head -n1)"
      [ -z "$line" ] && continue
      who="$(sed -n 's/.*users:(("\([^"]*\)",pid=\([0-9]*\).*/\1 (pid \2)/p' <<<"$line")"
      xc_die "port $port ($name) is already taken by ${who:-an unknown process} ($(awk '{print $4}' <<<"$line")). \
Stop that process, or run the testbed on another port: export $var=<free port>. Check with: ss -ltnp 'sport = :$port'"
    done < <(tb_ports_of "$name")
  done
}

tb_check_tools() {
  local t
  for t in curl ss python3 setsid; do
    command -v "$t" >/dev/null 2>&1 || xc_die "'$t' is missing: apt-get install curl iproute2 python3 util-linux"
  done
  for t in "${TB_ALL[@]}" kubectl; do tb_bin "$t" >/dev/null; done
}

# --- kwok configuration -------------------------------------------------------------------

# kwok ships its node/pod lifecycle stages and the kubelet metrics emulation as YAML in its
# module (kustomize/); the testbed reads them from the very version it built, unmodified.
tb_kwok_config() {
  local version dir
  version="$(tb_bundle version kwok)"
  dir="$(tb_bundle source kwok)" || xc_die "cannot fetch the source of kwok $version"
  [ -d "$dir/kustomize" ] || xc_die "kwok $version has no kustomize/ directory (in $dir)"
  local f out="$TB_STATE/kwok.yaml"
  : >"$out"
  for f in stage/node/fast/node-initialize.yaml \
           stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           stage/pod/fast/pod-ready.yaml stage/pod/fast/pod-complete.yaml stage/pod/fast/pod-delete.yaml \
           metrics/resource/metrics-resource.yaml \
           metrics/usage/usage-from-annotation.yaml; do
    [ -f "$dir/kustomize/$f" ] || xc_die "kwok $version has no kustomize/$f"
    { echo "---"; echo "# from sigs.k8s.io/kwok@$version kustomize/$f"; cat "$dir/kustomize/$f"; } >>"$out"
  done
}

# --- components -----------------------------------------------------------------------------

# tb_flags COMPONENT OVERRIDES-JSON: the flags the kubernetes role gives COMPONENT
# (plugins/plugin_utils/cluster/components.py), for the test bed's inputs, with the test bed's
# overrides over them, one --flag=value per line. The test bed thus runs the role's flags.
tb_flags() {
  local inputs
  inputs="$(printf '{"node_name": "testbed", "node_ip": "127.0.0.1", "pki_dir": "%s",
    "cluster_name": "testbed", "cluster_domain": "cluster.local", "etcd_data_dir": "%s",
    "etcd_initial_cluster": "testbed=https://127.0.0.1:%s", "etcd_servers": "https://127.0.0.1:%s",
    "etcd_client_port": %s, "etcd_peer_port": %s, "apiserver_port": %s,
    "service_cidr": "10.96.0.0/16", "pod_cidr": "10.244.0.0/16", "node_cidr_mask_size": 24,
    "controller_manager_kubeconfig": "%s", "scheduler_kubeconfig": "%s",
    "audit_policy_file": "%s", "audit_log_path": "%s", "audit_log_maxbackup": 2,
    "encryption_config_file": "%s"}' \
    "$TB_PKI" "$TB_STATE/etcd" "$TB_PORT_ETCD_PEER" "$TB_PORT_ETCD" "$TB_PORT_ETCD" \
    "$TB_PORT_ETCD_PEER" "$TB_PORT_APISERVER" "$TB_STATE/controller-manager.kubeconfig" \
    "$TB_STATE/scheduler.kubeconfig" "$TB_AUDIT_POLICY" "$TB_AUDIT_LOG" "$TB_ENCRYPTION_CONFIG")"
  xc_cli plugin_utils.cluster.components flags "$1" "$inputs" "$2" || xc_die "no flags for $1 (plugins/plugin_utils/cluster/components.py)"
}

# The API server's hardening files, made by the role's builders (kube_components.py): the
# audit policy, and the encryption configuration of Secrets with an aescbc key made once (32
# bytes of /dev/urandom) and kept with the certificates until `reset` forgets it with etcd's data.
TB_AUDIT_POLICY="$TB_STATE/audit-policy.yaml"
TB_AUDIT_LOG="$TB_LOGS/audit.log"
TB_ENCRYPTION_CONFIG="$TB_STATE/encryption-config.yaml"
TB_ENCRYPTION_KEY="$TB_PKI/encryption-aescbc.key"
tb_hardening_files() {
  mkdir -p "$TB_PKI" "$TB_LOGS"; chmod 700 "$TB_PKI"
  if [ ! -s "$TB_ENCRYPTION_KEY" ]; then
    (umask 077 && head -c 32 /dev/urandom | base64 >"$TB_ENCRYPTION_KEY.tmp" && mv "$TB_ENCRYPTION_KEY.tmp" "$TB_ENCRYPTION_KEY") \
      || xc_die "cannot write $TB_ENCRYPTION_KEY"
  fi
  (umask 077 && xc_cli plugin_utils.cluster.components encryption-config "$TB_ENCRYPTION_KEY" >"$TB_ENCRYPTION_CONFIG.tmp" \
    && mv "$TB_ENCRYPTION_CONFIG.tmp" "$TB_ENCRYPTION_CONFIG") || xc_die "cannot write $TB_ENCRYPTION_CONFIG"
  (xc_cli plugin_utils.cluster.components audit-policy >"$TB_AUDIT_POLICY.tmp" && mv "$TB_AUDIT_POLICY.tmp" "$TB_AUDIT_POLICY") \
    || xc_die "cannot write $TB_AUDIT_POLICY"
}

tb_start_etcd() {
  local p="$TB_PKI" flags
  mkdir -p "$TB_STATE/etcd"; chmod 700 "$TB_STATE/etcd"
  # One member on loopback: its server certificate serves the peer port too. --unsafe-no-fsync:
  # a throw-away test store; fsync on a shared disk costs seconds per test.
  mapfile -t flags < <(tb_flags etcd "{\"peer-cert-file\": \"$p/etcd-server.crt\",
    \"peer-key-file\": \"$p/etcd-server.key\", \"unsafe-no-fsync\": true, \"log-level\": \"warn\"}")
  [ "${#flags[@]}" -gt 0 ] || xc_die "no flags for etcd"
  tb_start etcd "$(tb_bin etcd)" "${flags[@]}"
  tb_wait etcd tb_https "https://127.0.0.1:$TB_PORT_ETCD/health" --cacert "$p/etcd-ca.crt" \
    --cert "$p/apiserver-etcd-client.crt" --key "$p/apiserver-etcd-client.key"
}

# Over the role's flags: listen on loopback only; --endpoint-reconciler-type=none (the default
# reconciler refuses to publish a loopback address as the `kubernetes` Service's endpoint;
# nothing in-cluster dials it here); kwok answers as every node's kubelet on 127.0.0.1 with a
# certificate of the cluster CA; no aggregator routing to endpoints, since metrics-server runs on
# the host behind an ExternalName Service, which only service routing resolves.
tb_start_apiserver() {
  local p="$TB_PKI" flags
  mapfile -t flags < <(tb_flags kube-apiserver "{\"bind-address\": \"127.0.0.1\",
    \"endpoint-reconciler-type\": \"none\", \"kubelet-certificate-authority\": \"$p/ca.crt\",
    \"kubelet-preferred-address-types\": \"InternalIP\", \"enable-aggregator-routing\": null}")
  [ "${#flags[@]}" -gt 0 ] || xc_die "no flags for kube-apiserver"
  # shellcheck disable=SC2086 # extra flags are split on purpose
  tb_start kube-apiserver "$(tb_bin kube-apiserver)" "${flags[@]}" ${TESTBED_APISERVER_ARGS:-}
  tb_wait kube-apiserver tb_https "https://127.0.0.1:$TB_PORT_APISERVER/readyz" --cacert "$p/ca.crt" \
    --cert "$p/admin.crt" --key "$p/admin.key"
}

# Over the role's flags: the test bed's ports, and no leader election (one of each).
tb_start_controllers() {
  local p="$TB_PKI" k="$TB_STATE" cm sched
  mapfile -t cm < <(tb_flags kube-controller-manager \
    "{\"secure-port\": \"$TB_PORT_CONTROLLER_MANAGER\", \"leader-elect\": \"false\"}")
  mapfile -t sched < <(tb_flags kube-scheduler \
    "{\"secure-port\": \"$TB_PORT_SCHEDULER\", \"leader-elect\": \"false\"}")
  if [ "${#cm[@]}" -eq 0 ] || [ "${#sched[@]}" -eq 0 ]; then xc_die "no flags for the controllers"; fi
  # shellcheck disable=SC2086
  tb_start kube-controller-manager "$(tb_bin kube-controller-manager)" "${cm[@]}" \
    ${TESTBED_CONTROLLER_MANAGER_ARGS:-}
  # shellcheck disable=SC2086
  tb_start kube-scheduler "$(tb_bin kube-scheduler)" "${sched[@]}" ${TESTBED_SCHEDULER_ARGS:-}
  tb_start kwok "$(tb_bin kwok)" --kubeconfig="$k/kwok.kubeconfig" --config="$k/kwok.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --node-ip=127.0.0.1 --node-port="$TB_PORT_KWOK" --server-address="127.0.0.1:$TB_PORT_KWOK" \
    --tls-cert-file="$p/kwok-serving.crt" --tls-private-key-file="$p/kwok-serving.key" \
    --cidr=10.244.0.0/16 --node-lease-duration-seconds=40
  # Started together; each is waited for in turn (their start-ups overlap).
  tb_wait kube-controller-manager tb_https "https://127.0.0.1:$TB_PORT_CONTROLLER_MANAGER/healthz" -k
  tb_wait kube-scheduler tb_https "https://127.0.0.1:$TB_PORT_SCHEDULER/healthz" -k
  tb_wait kwok tb_https "https://127.0.0.1:$TB_PORT_KWOK/healthz" --cacert "$p/ca.crt"
}

tb_apply_nodes() {
  local out
  out="$(PYTHONPATH="$XC_ROOT/.collections" python3 "$XC_ROOT/hack/testbed/nodes.py" \
    --per-family "${TESTBED_NODES_PER_FAMILY:-1}")" || xc_die "hack/testbed/nodes.py failed (see above)"
  tb_kubectl apply -f - <<<"$out" >/dev/null || tb_fail kube-apiserver "creating the kwok nodes failed"
}

tb_start_metrics_server() {
  local p="$TB_PKI" k="$TB_STATE"
  sed -e "s/__PORT__/$TB_PORT_METRICS_SERVER/" -e "s/__CA_BUNDLE__/$(base64 -w0 "$p/ca.crt")/" \
    "$TB_MANIFESTS/metrics-server.yaml" | tb_kubectl apply -f - >/dev/null \
    || tb_fail kube-apiserver "applying the metrics-server manifests failed"
  # --kubelet-use-node-status-port: every kwok node reports kwok's port as its kubelet port.
  tb_start metrics-server "$(tb_bin metrics-server)" \
    --bind-address=127.0.0.1 --secure-port="$TB_PORT_METRICS_SERVER" \
    --tls-cert-file="$p/metrics-server-serving.crt" --tls-private-key-file="$p/metrics-server-serving.key" \
    --kubeconfig="$k/metrics-server.kubeconfig" --authentication-kubeconfig="$k/metrics-server.kubeconfig" \
    --authorization-kubeconfig="$k/metrics-server.kubeconfig" \
    --kubelet-preferred-address-types=InternalIP --kubelet-use-node-status-port \
    --kubelet-certificate-authority="$p/ca.crt" --metric-resolution=15s
  tb_wait metrics-server tb_https "https://127.0.0.1:$TB_PORT_METRICS_SERVER/livez" -k
  tb_wait metrics-server tb_kubectl wait --for=condition=Available --timeout=2s apiservice/v1beta1.metrics.k8s.io
}

tb_wait_cluster_ready() {
  tb_wait kwok tb_kubectl wait --for=condition=Ready --timeout=2s nodes -l type=kwok
  # Pods are refused until the service-account controller made the namespace's default SA.
  tb_wait kube-controller-manager tb_kubectl -n "$TB_USER_NAMESPACE" get serviceaccount default
  tb_wait kube-controller-manager tb_kubectl -n default get serviceaccount default
}

# --- commands -----------------------------------------------------------------------------

# One up/down/reset at a time per state directory (several test sessions share .testbed).
tb_lock() {
  mkdir -p "$TB_STATE"
  exec 9>"$TB_STATE/.lock"
  flock -w 600 9 || xc_die "another hack/testbed.sh holds $TB_STATE/.lock for 10 minutes"
}

tb_all_running() { local c; for c in "$@"; do tb_running "$c" || return 1; done; }
tb_any_running() { local c; for c in "$@"; do tb_running "$c" && return 0; done; return 1; }

tb_up() {
  local metrics="$1" start; start=$(date +%s)
  tb_check_tools
  if tb_all_running "${TB_BASE[@]}" && tb_https "https://127.0.0.1:$TB_PORT_APISERVER/readyz" \
      --cacert "$TB_PKI/ca.crt" --cert "$TB_PKI/admin.crt" --key "$TB_PKI/admin.key" >/dev/null 2>&1; then
    if [ "$metrics" = 1 ] && ! tb_running metrics-server; then
      tb_check_ports metrics-server
      tb_start_metrics_server
      xc_log "metrics-server added in $(( $(date +%s) - start ))s"
    else
      xc_log "testbed already up"
    fi
    tb_summary
    return 0
  fi
  if tb_any_running "${TB_ALL[@]}"; then
    xc_log "testbed is half up (some components stopped): restarting it"
    tb_down
  fi
  local want=("${TB_BASE[@]}"); [ "$metrics" = 1 ] && want+=(metrics-server)
  tb_check_ports "${want[@]}"
  mkdir -p "$TB_STATE" "$TB_RUN" "$TB_LOGS"
  tb_pki
  tb_hardening_files
  tb_kwok_config
  tb_link_bin testbed
  tb_start_etcd
  tb_start_apiserver
  tb_kubectl apply -f "$TB_MANIFESTS/bootstrap.yaml" >/dev/null || tb_fail kube-apiserver "bootstrap manifests refused"
  tb_start_controllers
  tb_apply_nodes
  tb_wait_cluster_ready
  [ "$metrics" = 1 ] && tb_start_metrics_server
  xc_log "testbed up in $(( $(date +%s) - start ))s"
  tb_summary
}

# Clients first, then the API server (it drains their watches otherwise), then etcd.
tb_down() {
  tb_stop metrics-server kwok kube-scheduler kube-controller-manager
  tb_stop kube-apiserver
  tb_stop etcd
}

tb_summary() {
  cat <<EOF
testbed: https://127.0.0.1:$TB_PORT_APISERVER
  export KUBECONFIG=$TB_STATE/admin.kubeconfig    # admin (system:masters)
  $TB_STATE/user.kubeconfig                       # $TB_USER: admin of namespace $TB_USER_NAMESPACE only
  kubectl: $TB_STATE/bin/kubectl
  logs:    $TB_LOGS/<component>.log
EOF
}

tb_status() {
  local c rc=0 ports
  printf '%-24s %-10s %-8s %-14s %s\n' COMPONENT STATE PID PORTS LOG
  for c in "${TB_ALL[@]}"; do
    ports="$(tb_ports_of "$c" | awk '{print $1}' | paste -sd,)"
    if tb_running "$c"; then
      printf '%-24s %-10s %-8s %-14s %s\n' "$c" running "$(tb_pid "$c")" "$ports" "$TB_LOGS/$c.log"
    else
      printf '%-24s %-10s %-8s %-14s %s\n' "$c" stopped - "$ports" "$TB_LOGS/$c.log"
      case " ${TB_BASE[*]} " in *" $c "*) rc=1 ;; esac
    fi
  done
  if [ "$rc" = 0 ]; then
    echo
    tb_summary
  fi
  return "$rc"
}

tb_reset() {
  tb_down
  rm -rf "$TB_STATE/etcd" "$TB_PKI" "$TB_RUN" "$TB_LOGS" "$TB_STATE"/*.kubeconfig "$TB_STATE/kwok.yaml" \
    "$TB_AUDIT_POLICY" "$TB_ENCRYPTION_CONFIG"
  xc_log "testbed state removed (binaries stay cached under $XC_CACHE/build)"
}
