# shellcheck shell=bash disable=SC2034  # the LAB_HOST* tables and LAB_NET are read by the other hack/lab/ files
# Lab topologies: which hosts run, from which image, with which profile, at which address.
# Sourced by hack/lab.sh; `--topology NAME` (or XC_LAB_TOPOLOGY) picks one.
#
# default: one container per architecture, xc-lab-<arch>, profile XC_LAB_PROFILE (base),
#   network XC_LAB_NETWORK (none): the hosts of molecule-style role tests.
# NAME: the table hack/lab/topologies/NAME.hosts, one row per host (NAME ARCH PROFILE
#   ADDRESS). Every host joins the docker network LAB_TOPO_NETWORK (xc-lab) at its ADDRESS:
#   containers through docker, machines (PROFILE machine, hack/lab/machines.sh) through a
#   tap device on the network's bridge. The network is internal: no route leads out of the
#   machine, so a run on it is offline by construction. This machine reaches the hosts
#   through its own address on the bridge (the gateway, LAB_TOPO_GATEWAY).

: "${_lab_dir:?hack/lab/topology.sh is sourced by hack/lab.sh}"
LAB_TOPOLOGY="${XC_LAB_TOPOLOGY:-default}"
LAB_TOPO_DIR="$_lab_dir/topologies"
LAB_TOPO_NETWORK="${XC_LAB_TOPO_NETWORK:-xc-lab}"
# The bridge gets a fixed name (tap devices join it by name) and the subnet is fixed
# (the inventory names the hosts' addresses). Docker allocates only from the upper half;
# topology tables give addresses from the lower one.
LAB_TOPO_BRIDGE="${XC_LAB_TOPO_BRIDGE:-xc-lab0}"
LAB_TOPO_SUBNET="${XC_LAB_SUBNET:-172.29.0.0/24}"
LAB_TOPO_GATEWAY="${XC_LAB_GATEWAY:-172.29.0.1}"
LAB_TOPO_IP_RANGE="${XC_LAB_IP_RANGE:-172.29.0.128/25}"
# Filled by lab_load_topology.
LAB_HOSTS=()
LAB_NET=none
declare -gA LAB_HOST_ARCH=() LAB_HOST_PROFILE=() LAB_HOST_ADDRESS=()

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
  LAB_HOST_ARCH[$1]="$2"; LAB_HOST_PROFILE[$1]="$3"; LAB_HOST_ADDRESS[$1]="$4"
}

# Reads topology $1 into LAB_HOSTS, LAB_HOST_* and LAB_NET, checking every field.
lab_load_topology() {
  local topo="$1" file name arch profile address extra n=0 h
  lab_check_topology "$topo"
  LAB_HOSTS=(); LAB_HOST_ARCH=(); LAB_HOST_PROFILE=(); LAB_HOST_ADDRESS=()
  if [ "$topo" = default ]; then
    lab_check_profile "$LAB_PROFILE"
    case "$LAB_PROFILE" in base|worker) ;; *) xc_die "XC_LAB_PROFILE=$LAB_PROFILE: the default topology takes base or worker" ;; esac
    for arch in "${LAB_ARCHES[@]}"; do lab_add_host "$(lab_container "$arch")" "$arch" "$LAB_PROFILE" -; done
    LAB_NET="$LAB_NETWORK"
    return 0
  fi
  file="$LAB_TOPO_DIR/$topo.hosts"
  while read -r name arch profile address extra; do
    n=$((n + 1))
    case "$name" in ''|'#'*) continue ;; esac
    { [ -n "$address" ] && [ -z "$extra" ]; } \
      || xc_die "$file:$n: want 4 fields (NAME ARCH PROFILE ADDRESS), got: $name $arch $profile $address $extra"
    lab_check_arch "$arch"
    lab_check_profile "$profile"
    [ "$profile" != machine ] || lab_has_machine "$arch" \
      || xc_die "$file:$n: no machine recipe for $arch (hack/lab/machines.sh); machines exist for: ${!LAB_MACHINE_KERNEL[*]}"
    lab_check_address "$file:$n" "$address"
    [ -z "${LAB_HOST_ARCH[$name]:-}" ] || xc_die "$file:$n: host $name listed twice"
    for h in "${LAB_HOSTS[@]}"; do
      [ "${LAB_HOST_ADDRESS[$h]}" != "$address" ] || xc_die "$file:$n: address $address is $h's already"
    done
    lab_add_host "$name" "$arch" "$profile" "$address"
  done <"$file"
  [ "${#LAB_HOSTS[@]}" -gt 0 ] || xc_die "$file: no hosts"
  LAB_NET="$LAB_TOPO_NETWORK"
}

