# shellcheck shell=bash disable=SC2034  # LAB_RUN_* are read by hack/lab/hosts.sh
# The lab's private registry host (profile registry). Sourced by hack/lab.sh.
#
# hack/lab.sh only starts the host: a systemd host of the amd64 lab image (which carries
# Debian's docker-registry, apache2-utils and python3-apt, its service disabled: recipe 5) with
# the registry's data on a docker volume. The registry itself is installed and configured by
# the collection, `ansible-playbook -i inventories/lab playbooks/registry.yml` (the
# xinchuang.cloud.registry role; `make lab` runs it before the images are pushed), from the
# lab CA and account made here (inventories/lab/group_vars/registry/registry.yml reads them).
#
# Everything a client needs is in $XC_ROOT/.lab/registry/ (gitignored, kept by `down`,
# so the CA a controller trusts stays valid across down/up; delete the directory to
# start over):
#   ca.crt                 the lab CA (also a skopeo/containers --cert-dir: no *.key beside it)
#   username, password     the htpasswd account (the role hashes it on the host)
#   private/ca.key         the CA's key (the role signs the registry's certificate with it
#                          on this machine; the registry's own key stays on the host)

LAB_REGISTRY_DIR="$XC_ROOT/.lab/registry"
LAB_REGISTRY_USER="${XC_LAB_REGISTRY_USER:-xinchuang}"
LAB_REGISTRY_PORT=5000

# The lab CA (hack/pki.py, the one certificate maker of the test bed, the lab and the tests):
# kept while it matches, so the CA a controller trusts stays valid across down/up.
lab_registry_ca() {
  local d="$LAB_REGISTRY_DIR" out
  out="$("$XC_VENV/bin/python" "$XC_ROOT/hack/pki.py" ca "$d" --cn "xinchuang lab registry CA" \
           --org "xinchuang lab" --key-type rsa --key-file "$d/private/ca.key")" \
    || xc_die "hack/pki.py: creating the lab CA in $d failed (make setup installs the venv it needs)"
  [ -z "$out" ] || xc_log "registry: new CA $d/ca.crt"
}

lab_registry_account() {
  local d="$LAB_REGISTRY_DIR"
  [ -s "$d/username" ] || printf '%s\n' "$LAB_REGISTRY_USER" >"$d/username"
  [ -s "$d/password" ] || { openssl rand -hex 16 >"$d/password"; xc_log "registry: new password in $d/password"; }
}

# CA and account, made once and kept.
lab_registry_prepare() {
  xc_apt_install openssl   # openssl rand: the account's password
  local d="$LAB_REGISTRY_DIR"
  mkdir -p "${d%/*}"
  (
    umask 077
    mkdir -p "$d/private"
    # Left by the bash-configured registry of earlier labs: no longer used.
    rm -rf "${d:?}/etc"
    lab_registry_ca
    lab_registry_account
  ) || exit 1
  # Readable by the clients on this machine; the CA key and the password stay root's.
  chmod 644 "$d/ca.crt" "$d/username"
  chmod 755 "$d"
}

# The registry host: the base profile (systemd as PID 1) of the machine's architecture, the
# registry's storage (registry_storage_path) on a docker volume.
lab_profile_registry() {
  local name="$1" arch="$2"
  lab_native "$arch" \
    || xc_die "$name: the registry profile uses the amd64 lab image with Debian's docker-registry, so its ARCH must be $(dpkg --print-architecture), not $arch"
  lab_profile_base "$name" "$arch"
  LAB_RUN_OPTS+=(--mount "type=volume,source=$name-data,target=/var/lib/docker-registry,volume-label=xinchuang.lab=1")
}

# Where the registry answers and with which credentials (up and status).
lab_registry_summary() {
  local d="$LAB_REGISTRY_DIR" name addr
  for name in $(docker ps --filter label=xinchuang.lab.profile=registry --format '{{.Names}}'); do
    addr=$(lab_host_addr "$name" | awk '{print $1}')
    printf 'registry %s: https://%s:%s on network %s%s (installed by playbooks/registry.yml)\n' "$name" "$name" \
      "$LAB_REGISTRY_PORT" "$(lab_container_field "$name" '{{.HostConfig.NetworkMode}}')" \
      "${addr:+, https://$addr:$LAB_REGISTRY_PORT from this machine}"
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
