# shellcheck shell=bash
# Lab hosts: one long-running container per architecture, reached with
# `docker exec` (Ansible's community.docker.docker connection). Sourced by hack/lab.sh.
#
# A profile is a function lab_profile_<name> ARCH that appends the container's
# `docker run` options to LAB_RUN_OPTS and its command to LAB_RUN_CMD.
# Choose one with XC_LAB_PROFILE (default base). A host started with another
# profile or from another image is recreated; a matching one is reused.

LAB_PROFILES=(base worker)
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
  local arch="$1"
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
lab_profile_worker() {
  local arch="$1"
  lab_pid1 "$arch"
  LAB_RUN_OPTS+=(--cap-add ALL --cap-drop SYS_RESOURCE
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined
    -v /sys/fs/cgroup:/sys/fs/cgroup:rw --device /dev/kmsg
    --tmpfs /run --tmpfs /run/lock
    --mount "type=volume,source=$(lab_container "$arch")-containerd,target=/var/lib/containerd,volume-label=xinchuang.lab=1")
}

lab_check_profile() {
  local p
  for p in "${LAB_PROFILES[@]}"; do [ "$p" = "$1" ] && return 0; done
  xc_die "unknown lab profile '$1' (XC_LAB_PROFILE); accepted: ${LAB_PROFILES[*]}"
}

lab_container_field() { docker container inspect -f "$2" "$1" 2>/dev/null || true; }

lab_start_host() {
  local arch="$1" name image image_id have_image have_profile state
  name=$(lab_container "$arch"); image=$(lab_image "$arch")
  image_id=$(lab_image_id "$image")
  [ -n "$image_id" ] || xc_die "image $image is not loaded; run hack/lab.sh images $arch"
  state=$(lab_container_field "$name" '{{.State.Status}}')
  if [ -n "$state" ]; then
    have_image=$(lab_container_field "$name" '{{.Image}}')
    have_profile=$(lab_container_field "$name" '{{index .Config.Labels "xinchuang.lab.profile"}}')
    if [ "$have_image" = "$image_id" ] && [ "$have_profile" = "$LAB_PROFILE" ]; then
      if [ "$state" = running ]; then
        xc_log "$name: running, reused"
      else
        xc_log "$name: $state, starting"
        docker start "$name" >/dev/null
      fi
      return 0
    fi
    xc_log "$name: image or profile changed ($have_profile -> $LAB_PROFILE), recreating"
    docker rm -f -v "$name" >/dev/null
  fi
  LAB_RUN_OPTS=(); LAB_RUN_CMD=()
  "lab_profile_$LAB_PROFILE" "$arch"
  docker run -d --name "$name" --hostname "$name" --platform "$(lab_platform "$arch")" \
    --network "$LAB_NETWORK" \
    --label xinchuang.lab=1 --label "xinchuang.lab.arch=$arch" --label "xinchuang.lab.profile=$LAB_PROFILE" \
    "${LAB_RUN_OPTS[@]}" "$image" "${LAB_RUN_CMD[@]}" >/dev/null \
    || xc_die "docker run of $name ($image, profile $LAB_PROFILE) failed"
  xc_log "$name: started ($image, profile $LAB_PROFILE)"
}

# Ready: systemd has finished booting (running, or degraded: under emulation a
# few early units fail), or for hosts without systemd, docker exec works.
lab_wait_host() {
  local arch="$1" name state="" i
  name=$(lab_container "$arch")
  for ((i = 0; i < LAB_READY_TIMEOUT; i += 2)); do
    [ "$(lab_container_field "$name" '{{.State.Status}}')" = running ] \
      || xc_die "$name stopped while booting; docker logs $name"
    if [ "${LAB_SYSTEMD[$arch]}" = yes ]; then
      state=$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)
      case "$state" in running|degraded) break ;; esac
    else
      docker exec "$name" true 2>/dev/null && state=up && break
    fi
    sleep 2
  done
  case "$state" in
    running|degraded|up) ;;
    *) xc_die "$name not ready after ${LAB_READY_TIMEOUT}s (state '${state:-none}'); docker logs $name" ;;
  esac
  printf '%-18s %-18s %s\n' "$name" "$(lab_platform "$arch")" "$state"
}

lab_up() {
  local a
  lab_check_profile "$LAB_PROFILE"
  for a in "$@"; do lab_start_host "$a"; done
  for a in "$@"; do lab_wait_host "$a"; done
}

lab_down() {
  local a name
  for a in "$@"; do
    name=$(lab_container "$a")
    if [ -n "$(lab_container_field "$name" '{{.Id}}')" ]; then
      docker rm -f -v "$name" >/dev/null
      xc_log "$name: removed"
    fi
    docker volume rm "$name-containerd" >/dev/null 2>&1 || true
  done
}

lab_status() {
  local a image name id platform archive
  docker info >/dev/null 2>&1 || { echo "dockerd: not running"; return 0; }
  printf '%-34s %-14s %-20s %s\n' IMAGE PLATFORM ID CACHED-ARCHIVE
  for a in "${LAB_ARCHES[@]}"; do
    image=$(lab_image "$a"); id=$(lab_image_id "$image")
    platform=""
    [ -n "$id" ] && platform=$(docker image inspect -f '{{.Os}}/{{.Architecture}}{{with .Variant}}/{{.}}{{end}}' "$image")
    archive=$(lab_archive "$a")
    [ -f "$archive" ] || archive=-
    printf '%-34s %-14s %-20s %s\n' "$image" "${platform:--}" "${id:7:12}" "${archive##*/}"
  done
  echo
  printf '%-18s %-10s %-8s %s\n' HOST STATE PROFILE IMAGE
  for a in "${LAB_ARCHES[@]}"; do
    name=$(lab_container "$a")
    printf '%-18s %-10s %-8s %s\n' "$name" \
      "$(lab_container_field "$name" '{{.State.Status}}' | grep . || echo absent)" \
      "$(lab_container_field "$name" '{{index .Config.Labels "xinchuang.lab.profile"}}')" \
      "$(lab_container_field "$name" '{{.Config.Image}}')"
  done
  echo
  for a in "${LAB_ARCHES[@]}"; do
    [ -n "${LAB_BINFMT[$a]}" ] || continue
    printf 'binfmt %-22s %s\n' "${LAB_BINFMT[$a]}" \
      "$(head -n2 "$BINFMT_DIR/${LAB_BINFMT[$a]}" 2>/dev/null | tr '\n' ' ' || echo absent)"
  done
}
