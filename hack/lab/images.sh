# shellcheck shell=bash
# Lab base images, built from Debian with debootstrap (no registry is reachable).
# Sourced by hack/lab.sh.
#
# Each image is a `docker load` archive cached as
#   $XC_CACHE/lab/xinchuang-lab_<suite>-<arch>-r<recipe>.tar  (+ .id: the image id)
# A warm run only loads an archive, or skips it when the tag already has that id.
# LAB_RECIPE (hack/lab/archs.sh) is a version per architecture: bump it when what
# goes into that image changes (packages, tweaks, image config); only images whose
# number changed are rebuilt.

: "${_lab_dir:?hack/lab/images.sh is sourced by hack/lab.sh}"
LAB_MIRROR="${XC_LAB_MIRROR:-http://deb.debian.org/debian}"
LAB_CACHE="$XC_CACHE/lab"

lab_key()     { printf '%s-%s-r%s' "${LAB_SUITE[$1]}" "$1" "${LAB_RECIPE[$1]}"; }
lab_archive() { printf '%s/xinchuang-lab_%s.tar' "$LAB_CACHE" "$(lab_key "$1")"; }

# Unmount whatever a failed or interrupted debootstrap left under DIR, deepest first,
# then delete DIR without ever crossing into another file system.
lab_rm_tree() {
  local dir="$1" m
  [ -e "$dir" ] || return 0
  while read -r m; do
    umount -l "$m" || xc_die "cannot unmount $m; remove $dir by hand"
  done < <(awk -v d="$dir/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r)
  rm -rf --one-file-system "$dir"
}

# debootstrap ARCH's root file system into DIR (foreign arches: first stage on the
# host, second stage in a chroot under QEMU through binfmt_misc).
lab_debootstrap() {
  local arch="$1" rootfs="$2" debs="$LAB_CACHE/debs/${LAB_SUITE[$1]}-$1"
  local args=(--variant=minbase "--include=${LAB_INCLUDE[$arch]}" "--arch=$arch" "--cache-dir=$debs")
  mkdir -p "$debs"
  if lab_native "$arch"; then
    debootstrap "${args[@]}" "${LAB_SUITE[$arch]}" "$rootfs" "$LAB_MIRROR"
  else
    debootstrap "${args[@]}" --foreign "${LAB_SUITE[$arch]}" "$rootfs" "$LAB_MIRROR"
    chroot "$rootfs" /debootstrap/debootstrap --second-stage
  fi
}

# What every lab image gets on top of debootstrap.
lab_tweak_rootfs() {
  local arch="$1" rootfs="$2"
  if [ "${LAB_SYSTEMD[$arch]}" = yes ]; then
    # An empty machine-id makes systemd generate one per container instead of
    # every lab host sharing the id debootstrap wrote.
    : >"$rootfs/etc/machine-id"
    rm -f "$rootfs/var/lib/dbus/machine-id"
    # Under QEMU user emulation systemd 252 cannot set up service credentials
    # ("Failed to set up credentials: Invalid argument"), so the units that ask for
    # optional ones (tmpfiles, sysusers) fail and the host boots "degraded".
    # Resetting LoadCredential= drops those optional inputs; nothing in the lab passes any.
    local unit
    for unit in systemd-sysusers systemd-tmpfiles-setup systemd-tmpfiles-setup-dev; do
      mkdir -p "$rootfs/etc/systemd/system/$unit.service.d"
      printf '[Service]\nLoadCredential=\n' >"$rootfs/etc/systemd/system/$unit.service.d/lab-no-credentials.conf"
    done
  fi
}

# Build ARCH's archive (and its .id file). Runs in a subshell per image.
lab_build_image() {
  local arch="$1" key work rootfs archive id start
  key=$(lab_key "$arch"); archive=$(lab_archive "$arch")
  work="$LAB_CACHE/build/$key"; rootfs="$work/rootfs"
  start=$(date +%s)
  lab_rm_tree "$work"
  mkdir -p "$work"
  xc_log "$key: debootstrap ${LAB_SUITE[$arch]} $arch"
  lab_debootstrap "$arch" "$rootfs"
  lab_tweak_rootfs "$arch" "$rootfs"
  xc_log "$key: rootfs $(du -sh --one-file-system "$rootfs" | cut -f1), packing"
  # Leave out downloaded .debs, package lists, debootstrap's own files and
  # device nodes (Docker mounts its own /dev).
  tar --numeric-owner --sort=name -C "$rootfs" -cf "$work/layer.tar" \
    --exclude='./var/cache/apt/archives/*.deb' --exclude='./var/lib/apt/lists/*' \
    --exclude='./debootstrap' --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' .
  local opts=(--layer "$work/layer.tar" --tag "$(lab_image "$arch")" --output "$archive"
    --arch "${LAB_OCI_ARCH[$arch]}" --variant "${LAB_OCI_VARIANT[$arch]}"
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    --env container=docker
    --label "xinchuang.lab.suite=${LAB_SUITE[$arch]}" --label "xinchuang.lab.arch=$arch"
    --label "xinchuang.lab.recipe=${LAB_RECIPE[$arch]}" --label "xinchuang.lab.systemd=${LAB_SYSTEMD[$arch]}"
    --created-by "hack/lab.sh images (recipe ${LAB_RECIPE[$arch]}): debootstrap --variant=minbase --include=${LAB_INCLUDE[$arch]} ${LAB_SUITE[$arch]}")
  # systemd shuts down cleanly on SIGRTMIN+3, not on docker's default SIGTERM.
  [ "${LAB_SYSTEMD[$arch]}" = yes ] && opts+=(--stop-signal 'SIGRTMIN+3')
  id=$(/usr/bin/python3 "$_lab_dir/docker_load_archive.py" "${opts[@]}" -- /bin/bash)
  printf '%s\n' "$id" >"$archive.id"
  lab_rm_tree "$work"
  # Archives of older recipes are dead weight once this one exists.
  find "$LAB_CACHE" -maxdepth 1 -name "xinchuang-lab_${LAB_SUITE[$arch]}-$arch-r*.tar*" \
    ! -name "$(basename "$archive")*" -delete
  xc_log "$key: built in $(( $(date +%s) - start ))s: $archive ($(du -h "$archive" | cut -f1)), image $id"
}

lab_image_id() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true; }

