# shellcheck shell=bash disable=SC2034  # LAB_RUN_* are read by hack/lab/hosts.sh
# The lab's private registry host (profile registry). Sourced by hack/lab.sh.
#
# CNCF distribution from Debian's docker-registry package, run in the amd64 lab image:
# the machine's /usr/bin/docker-registry is bind-mounted read-only (a static Go binary
# that links only libc, GLIBC_2.34 at most; the bookworm image has 2.36), so no image of
# its own is built. TLS with a lab CA, htpasswd (bcrypt) auth, port 5000 on the lab
# network, where this machine reaches it too (at its address in the topology table).
#
# Everything a client needs is in $XC_ROOT/.lab/registry/ (gitignored, kept by `down`,
# so the CA a controller trusts stays valid across down/up; delete the directory to
# start over):
#   ca.crt                 the lab CA (also a skopeo/containers --cert-dir: no *.key beside it)
#   username, password     the htpasswd account
#   private/ca.key         the CA's key
#   etc/                   mounted on the registry's /etc/docker/registry: config.yml,
#                          htpasswd, server.crt, server.key, ca.crt, san

LAB_REGISTRY_DIR="$XC_ROOT/.lab/registry"
LAB_REGISTRY_BIN="${XC_LAB_REGISTRY_BIN:-/usr/bin/docker-registry}"
LAB_REGISTRY_USER="${XC_LAB_REGISTRY_USER:-xinchuang}"
LAB_REGISTRY_PORT=5000

# The names the server certificate carries: every registry host of the loaded
# topology by name and address, localhost and 127.0.0.1.
lab_registry_san() {
  local h san=""
  for h in "${LAB_HOSTS[@]}"; do
    if [ "${LAB_HOST_PROFILE[$h]}" = registry ]; then
      san+="DNS:$h,"
      [ "${LAB_HOST_ADDRESS[$h]}" = - ] || san+="IP:${LAB_HOST_ADDRESS[$h]},"
    fi
  done
  printf '%sDNS:localhost,IP:127.0.0.1\n' "$san"
}

lab_registry_ca() {
  local d="$LAB_REGISTRY_DIR"
  [ -s "$d/ca.crt" ] && [ -s "$d/private/ca.key" ] && return 0
  openssl req -x509 -new -nodes -newkey rsa:2048 -sha256 -days 3650 \
    -keyout "$d/private/ca.key" -out "$d/ca.crt" -subj "/O=xinchuang lab/CN=xinchuang lab registry CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null \
    || xc_die "openssl: creating the lab CA in $d failed"
  rm -f "$d/etc/server.crt"   # signed by the old CA, if any
  xc_log "registry: new CA $d/ca.crt"
}

# A server certificate for SAN, signed by the lab CA; kept while it still names the
# same hosts, is signed by the current CA and is valid for 30 more days.
lab_registry_cert() {
  local d="$LAB_REGISTRY_DIR" san="$1" ext
  if [ -s "$d/etc/server.crt" ] && [ -s "$d/etc/server.key" ] \
     && [ "$(cat "$d/etc/san" 2>/dev/null)" = "$san" ] \
     && openssl verify -CAfile "$d/ca.crt" "$d/etc/server.crt" >/dev/null 2>&1 \
     && openssl x509 -checkend 2592000 -noout -in "$d/etc/server.crt" >/dev/null; then
    return 0
  fi
  ext=$(mktemp)
  printf '%s\n' "subjectAltName=$san" "basicConstraints=CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >"$ext"
  if ! { openssl req -new -nodes -newkey rsa:2048 -keyout "$d/etc/server.key" -out "$d/etc/server.csr" \
           -subj "/O=xinchuang lab/CN=${san%%,*}" 2>/dev/null \
         && openssl x509 -req -sha256 -days 825 -in "$d/etc/server.csr" -CA "$d/ca.crt" \
           -CAkey "$d/private/ca.key" -CAcreateserial -CAserial "$d/private/ca.srl" \
           -extfile "$ext" -out "$d/etc/server.crt" 2>/dev/null; }; then
    rm -f "$ext"
    xc_die "openssl: signing the registry certificate ($san) failed"
  fi
  rm -f "$ext" "$d/etc/server.csr"
  printf '%s\n' "$san" >"$d/etc/san"
  xc_log "registry: certificate for $san"
}

lab_registry_account() {
  local d="$LAB_REGISTRY_DIR"
  [ -s "$d/username" ] || printf '%s\n' "$LAB_REGISTRY_USER" >"$d/username"
  [ -s "$d/password" ] || { openssl rand -hex 16 >"$d/password"; xc_log "registry: new password in $d/password"; }
  [ -s "$d/etc/http-secret" ] || openssl rand -hex 32 >"$d/etc/http-secret"
  # distribution accepts bcrypt entries only (-B).
  if ! htpasswd -vbB "$d/etc/htpasswd" "$(cat "$d/username")" "$(cat "$d/password")" >/dev/null 2>&1; then
    htpasswd -cbB "$d/etc/htpasswd" "$(cat "$d/username")" "$(cat "$d/password")" 2>/dev/null \
      || xc_die "htpasswd: writing $d/etc/htpasswd failed"
  fi
}

