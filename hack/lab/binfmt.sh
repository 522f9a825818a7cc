# shellcheck shell=bash
# QEMU binfmt_misc handlers for the foreign lab hosts. Sourced by hack/lab.sh.
#
# arm64 and mips64el: Debian bookworm's qemu-user-static, enabled with update-binfmts.
# loong64: bookworm's QEMU 7.2 dies with SIGILL on sid's loong64 binaries, so
# trixie's qemu-user (10.x, static-pie) is fetched with `apt-get download` under an
# apt configuration of our own (the machine's apt sources are never touched),
# unpacked into $XC_CACHE/qemu-trixie-<version>/ and registered by hand.
# Every entry carries the F flag: the kernel opens the interpreter at registration,
# so no QEMU binary has to be copied into a container's root filesystem.

BINFMT_DIR=/proc/sys/fs/binfmt_misc
LAB_QEMU_SUITE="${XC_LAB_QEMU_SUITE:-trixie}"
LAB_QEMU_MIRROR="${XC_LAB_MIRROR:-http://deb.debian.org/debian}"
LAB_QEMU_APT="$XC_CACHE/apt-$LAB_QEMU_SUITE"

binfmt_mount() {
  [ -e "$BINFMT_DIR/register" ] && return 0
  xc_log "mounting binfmt_misc on $BINFMT_DIR"
  mount -t binfmt_misc binfmt_misc "$BINFMT_DIR" \
    || xc_die "cannot mount binfmt_misc on $BINFMT_DIR (a container without CAP_SYS_ADMIN cannot; run on the host)"
}

binfmt_enabled() { [ -f "$BINFMT_DIR/$1" ] && head -n1 "$BINFMT_DIR/$1" | grep -qx enabled; }

binfmt_enable_debian() {
  local name="$1"
  if binfmt_enabled "$name"; then
    xc_log "binfmt $name: enabled"
    return 0
  fi
  [ -f "/usr/share/binfmts/$name" ] || xc_die "binfmt $name: /usr/share/binfmts/$name missing (package qemu-user-static)"
  update-binfmts --enable "$name"
  binfmt_enabled "$name" || xc_die "binfmt $name: update-binfmts --enable did not register it"
  xc_log "binfmt $name: enabled now"
}

# apt-get under our own configuration: its own sources.list, lists, cache and an
# empty dpkg status, and none of the machine's apt.conf.d snippets or pins.
lab_qemu_apt() {
  local d="$LAB_QEMU_APT"
  mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/sources.list.d" \
    "$d/preferences.d" "$d/apt.conf.d"
  printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
    "$LAB_QEMU_MIRROR" "$LAB_QEMU_SUITE" >"$d/sources.list"
  [ -f "$d/status" ] || : >"$d/status"
  apt-get -q \
    -o Dir::Etc::Parts="$d/apt.conf.d" \
    -o Dir::Etc::SourceList="$d/sources.list" \
    -o Dir::Etc::SourceParts="$d/sources.list.d" \
    -o Dir::Etc::Preferences="$d/preferences" \
    -o Dir::Etc::PreferencesParts="$d/preferences.d" \
    -o Dir::State::Lists="$d/lists" \
    -o Dir::State::status="$d/status" \
    -o Dir::Cache="$d/cache" \
    -o APT::Sandbox::User=root \
    -o Debug::NoLocking=true \
    "$@"
}

# Newest unpacked trixie QEMU in the cache, or nothing.
lab_qemu_cached() {
  local d
  d=$(find "$XC_CACHE" -maxdepth 1 -type d -name "qemu-$LAB_QEMU_SUITE-*" -exec test -x '{}/usr/bin/qemu-loongarch64' ';' -print \
      | sort -V | tail -n1)
  [ -n "$d" ] && printf '%s\n' "$d"
}