# Load ARCH's archive unless the tag already points at the same image id.
lab_load_image() {
  local arch="$1" archive want have
  archive=$(lab_archive "$arch")
  want=$(cat "$archive.id")
  have=$(lab_image_id "$(lab_image "$arch")")
  if [ "$have" = "$want" ]; then
    xc_log "$(lab_image "$arch"): loaded already ($want)"
    return 0
  fi
  docker load -q -i "$archive" >/dev/null || xc_die "docker load -i $archive failed"
  local old="$have"
  have=$(lab_image_id "$(lab_image "$arch")")
  [ "$have" = "$want" ] || xc_die "$(lab_image "$arch") has id $have after loading $archive, expected $want"
  xc_log "$(lab_image "$arch"): loaded ($want)"
  # The image this tag pointed at before (an older recipe) is dead weight, unless a
  # container still runs it: then docker refuses and it stays until that one is gone.
  if [ -n "$old" ] && docker image rm "$old" >/dev/null 2>&1; then
    xc_log "removed the replaced image $old"
  fi
}

# The image runs ARCH's binaries: `uname -m` prints the architecture's own name.
lab_verify_image() {
  local arch="$1" image got platform
  image=$(lab_image "$arch"); platform=$(lab_platform "$arch")
  got=$(docker run --rm --network none --platform "$platform" "$image" uname -m) \
    || xc_die "docker run --platform $platform $image uname -m failed"
  [ "$got" = "${LAB_UNAME[$arch]}" ] \
    || xc_die "$image: uname -m printed '$got', expected '${LAB_UNAME[$arch]}' (binfmt handler missing? run hack/lab.sh binfmt)"
  printf '%-34s %-16s uname -m = %s\n' "$image" "$platform" "$got"
}

# How many of the given process ids are still alive.
lab_running() {
  local n=0 pid
  for pid in "$@"; do kill -0 "$pid" 2>/dev/null && n=$((n + 1)); done
  echo "$n"
}

lab_images() {
  local arches=("$@") todo=() a log jobs="${XC_LAB_JOBS:-4}" start failed=() pid state secs
  xc_ensure_docker
  lab_binfmt
  xc_apt_install debootstrap
  mkdir -p "$LAB_CACHE/logs" "$LAB_CACHE/status"
  for a in "${arches[@]}"; do
    if [ "${XC_LAB_REBUILD:-0}" = 1 ] || [ ! -s "$(lab_archive "$a").id" ] || [ ! -f "$(lab_archive "$a")" ]; then
      todo+=("$a")
    else
      xc_log "$(lab_key "$a"): cached archive $(lab_archive "$a")"
    fi
  done
  if [ "${#todo[@]}" -gt 0 ]; then
    start=$(date +%s)
    xc_log "building ${todo[*]} (up to $jobs at a time; logs in $LAB_CACHE/logs)"
    # Only our own builders are counted and waited for: this shell may also be
    # the parent of a dockerd that xc_ensure_docker started in the background.
    local pids=()
    for a in "${todo[@]}"; do
      while [ "$(lab_running "${pids[@]}")" -ge "$jobs" ]; do sleep 2; done
      log="$LAB_CACHE/logs/$(lab_key "$a").log"
      rm -f "$LAB_CACHE/status/$a"
      # Not `lab_build_image && echo`: errexit is off inside a function run as the
      # left side of &&, and a failed step must stop the build.
      (
        s=$(date +%s)
        lab_build_image "$a"
        echo "ok $(( $(date +%s) - s ))" >"$LAB_CACHE/status/$a"
      ) >"$log" 2>&1 &
      pids+=("$!")
    done
    for pid in "${pids[@]}"; do wait "$pid" || true; done
    for a in "${todo[@]}"; do
      if read -r state secs <"$LAB_CACHE/status/$a" 2>/dev/null && [ "$state" = ok ]; then
        printf 'BUILD %-32s %5ds\n' "$(lab_image "$a")" "$secs" >&2
      else
        failed+=("$a")
        printf 'BUILD %-32s FAILED, last lines of %s:\n' "$(lab_image "$a")" "$LAB_CACHE/logs/$(lab_key "$a").log" >&2
        tail -n 15 "$LAB_CACHE/logs/$(lab_key "$a").log" >&2
      fi
    done
    printf 'BUILD %-32s %5ds\n' "all (wall clock)" "$(( $(date +%s) - start ))" >&2
    [ "${#failed[@]}" -eq 0 ] || xc_die "image build failed for: ${failed[*]}"
  fi
  for a in "${arches[@]}"; do lab_load_image "$a"; done
  for a in "${arches[@]}"; do lab_verify_image "$a"; done
}
