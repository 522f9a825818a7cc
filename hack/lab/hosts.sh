# shellcheck shell=bash disable=SC2034  # LAB_PROFILE, LAB_NETWORK are read by hack/lab/topology.sh
# Lab hosts: long-running containers reached with `docker exec` (Ansible's
# community.docker.docker connection). Sourced by hack/lab.sh; which hosts run comes
# from the topology (hack/lab/topology.sh).
#
# A profile is a function lab_profile_<name> HOST ARCH that appends the container's
# `docker run` options to LAB_RUN_OPTS and its command to LAB_RUN_CMD; an optional
# lab_ready_<name> HOST says when such a host is ready. In the default topology
# XC_LAB_PROFILE picks one for every host (default base); a topology table names one
# per host. A host whose `docker run` would differ (image, profile, flags, network,
# ports: the label xinchuang.lab.spec is a hash of them) is recreated; a matching
# one is reused.

LAB_PROFILES=(base worker registry machine)
LAB_PROFILE="${XC_LAB_PROFILE:-base}"
LAB_NETWORK="${XC_LAB_NETWORK:-none}"
LAB_READY_TIMEOUT="${XC_LAB_READY_TIMEOUT:-180}"

# PID 1: systemd where the image has it, else docker's tini reaping for `sleep`.
lab_pid1() {
  if [ "${LAB_SYSTEMD[$1]}" = yes ]; then
    LAB_RUN_CMD=(/sbin/init)
  else
    LAB_RUN_OPTS+=(--init)
    LAB_RUN_CMD=(sleep infinity)
  fi
}

# base: enough for systemd as PID 1 and for Ansible, nothing more.
# --privileged is refused on these machines (no CAP_SYS_RESOURCE in the VM);
# systemd needs CAP_SYS_ADMIN to mount its file systems, an unfiltered syscall
# set, the cgroup tree (read-only: it only has to see it) and a writable /run.
lab_profile_base() {
  local arch="$2"
  lab_pid1 "$arch"
  [ "${LAB_SYSTEMD[$arch]}" = yes ] || return 0
  LAB_RUN_OPTS+=(--cap-add SYS_ADMIN
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined
    -v /sys/fs/cgroup:/sys/fs/cgroup:ro --tmpfs /run --tmpfs /run/lock)
}

# worker: what a kubelet + containerd host needs to run real nested containers
# (see the lab notes): every capability the VM can grant, a writable cgroup tree,
# /dev/kmsg for the kubelet's OOM watcher, and /var/lib/containerd on a docker
# volume because overlayfs on overlayfs fails with "invalid argument".
# systempaths=unconfined: docker mounts no read-only /proc/sys (and masks nothing
# under /proc), so kubelet can write kernel/vm sysctls from the first start on, after
# every restart, and on hosts without systemd; no remount inside the host is needed.
lab_profile_worker() {
  local name="$1" arch="$2"
  lab_pid1 "$arch"
  LAB_RUN_OPTS+=(--cap-add ALL --cap-drop SYS_RESOURCE
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined
    --security-opt systempaths=unconfined
    -v /sys/fs/cgroup:/sys/fs/cgroup:rw --device /dev/kmsg
    --tmpfs /run --tmpfs /run/lock
    --mount "type=volume,source=$name-containerd,target=/var/lib/containerd,volume-label=xinchuang.lab=1")
}

# Worker hosts share the machine's cgroup v1 tree (mounted read-write, no cgroup
# namespace), so two kubelets with the same cgroup root would share /kubepods and
# remove each other's pods as orphans. Each worker's kubelet gets its own root,
# /xc-lab/HOST (inventories/lab), which the kubernetes role makes in every hierarchy the
# host sees before kubelet starts; `down` removes what is left of it.
LAB_CGROUP_PARENT=xc-lab
lab_cgroup_root() { printf '/%s/%s' "$LAB_CGROUP_PARENT" "$1"; }
lab_cgroup_v1_mounts() { awk '$3 == "cgroup" && $2 ~ "^/sys/fs/cgroup/" { print $2 }' /proc/self/mounts; }