# Prints the directory holding trixie's qemu-user; downloads it on the first run
# (or when XC_LAB_QEMU_REFRESH=1 asks for the archive's current version).
lab_qemu_fetch() {
  local dir deb version tmp
  dir=$(lab_qemu_cached || true)
  if [ -n "$dir" ] && [ "${XC_LAB_QEMU_REFRESH:-0}" != 1 ]; then
    printf '%s\n' "$dir"
    return 0
  fi
  xc_log "fetching qemu-user from $LAB_QEMU_SUITE ($LAB_QEMU_MIRROR)"
  lab_qemu_apt update >&2 || xc_die "apt-get update for $LAB_QEMU_SUITE failed (config under $LAB_QEMU_APT)"
  # The unpacked tree is the cache; the .deb is kept only until it is unpacked.
  rm -rf "$LAB_QEMU_APT/debs"
  mkdir -p "$LAB_QEMU_APT/debs"
  (cd "$LAB_QEMU_APT/debs" && lab_qemu_apt download qemu-user >&2) \
    || xc_die "apt-get download qemu-user from $LAB_QEMU_SUITE failed"
  deb=$(find "$LAB_QEMU_APT/debs" -name 'qemu-user_*.deb' | head -n1)
  [ -n "$deb" ] || xc_die "no qemu-user .deb in $LAB_QEMU_APT/debs after apt-get download"
  version=$(dpkg-deb -f "$deb" Version)
  version=${version#*:}   # the epoch's colon does not belong in a path
  dir="$XC_CACHE/qemu-$LAB_QEMU_SUITE-$version"
  if [ ! -x "$dir/usr/bin/qemu-loongarch64" ]; then
    tmp=$(mktemp -d "$XC_CACHE/.qemu-unpack.XXXXXX")
    dpkg-deb -x "$deb" "$tmp"
    rm -rf "$dir"
    mv "$tmp" "$dir"
    chmod 755 "$dir"
  fi
  rm -rf "$LAB_QEMU_APT/debs"
  xc_log "qemu-user $version unpacked in $dir"
  printf '%s\n' "$dir"
}

binfmt_register_loong64() {
  local name="${LAB_BINFMT[loong64]}" qdir conf interp line offset magic mask flags
  qdir=$(lab_qemu_fetch)
  # trixie ships its entries in systemd's binfmt.d format: :name:type:offset:magic:mask:interpreter:flags
  conf="$qdir/usr/share/qemu/binfmt.d/qemu-loongarch64.conf"
  interp="$qdir/usr/libexec/qemu-binfmt/loongarch64-binfmt-P"
  { [ -f "$conf" ] && [ -e "$interp" ]; } || xc_die "unexpected layout of $qdir: need $conf and $interp"
  IFS=: read -r _ _ _ offset magic mask _ flags <"$conf"
  { [ -n "$magic" ] && [ -n "$mask" ]; } || xc_die "cannot parse $conf"
  # F (fix binary) is what lets foreign-rootfs containers use it; keep trixie's other flags.
  case "$flags" in *F*) ;; *) flags="${flags}F" ;; esac
  # Bookworm's entry matches the same ELF header; keep it out of the way.
  if binfmt_enabled qemu-loongarch64; then
    xc_log "binfmt qemu-loongarch64 (bookworm, QEMU 7.2): disabling"
    update-binfmts --disable qemu-loongarch64 || echo 0 >"$BINFMT_DIR/qemu-loongarch64"
  fi
  if [ -f "$BINFMT_DIR/$name" ]; then
    if binfmt_enabled "$name" && grep -qx "interpreter $interp" "$BINFMT_DIR/$name" \
       && grep -q '^flags: .*F' "$BINFMT_DIR/$name"; then
      xc_log "binfmt $name: enabled ($interp)"
      return 0
    fi
    echo -1 >"$BINFMT_DIR/$name"   # stale: other interpreter, or disabled
  fi
  line=":$name:M:$offset:$magic:$mask:$interp:$flags"
  printf '%s' "$line" >"$BINFMT_DIR/register" || xc_die "registering $name failed: $line"
  binfmt_enabled "$name" || xc_die "binfmt $name: registered but not enabled"
  xc_log "binfmt $name: registered ($interp, flags $flags)"
}

lab_binfmt() {
  xc_apt_install qemu-user-static binfmt-support
  binfmt_mount
  local a
  for a in "${LAB_ARCHES[@]}"; do
    case "${LAB_BINFMT[$a]}" in
      "") ;;
      xc-*) binfmt_register_loong64 ;;
      *) binfmt_enable_debian "${LAB_BINFMT[$a]}" ;;
    esac
  done
}
