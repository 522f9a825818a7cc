# shellcheck shell=bash
# Certificates and kubeconfigs of the testbed, made with openssl once and kept in
# $TB_STATE/pki until `hack/testbed.sh reset`. Sourced by hack/testbed.sh.
#
# Three CAs, as kubeadm lays them out: the cluster CA (API clients, serving certificates),
# an etcd CA (etcd only trusts the API server), and the front-proxy CA (the aggregation layer:
# only the API server may assert user names to metrics-server).
# Keys are ECDSA P-256: generated in milliseconds, accepted by every component.

TB_PKI="$TB_STATE/pki"
TB_CERT_DAYS="${TB_CERT_DAYS:-825}"

tb_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; chmod 600 "$1"; }

# tb_ca NAME CN
tb_ca() {
  local name="$1" cn="$2"
  [ -f "$TB_PKI/$name.crt" ] && return 0
  tb_key "$TB_PKI/$name.key"
  openssl req -x509 -new -key "$TB_PKI/$name.key" -subj "/CN=$cn" -days "$TB_CERT_DAYS" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$TB_PKI/$name.crt" 2>/dev/null
}

# tb_cert NAME CA SUBJECT USAGE [SAN]: USAGE is server, client or both; SAN like "IP:127.0.0.1,DNS:localhost".
tb_cert() {
  local name="$1" ca="$2" subject="$3" usage="$4" san="${5:-}"
  [ -f "$TB_PKI/$name.crt" ] && return 0
  local eku
  case "$usage" in
    server) eku=serverAuth ;;
    client) eku=clientAuth ;;
    both)   eku=serverAuth,clientAuth ;;
    *) xc_die "tb_cert: usage '$usage'" ;;
  esac
  local ext="$TB_PKI/$name.ext"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [ -n "$san" ] && echo "subjectAltName=$san"
  } >"$ext"
  tb_key "$TB_PKI/$name.key"
  openssl req -new -key "$TB_PKI/$name.key" -subj "$subject" -out "$TB_PKI/$name.csr" 2>/dev/null
  openssl x509 -req -in "$TB_PKI/$name.csr" -CA "$TB_PKI/$ca.crt" -CAkey "$TB_PKI/$ca.key" \
    -CAcreateserial -days "$TB_CERT_DAYS" -extfile "$ext" -out "$TB_PKI/$name.crt" 2>/dev/null
  rm -f "$TB_PKI/$name.csr" "$ext"
}

# tb_kubeconfig FILE CERT-NAME: a kubeconfig for the API server with client certificate CERT-NAME.
tb_kubeconfig() {
  local file="$1" cert="$2" user="${3:-$2}"
  local ca crt key
  ca="$(base64 -w0 "$TB_PKI/ca.crt")"; crt="$(base64 -w0 "$TB_PKI/$cert.crt")"; key="$(base64 -w0 "$TB_PKI/$cert.key")"
  umask 077
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: testbed
  cluster:
    server: https://127.0.0.1:$TB_PORT_APISERVER
    certificate-authority-data: $ca
users:
- name: $user
  user:
    client-certificate-data: $crt
    client-key-data: $key
contexts:
- name: $user@testbed
  context:
    cluster: testbed
    user: $user
    namespace: ${4:-default}
current-context: $user@testbed
EOF
  umask 022
}

tb_pki() {
  mkdir -p "$TB_PKI"; chmod 700 "$TB_PKI"
  local lo="IP:127.0.0.1,DNS:localhost"
  tb_ca ca "testbed-ca"
  tb_ca etcd-ca "testbed-etcd-ca"
  tb_ca front-proxy-ca "testbed-front-proxy-ca"

  tb_cert etcd-server etcd-ca "/CN=etcd" both "$lo"
  tb_cert apiserver-etcd-client etcd-ca "/CN=kube-apiserver-etcd-client" client

  # 10.96.0.1: first address of the service range, what in-cluster clients would dial.
  tb_cert apiserver ca "/CN=kube-apiserver" server \
    "$lo,IP:10.96.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  tb_cert apiserver-kubelet-client ca "/O=kubeadm:cluster-admins/CN=kube-apiserver-kubelet-client" client
  tb_cert front-proxy-client front-proxy-ca "/CN=front-proxy-client" client

  tb_cert admin ca "/O=system:masters/CN=testbed-admin" client
  tb_cert controller-manager ca "/CN=system:kube-controller-manager" client
  tb_cert scheduler ca "/CN=system:kube-scheduler" client
  tb_cert kwok ca "/CN=testbed:kwok-controller" client
  tb_cert metrics-server ca "/CN=testbed:metrics-server" client
  tb_cert user ca "/O=testbed:users/CN=$TB_USER" client
  # kwok answers as the kubelet of every simulated node, all on 127.0.0.1.
  tb_cert kwok-serving ca "/CN=kwok" server "$lo"
  # The aggregator checks the name <service>.<namespace>.svc of the APIService's Service.
  tb_cert metrics-server-serving ca "/CN=metrics-server" server \
    "$lo,DNS:metrics-server.kube-system.svc,DNS:metrics-server.kube-system.svc.cluster.local"

  if [ ! -f "$TB_PKI/sa.key" ]; then
    tb_key "$TB_PKI/sa.key"
    openssl pkey -in "$TB_PKI/sa.key" -pubout -out "$TB_PKI/sa.pub" 2>/dev/null
  fi

  tb_kubeconfig "$TB_STATE/admin.kubeconfig" admin testbed-admin
  tb_kubeconfig "$TB_STATE/controller-manager.kubeconfig" controller-manager
  tb_kubeconfig "$TB_STATE/scheduler.kubeconfig" scheduler
  tb_kubeconfig "$TB_STATE/kwok.kubeconfig" kwok
  tb_kubeconfig "$TB_STATE/metrics-server.kubeconfig" metrics-server
  tb_kubeconfig "$TB_STATE/user.kubeconfig" user "$TB_USER" "$TB_USER_NAMESPACE"
}
