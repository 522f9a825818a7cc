# shellcheck shell=bash
# Certificates and kubeconfigs of the testbed, made by hack/pki.py (the one certificate maker
# of the test bed, the lab and the tests) and kept in $TB_STATE/pki until
# `hack/testbed.sh reset`; a certificate that no longer matches what is asked here (subject,
# names, usage, CA, or near its end) is issued again. Sourced by hack/testbed.sh.
#
# Three CAs, as kubeadm lays them out: the cluster CA (API clients, serving certificates),
# an etcd CA (etcd only trusts the API server), and the front-proxy CA (the aggregation layer:
# only the API server may assert user names to metrics-server).
# Keys are ECDSA P-256: generated in milliseconds, accepted by every component.

TB_PKI="$TB_STATE/pki"
TB_CERT_DAYS="${TB_CERT_DAYS:-825}"

# The venv's Python has the cryptography library (hack/setup.sh installs it).
tb_pki_py() { "$XC_VENV/bin/python3" "$XC_ROOT/hack/pki.py" "$@" >&2 || xc_die "hack/pki.py $*: failed"; }

# tb_ca NAME CN
tb_ca() { tb_pki_py ca "$TB_PKI" --name "$1" --cn "$2" --days "$TB_CERT_DAYS"; }

# tb_cert NAME CA CN USAGE [SAN] [O]: USAGE is server, client or both; SAN like "IP:127.0.0.1,DNS:localhost".
tb_cert() {
  local name="$1" ca="$2" cn="$3" usage="$4" san="${5:-}" org="${6:-}"
  tb_pki_py cert "$TB_PKI" "$name" --ca "$TB_PKI" --ca-name "$ca" --cn "$cn" "--$usage" --san "$san" \
    ${org:+--org "$org"} --days "$TB_CERT_DAYS"
}

# tb_kubeconfig FILE CERT-NAME [USER [NAMESPACE]]: a kubeconfig for the API server with client
# certificate CERT-NAME embedded, made as the kubernetes role makes its kubeconfigs
# (plugins/plugin_utils/cluster/components.py).
tb_kubeconfig() {
  local file="$1" cert="$2" user="${3:-$2}"
  (umask 077 && xc_cli plugin_utils.cluster.components kubeconfig "https://127.0.0.1:$TB_PORT_APISERVER" testbed "$user" "$TB_PKI/ca.crt" \
    "$TB_PKI/$cert.crt" "$TB_PKI/$cert.key" "${4:-default}" >"$file.tmp" && mv "$file.tmp" "$file") \
    || xc_die "cannot write the kubeconfig $file"
}

tb_pki() {
  mkdir -p "$TB_PKI"; chmod 700 "$TB_PKI"
  local lo="IP:127.0.0.1,DNS:localhost"
  tb_ca ca "testbed-ca"
  tb_ca etcd-ca "testbed-etcd-ca"
  tb_ca front-proxy-ca "testbed-front-proxy-ca"

  tb_cert etcd-server etcd-ca etcd both "$lo"
  tb_cert apiserver-etcd-client etcd-ca kube-apiserver-etcd-client client

  # 10.96.0.1: first address of the service range, what in-cluster clients would dial.
  tb_cert apiserver ca kube-apiserver server \
    "$lo,IP:10.96.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  tb_cert apiserver-kubelet-client ca kube-apiserver-kubelet-client client "" kubeadm:cluster-admins
  tb_cert front-proxy-client front-proxy-ca front-proxy-client client

  tb_cert admin ca testbed-admin client "" system:masters
  tb_cert controller-manager ca system:kube-controller-manager client
  tb_cert scheduler ca system:kube-scheduler client
  tb_cert kwok ca testbed:kwok-controller client
  tb_cert metrics-server ca testbed:metrics-server client
  tb_cert user ca "$TB_USER" client "" testbed:users
  # kwok answers as the kubelet of every simulated node, all on 127.0.0.1.
  tb_cert kwok-serving ca kwok server "$lo"
  # The aggregator checks the name <service>.<namespace>.svc of the APIService's Service.
  tb_cert metrics-server-serving ca metrics-server server \
    "$lo,DNS:metrics-server.kube-system.svc,DNS:metrics-server.kube-system.svc.cluster.local"

  # The service account signing key and its public half.
  tb_pki_py keypair "$TB_PKI" sa

  tb_kubeconfig "$TB_STATE/admin.kubeconfig" admin testbed-admin
  tb_kubeconfig "$TB_STATE/controller-manager.kubeconfig" controller-manager
  tb_kubeconfig "$TB_STATE/scheduler.kubeconfig" scheduler
  tb_kubeconfig "$TB_STATE/kwok.kubeconfig" kwok
  tb_kubeconfig "$TB_STATE/metrics-server.kubeconfig" metrics-server
  tb_kubeconfig "$TB_STATE/user.kubeconfig" user "$TB_USER" "$TB_USER_NAMESPACE"
}