# Removes HOST's cgroup root and what kubelet made under it (empty once the host's
# processes are gone), then the parent when no other host uses it.
lab_cgroup_down() {
  local name="$1" mp dir
  while read -r mp; do
    dir="$mp$(lab_cgroup_root "$name")"
    if [ -d "$dir" ]; then
      find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null \
        || xc_log "cgroup $dir: not empty, kept"
    fi
    rmdir "$mp/$LAB_CGROUP_PARENT" 2>/dev/null || true
  done < <(lab_cgroup_v1_mounts)
}

lab_check_profile() {
  local p
  for p in "${LAB_PROFILES[@]}"; do [ "$p" = "$1" ] && return 0; done
  xc_die "unknown lab profile '$1'; accepted: ${LAB_PROFILES[*]}"
}

lab_container_field() { docker container inspect -f "$2" "$1" 2>/dev/null || true; }

# The docker run options every host gets, then the profile's. Sets LAB_RUN_OPTS,
# LAB_RUN_CMD and LAB_RUN_SPEC (a hash of all of it and the image id).
lab_run_args() {
  local name="$1" arch="${LAB_HOST_ARCH[$1]}" profile="${LAB_HOST_PROFILE[$1]}" image_id="$2"
  LAB_RUN_OPTS=(--hostname "$name" --platform "$(lab_platform "$arch")" --network "$LAB_NET")
  if [ "${LAB_HOST_ADDRESS[$name]}" != - ]; then LAB_RUN_OPTS+=(--ip "${LAB_HOST_ADDRESS[$name]}"); fi
  LAB_RUN_CMD=()
  "lab_profile_$profile" "$name" "$arch"
  LAB_RUN_SPEC=$(printf '%s\n' "$image_id" "${LAB_RUN_OPTS[@]}" -- "${LAB_RUN_CMD[@]}" | sha256sum | cut -c1-16)
}

lab_start_host() {
  local name="$1" arch="${LAB_HOST_ARCH[$1]}" profile="${LAB_HOST_PROFILE[$1]}" image image_id have_spec state
  image=$(lab_image "$arch")
  image_id=$(lab_image_id "$image")
  [ -n "$image_id" ] || xc_die "image $image is not loaded; run hack/lab.sh images $arch"
  lab_run_args "$name" "$image_id"
  state=$(lab_container_field "$name" '{{.State.Status}}')
  if [ -n "$state" ]; then
    have_spec=$(lab_container_field "$name" '{{index .Config.Labels "xinchuang.lab.spec"}}')
    if [ "$have_spec" = "$LAB_RUN_SPEC" ]; then
      if [ "$state" = running ]; then
        xc_log "$name: running, reused"
      else
        xc_log "$name: $state, starting"
        docker start "$name" >/dev/null
      fi
      lab_no_default_route "$name"
      return 0
    fi
    xc_log "$name: image, profile, network or ports changed ($(lab_container_field "$name" \
      '{{index .Config.Labels "xinchuang.lab.topology"}}/{{index .Config.Labels "xinchuang.lab.profile"}}') -> $LAB_TOPOLOGY/$profile), recreating"
    docker rm -f -v "$name" >/dev/null
  fi
  docker run -d --name "$name" \
    --label xinchuang.lab=1 --label "xinchuang.lab.arch=$arch" --label "xinchuang.lab.profile=$profile" \
    --label "xinchuang.lab.topology=$LAB_TOPOLOGY" --label "xinchuang.lab.spec=$LAB_RUN_SPEC" \
    "${LAB_RUN_OPTS[@]}" "$image" "${LAB_RUN_CMD[@]}" >/dev/null \
    || xc_die "docker run of $name ($image, profile $profile) failed"
  lab_no_default_route "$name"
  xc_log "$name: started ($image, profile $profile, network $LAB_NET)"
}

# Docker gives a container on an internal network a default route all the same (its
# isolation rules then drop what leaves the subnet). Delete it, from outside the container
# (it may lack CAP_NET_ADMIN): the kernel of every lab host then knows no way out, as on the
# machines, and an attempt fails at once instead of timing out.
lab_no_default_route() {
  local name="$1" pid
  [ "$LAB_NET" != none ] || return 0
  pid=$(lab_container_field "$name" '{{.State.Pid}}')
  if [ -z "$pid" ] || [ "$pid" = 0 ]; then xc_die "$name: not running, cannot drop its default route"; fi
  nsenter --net="/proc/$pid/ns/net" ip route del default 2>/dev/null || true
}