lab_registry_config() {
  local d="$LAB_REGISTRY_DIR"
  cp "$d/ca.crt" "$d/etc/ca.crt"
  cat >"$d/etc/config.yml" <<EOF
# Written by hack/lab.sh (hack/lab/registry.sh); rewritten on every 'up'.
version: 0.1
log:
  level: info
  fields:
    service: registry
storage:
  filesystem:
    rootdirectory: /var/lib/docker-registry
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: :$LAB_REGISTRY_PORT
  secret: $(cat "$d/etc/http-secret")
  tls:
    certificate: /etc/docker/registry/server.crt
    key: /etc/docker/registry/server.key
  headers:
    X-Content-Type-Options: [nosniff]
auth:
  htpasswd:
    realm: xinchuang-lab
    path: /etc/docker/registry/htpasswd
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
EOF
}

# CA, certificate, account and configuration, made once and checked on every `up`.
lab_registry_prepare() {
  xc_apt_install docker-registry apache2-utils openssl
  [ -x "$LAB_REGISTRY_BIN" ] || xc_die "$LAB_REGISTRY_BIN missing (package docker-registry, or XC_LAB_REGISTRY_BIN)"
  local d="$LAB_REGISTRY_DIR"
  mkdir -p "${d%/*}"
  (
    umask 077
    mkdir -p "$d/private" "$d/etc"
    lab_registry_ca
    lab_registry_cert "$(lab_registry_san)"
    lab_registry_account
    lab_registry_config
  ) || exit 1
  # Readable by the clients on this machine; keys and password stay root's.
  chmod 644 "$d/ca.crt" "$d/username" "$d/etc/ca.crt" "$d/etc/server.crt"
  chmod 755 "$d"
}

# The registry host: the lab image of the machine's architecture with the machine's
# docker-registry, docker's tini as PID 1, the registry's data on a docker volume.
# A label carries a hash of the mounted configuration, so a new certificate or
# account recreates the host.
lab_profile_registry() {
  local name="$1" arch="$2" d="$LAB_REGISTRY_DIR"
  lab_native "$arch" \
    || xc_die "$name: the registry profile runs the machine's $LAB_REGISTRY_BIN, so its ARCH must be $(dpkg --print-architecture), not $arch"
  LAB_RUN_OPTS+=(--init
    --label "xinchuang.lab.registry.config=$(cat "$d"/etc/* | sha256sum | cut -c1-16)"
    -v "$LAB_REGISTRY_BIN:/usr/local/bin/docker-registry:ro"
    -v "$d/etc:/etc/docker/registry:ro"
    --mount "type=volume,source=$name-data,target=/var/lib/docker-registry,volume-label=xinchuang.lab=1")
  LAB_RUN_CMD=(/usr/local/bin/docker-registry serve /etc/docker/registry/config.yml)
}

# Ready: an authenticated GET /v2/ over TLS, verified against the lab CA, answers 200.
lab_ready_registry() {
  docker exec "$1" python3 - "$(cat "$LAB_REGISTRY_DIR/username")" "$(cat "$LAB_REGISTRY_DIR/password")" \
    "$LAB_REGISTRY_PORT" >/dev/null 2>&1 <<'EOF'
import base64, ssl, sys, urllib.request
user, password, port = sys.argv[1:4]
ctx = ssl.create_default_context(cafile="/etc/docker/registry/ca.crt")
req = urllib.request.Request("https://127.0.0.1:%s/v2/" % port)
req.add_header("Authorization", "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode())
sys.exit(0 if urllib.request.urlopen(req, context=ctx, timeout=5).status == 200 else 1)
EOF
}

# Where the registry answers and with which credentials (up and status).
lab_registry_summary() {
  local d="$LAB_REGISTRY_DIR" name addr
  for name in $(docker ps --filter label=xinchuang.lab.profile=registry --format '{{.Names}}'); do
    addr=$(lab_host_addr "$name" | awk '{print $1}')
    printf 'registry %s: https://%s:%s on network %s%s\n' "$name" "$name" "$LAB_REGISTRY_PORT" \
      "$(lab_container_field "$name" '{{.HostConfig.NetworkMode}}')" "${addr:+, https://$addr:$LAB_REGISTRY_PORT from this machine}"
  done
  if [ -s "$d/ca.crt" ]; then
    printf 'registry CA:       %s\n' "$d/ca.crt"
    printf 'registry username: %s (%s)\n' "$(cat "$d/username" 2>/dev/null)" "$d/username"
    printf 'registry password: %s (%s)\n' "$(cat "$d/password" 2>/dev/null)" "$d/password"
  fi
}

lab_registry_status() {
  if [ -z "$(docker ps -a -q --filter label=xinchuang.lab.profile=registry)" ] && [ ! -s "$LAB_REGISTRY_DIR/ca.crt" ]; then
    echo "registry: none (hack/lab.sh up --topology cluster starts one)"
    return 0
  fi
  lab_registry_summary
}
