# shellcheck shell=bash disable=SC2034  # the LAB_HOST* tables and LAB_NET are read by the other hack/lab/ files
# Lab topologies: which hosts run, from which image, with which profile, on which
# docker network. Sourced by hack/lab.sh; `--topology NAME` (or XC_LAB_TOPOLOGY) picks one.
#
# default: one host per architecture, xc-lab-<arch>, profile XC_LAB_PROFILE (base),
#   network XC_LAB_NETWORK (none). Molecule-free `make demo` and inventories/lab use it.
# NAME: the table hack/lab/topologies/NAME.hosts, one row per host
#   (NAME ARCH PROFILE PUBLISH); every host joins the docker network LAB_TOPO_NETWORK
#   (xc-lab, a user-defined bridge: docker's DNS resolves the container names), which
#   `up` creates when missing and `down` removes.

: "${_lab_dir:?hack/lab/topology.sh is sourced by hack/lab.sh}"
LAB_TOPOLOGY="${XC_LAB_TOPOLOGY:-default}"
LAB_TOPO_DIR="$_lab_dir/topologies"
LAB_TOPO_NETWORK="${XC_LAB_TOPO_NETWORK:-xc-lab}"
# Filled by lab_load_topology.
LAB_HOSTS=()
LAB_NET=none
declare -gA LAB_HOST_ARCH=() LAB_HOST_PROFILE=() LAB_HOST_PUBLISH=()

lab_topologies() {
  local f
  echo default
  for f in "$LAB_TOPO_DIR"/*.hosts; do [ -f "$f" ] && basename "$f" .hosts; done
}

lab_check_topology() {
  local t
  for t in $(lab_topologies); do [ "$t" = "$1" ] && return 0; done
  xc_die "unknown lab topology '$1'; accepted: $(lab_topologies | paste -sd ' ')"
}

# Networks docker has built in: never created or removed by the lab.
lab_builtin_network() { case "$1" in none|host|bridge) return 0 ;; esac; return 1; }

lab_add_host() {
  LAB_HOSTS+=("$1")
  LAB_HOST_ARCH[$1]="$2"; LAB_HOST_PROFILE[$1]="$3"; LAB_HOST_PUBLISH[$1]="$4"
}

# Reads topology $1 into LAB_HOSTS, LAB_HOST_* and LAB_NET, checking every field.
lab_load_topology() {
  local topo="$1" file name arch profile publish extra n=0
  lab_check_topology "$topo"
  LAB_HOSTS=(); LAB_HOST_ARCH=(); LAB_HOST_PROFILE=(); LAB_HOST_PUBLISH=()
  if [ "$topo" = default ]; then
    lab_check_profile "$LAB_PROFILE"
    case "$LAB_PROFILE" in base|worker) ;; *) xc_die "XC_LAB_PROFILE=$LAB_PROFILE: the default topology takes base or worker" ;; esac
    for arch in "${LAB_ARCHES[@]}"; do lab_add_host "$(lab_container "$arch")" "$arch" "$LAB_PROFILE" -; done
    LAB_NET="$LAB_NETWORK"
    return 0
  fi
  file="$LAB_TOPO_DIR/$topo.hosts"
  while read -r name arch profile publish extra; do
    n=$((n + 1))
    case "$name" in ''|'#'*) continue ;; esac
    { [ -n "$publish" ] && [ -z "$extra" ]; } \
      || xc_die "$file:$n: want 4 fields (NAME ARCH PROFILE PUBLISH), got: $name $arch $profile $publish $extra"
    lab_check_arch "$arch"
    lab_check_profile "$profile"
    [ -z "${LAB_HOST_ARCH[$name]:-}" ] || xc_die "$file:$n: host $name listed twice"
    lab_add_host "$name" "$arch" "$profile" "$publish"
  done <"$file"
  [ "${#LAB_HOSTS[@]}" -gt 0 ] || xc_die "$file: no hosts"
  LAB_NET="$LAB_TOPO_NETWORK"
}

# The hosts of the loaded topology that the arguments name, by host name or by
# architecture (all when there are none), in table order.
lab_select_hosts() {
  local h a hit
  if [ "$#" -eq 0 ]; then printf '%s\n' "${LAB_HOSTS[@]}"; return 0; fi
  for a in "$@"; do
    hit=no
    for h in "${LAB_HOSTS[@]}"; do
      { [ "$h" = "$a" ] || [ "${LAB_HOST_ARCH[$h]}" = "$a" ]; } && hit=yes
    done
    [ "$hit" = yes ] || xc_die "'$a' is neither a host nor an architecture of topology $LAB_TOPOLOGY; hosts: ${LAB_HOSTS[*]}; architectures: ${LAB_ARCHES[*]}"
  done
  for h in "${LAB_HOSTS[@]}"; do
    for a in "$@"; do
      if [ "$h" = "$a" ] || [ "${LAB_HOST_ARCH[$h]}" = "$a" ]; then echo "$h"; break; fi
    done
  done
}

# The architectures (image) the given hosts need, each once.
lab_hosts_arches() {
  local h
  for h in "$@"; do echo "${LAB_HOST_ARCH[$h]}"; done | awk '!seen[$0]++'
}

# Creates the topology's network when it is a user network that does not exist yet.
lab_network_up() {
  local net="$1"
  lab_builtin_network "$net" && return 0
  if docker network inspect "$net" >/dev/null 2>&1; then
    xc_log "network $net: exists, reused"
    return 0
  fi
  docker network create --driver bridge --label xinchuang.lab=1 "$net" >/dev/null \
    || xc_die "docker network create $net failed"
  xc_log "network $net: created ($(docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' "$net"))"
}

# Removes the topology's network once no container uses it any more.
lab_network_down() {
  local net="$1" users
  lab_builtin_network "$net" && return 0
  docker network inspect "$net" >/dev/null 2>&1 || return 0
  users=$(docker network inspect -f '{{range .Containers}}{{.Name}} {{end}}' "$net")
  if [ -n "${users// /}" ]; then
    xc_log "network $net: kept, still used by: $users"
    return 0
  fi
  docker network rm "$net" >/dev/null
  xc_log "network $net: removed"
}