# Ready: the profile's own check if it has one; else systemd has finished booting
# (running, or degraded: under emulation a few early units fail), or for hosts
# without systemd, docker exec works.
lab_host_state() {
  local name="$1" arch="${LAB_HOST_ARCH[$1]}" profile="${LAB_HOST_PROFILE[$1]}" state
  if declare -F "lab_ready_$profile" >/dev/null; then
    "lab_ready_$profile" "$name" && echo up
  elif [ "${LAB_SYSTEMD[$arch]}" = yes ]; then
    state=$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)
    case "$state" in running|degraded) echo "$state" ;; esac
  else
    docker exec "$name" true 2>/dev/null && echo up
  fi
  return 0
}

lab_wait_host() {
  local name="$1" state="" i
  if [ "${LAB_HOST_PROFILE[$name]}" = machine ]; then
    lab_machine_wait "$name" "${LAB_HOST_ADDRESS[$name]}"
    printf '%-18s %-16s %-9s %-10s %s (QEMU %s, boot to SSH %ss)\n' "$name" "$(lab_platform "${LAB_HOST_ARCH[$name]}")" \
      machine up "${LAB_HOST_ADDRESS[$name]}" "$(lab_machine_pid "$name")" "$(cat "$LAB_MACHINE_STATE/$name/boot-seconds")"
    return 0
  fi
  for ((i = 0; i < LAB_READY_TIMEOUT; i += 2)); do
    [ "$(lab_container_field "$name" '{{.State.Status}}')" = running ] \
      || xc_die "$name stopped while booting; docker logs $name"
    state=$(lab_host_state "$name")
    [ -n "$state" ] && break
    sleep 2
  done
  [ -n "$state" ] || xc_die "$name not ready after ${LAB_READY_TIMEOUT}s; docker logs $name"
  printf '%-18s %-16s %-9s %-10s %s%s\n' "$name" "$(lab_platform "${LAB_HOST_ARCH[$name]}")" \
    "${LAB_HOST_PROFILE[$name]}" "$state" "$(lab_host_addr "$name")" \
    "$([ "${LAB_HOST_PROFILE[$name]}" = worker ] && printf ' cgroup root: %s' "$(lab_cgroup_root "$name")")"
}

# HOST's address on its network, for the summary.
lab_host_addr() {
  lab_container_field "$1" '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}'
}

lab_up() {
  local h need_registry=no
  for h in "$@"; do
    if [ "${LAB_HOST_PROFILE[$h]}" = registry ]; then need_registry=yes; fi
  done
  lab_network_up "$LAB_NET"
  if [ "$need_registry" = yes ]; then lab_registry_prepare; fi
  # Machines first: they take longest to boot, and boot while the containers start.
  for h in "$@"; do
    if [ "${LAB_HOST_PROFILE[$h]}" = machine ]; then
      lab_machine_start "$h" "${LAB_HOST_ARCH[$h]}" "${LAB_HOST_ADDRESS[$h]}" "$LAB_TOPO_BRIDGE" "${LAB_TOPO_SUBNET#*/}"
    fi
  done
  for h in "$@"; do
    [ "${LAB_HOST_PROFILE[$h]}" = machine ] && continue
    lab_start_host "$h"
  done
  for h in "$@"; do lab_wait_host "$h"; done
  if [ "$need_registry" = yes ]; then lab_registry_summary; fi
}

# Removes the hosts with their volumes; the network goes with the last of its hosts.
lab_down() {
  local name v
  for name in "$@"; do
    # Facts cached by the lab's playbook runs (tests/e2e/lab.py) belong to this host's life
    # (the jsonfile cache prefixes its file names, s1_<host> in ansible-core 2.19).
    rm -f "$XC_ROOT/.lab/facts/$name" "$XC_ROOT/.lab/facts/"*_"$name"
    if [ "${LAB_HOST_PROFILE[$name]:-}" = machine ]; then
      lab_machine_stop "$name"
      if [ -d "$LAB_MACHINE_STATE/$name" ]; then rm -rf "${LAB_MACHINE_STATE:?}/$name"; xc_log "$name: machine stopped, overlay removed"; fi
      continue
    fi
    if [ -n "$(lab_container_field "$name" '{{.Id}}')" ]; then
      docker rm -f -v "$name" >/dev/null
      xc_log "$name: removed"
    fi
    for v in "$name-containerd" "$name-data"; do
      if docker volume rm "$v" >/dev/null 2>&1; then xc_log "volume $v: removed"; fi
    done
    lab_cgroup_down "$name"
  done
  lab_network_down "$LAB_NET"
}