# ADDRESS must lie in the lab subnet, outside docker's own range, and not be the gateway.
lab_check_address() {
  local why
  why=$(python3 - "$LAB_TOPO_SUBNET" "$LAB_TOPO_IP_RANGE" "$LAB_TOPO_GATEWAY" "$2" <<'EOF'
import ipaddress, sys
net, rng, gw = ipaddress.ip_network(sys.argv[1]), ipaddress.ip_network(sys.argv[2]), ipaddress.ip_address(sys.argv[3])
try:
    a = ipaddress.ip_address(sys.argv[4])
except ValueError:
    print("is not an IPv4 address")
    sys.exit()
if a not in net or a in rng or a == gw or a in (net.network_address, net.broadcast_address):
    print("must lie in %s, outside docker's own range %s, and not be the gateway %s" % (net, rng, gw))
EOF
)
  [ -z "$why" ] || xc_die "$1: address $2 $why"
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

# Creates the topology's network when it is a user network that does not exist yet: an
# internal bridge (docker gives it no route out and no NAT) with the lab's fixed subnet and
# bridge name. A network of that name made otherwise (an older lab) is replaced when no
# container uses it.
lab_network_up() {
  local net="$1" have users
  lab_builtin_network "$net" && return 0
  if docker network inspect "$net" >/dev/null 2>&1; then
    have=$(docker network inspect -f '{{.Internal}} {{range .IPAM.Config}}{{.Subnet}}{{end}} {{index .Options "com.docker.network.bridge.name"}}' "$net")
    if [ "$have" = "true $LAB_TOPO_SUBNET $LAB_TOPO_BRIDGE" ]; then
      xc_log "network $net: exists, reused"
      lab_network_forward "$net"
      return 0
    fi
    users=$(docker network inspect -f '{{range .Containers}}{{.Name}} {{end}}' "$net")
    [ -z "${users// /}" ] || xc_die "network $net is '$have', not 'internal $LAB_TOPO_SUBNET $LAB_TOPO_BRIDGE', and still used by: $users; run hack/lab.sh down --topology $LAB_TOPOLOGY first"
    docker network rm "$net" >/dev/null
    xc_log "network $net: was '$have', removed"
  fi
  docker network create --driver bridge --internal --label xinchuang.lab=1 \
    --subnet "$LAB_TOPO_SUBNET" --gateway "$LAB_TOPO_GATEWAY" --ip-range "$LAB_TOPO_IP_RANGE" \
    -o "com.docker.network.bridge.name=$LAB_TOPO_BRIDGE" "$net" >/dev/null \
    || xc_die "docker network create $net ($LAB_TOPO_SUBNET) failed; another network may hold that subnet: set XC_LAB_SUBNET"
  xc_log "network $net: created (internal, $LAB_TOPO_SUBNET, bridge $LAB_TOPO_BRIDGE)"
  lab_network_forward "$net"
}

# Docker's isolation rules for an internal network drop every bridged frame whose source
# or destination lies outside its subnet, and the machine's bridge-nf-call-iptables hands
# bridged frames to those rules: Pod traffic between nodes (10.244.x.x, bridged from one
# node to the next) would be dropped. Frames that stay on the bridge are let through
# first (DOCKER-USER); frames that leave it are still dropped: the network stays offline.
lab_network_forward() {
  iptables -C DOCKER-USER -i "$LAB_TOPO_BRIDGE" -o "$LAB_TOPO_BRIDGE" -j ACCEPT 2>/dev/null \
    || iptables -I DOCKER-USER -i "$LAB_TOPO_BRIDGE" -o "$LAB_TOPO_BRIDGE" -j ACCEPT \
    || xc_die "iptables: cannot let traffic within $LAB_TOPO_BRIDGE through (DOCKER-USER)"
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
  iptables -D DOCKER-USER -i "$LAB_TOPO_BRIDGE" -o "$LAB_TOPO_BRIDGE" -j ACCEPT 2>/dev/null || true
  xc_log "network $net: removed"
}