lab_status() {
  local a image id platform recipe archive name t names=() seen
  docker info >/dev/null 2>&1 || { echo "dockerd: not running"; return 0; }
  printf '%-34s %-14s %-8s %-14s %s\n' IMAGE PLATFORM RECIPE ID CACHED-ARCHIVE
  for a in "${LAB_ARCHES[@]}"; do
    image=$(lab_image "$a"); id=$(lab_image_id "$image")
    platform=""; recipe=-
    if [ -n "$id" ]; then
      platform=$(docker image inspect -f '{{.Os}}/{{.Architecture}}{{with .Variant}}/{{.}}{{end}}' "$image")
      recipe=r$(docker image inspect -f '{{index .Config.Labels "xinchuang.lab.recipe"}}' "$image")
      # The loaded image is of an older recipe than archs.sh asks for: `images` rebuilds it.
      [ "$recipe" = "r${LAB_RECIPE[$a]}" ] || recipe="$recipe<r${LAB_RECIPE[$a]}"
    fi
    archive=$(lab_archive "$a")
    [ -f "$archive" ] || archive=-
    printf '%-34s %-14s %-8s %-14s %s\n' "$image" "${platform:--}" "$recipe" "${id:7:12}" "${archive##*/}"
  done
  echo
  # Every host of every topology, then lab containers no table knows (any more).
  printf '%-18s %-9s %-9s %-9s %-10s %s\n' HOST STATE TOPOLOGY PROFILE NETWORK ADDRESS
  for t in $(lab_topologies); do
    lab_load_topology "$t"
    for name in "${LAB_HOSTS[@]}"; do
      names+=("$name")
      if [ "${LAB_HOST_PROFILE[$name]}" = machine ]; then
        seen=absent
        [ -n "$(lab_machine_pid "$name")" ] && seen="running (QEMU pid $(lab_machine_pid "$name"))"
        printf '%-18s %-9s %-9s %-9s %-10s %s\n' "$name" "${seen%% *}" "$t" machine "$LAB_TOPO_BRIDGE" \
          "${LAB_HOST_ADDRESS[$name]}${seen#running}"
        continue
      fi
      seen=$(lab_container_field "$name" '{{.State.Status}}')
      [ "$(lab_container_field "$name" '{{index .Config.Labels "xinchuang.lab.topology"}}' | grep . || echo default)" = "$t" ] || seen=""
      if [ -z "$seen" ]; then printf '%-18s %-9s %s\n' "$name" absent "$t"; continue; fi
      printf '%-18s %-9s %-9s %-9s %-10s %s\n' "$name" "$seen" "$t" \
        "$(lab_container_field "$name" '{{index .Config.Labels "xinchuang.lab.profile"}}')" \
        "$(lab_container_field "$name" '{{.HostConfig.NetworkMode}}')" "$(lab_host_addr "$name" | awk '{print $1}' | grep . || echo -)"
    done
  done
  for name in $(docker ps -a --filter label=xinchuang.lab=1 --format '{{.Names}}' | sort); do
    printf '%s\n' "${names[@]}" | grep -qx "$name" || printf '%-18s %-9s %s\n' "$name" \
      "$(lab_container_field "$name" '{{.State.Status}}')" "(in no topology table: hack/lab.sh down cannot name it; docker rm -f -v $name)"
  done
  echo
  if docker network inspect "$LAB_TOPO_NETWORK" >/dev/null 2>&1; then
    printf 'network %-10s %s\n' "$LAB_TOPO_NETWORK" \
      "$(docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}} gateway {{.Gateway}}{{end}}' "$LAB_TOPO_NETWORK")"
  else
    printf 'network %-10s absent\n' "$LAB_TOPO_NETWORK"
  fi
  lab_registry_status
  echo
  for a in "${LAB_ARCHES[@]}"; do
    [ -n "${LAB_BINFMT[$a]}" ] || continue
    printf 'binfmt %-22s %s\n' "${LAB_BINFMT[$a]}" \
      "$(head -n2 "$BINFMT_DIR/${LAB_BINFMT[$a]}" 2>/dev/null | tr '\n' ' ' || echo absent)"
  done
}
