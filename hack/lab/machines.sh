# shellcheck shell=bash disable=SC2034  # the LAB_MACHINE_* tables are read by hack/lab/hosts.sh
# Lab machines: full-system QEMU machines (TCG) with a real Debian kernel of a foreign
# architecture, for what user-mode emulation cannot run (netfilter, conntrack, runc).
# Sourced by hack/lab.sh; a topology row with PROFILE `machine` is one of these.
#
# Image: per architecture a bootable root file system image, built once with mmdebstrap
# (foreign architectures run through binfmt_misc) and cached by recipe version:
#   $XC_CACHE/lab/machines/<suite>-<arch>-m<recipe>/{rootfs.img,vmlinuz,initrd.img,firmware}
# Machine: a qcow2 overlay over that image (the image stays pristine), a small "seed"
# disk that tells the image's xc-lab-seed unit its host name, address and SSH key, and a
# tap device on the topology network's bridge, so machines and containers are peers on one
# L2 network. State under .lab/machines/<name>/ (overlay, seed, pid, serial console log).
# Ansible reaches a machine over SSH with the lab's key (.lab/ssh/id_ed25519).

LAB_MACHINE_DIR="$LAB_CACHE/machines"
LAB_MACHINE_STATE="$XC_ROOT/.lab/machines"
LAB_SSH_KEY="$XC_ROOT/.lab/ssh/id_ed25519"
LAB_MACHINE_BOOT_TIMEOUT="${XC_LAB_BOOT_TIMEOUT:-600}"
LAB_MACHINE_DISK_SIZE="${XC_LAB_MACHINE_DISK:-8G}"

# Per architecture: the kernel package, how QEMU runs it, what it costs.
#   kernel: Debian's flavour for the QEMU board.  console: the board's serial console.
#   machine/cpu/smp/mem: the QEMU board (malta has one vCPU).  qemu: the system emulator.
# amd64: a real amd64 kernel for what this machine's own kernel lacks (an NFS server and client,
# an iSCSI initiator); TCG too, because /dev/kvm opens here but a KVM vCPU never runs.
declare -A LAB_MACHINE_KERNEL=([arm64]=linux-image-arm64 [mips64el]=linux-image-5kc-malta [loong64]=linux-image-loong64 [amd64]=linux-image-amd64)
declare -A LAB_MACHINE_QEMU=([arm64]=qemu-system-aarch64 [mips64el]=qemu-system-mips64el [loong64]=qemu-system-loongarch64 [amd64]=qemu-system-x86_64)
declare -A LAB_MACHINE_BOARD=(
  [amd64]="-M q35 -cpu max"
  [arm64]="-M virt -cpu max,pauth-impdef=on"
  [mips64el]="-M malta -cpu MIPS64R2-generic -vga none"
  [loong64]="-M virt -cpu la464"
)
declare -A LAB_MACHINE_SMP=([arm64]=2 [mips64el]=1 [loong64]=2 [amd64]=2)
declare -A LAB_MACHINE_MEM=([arm64]=2048 [mips64el]=2048 [loong64]=2048 [amd64]=2048)
declare -A LAB_MACHINE_CONSOLE=([arm64]=ttyAMA0 [mips64el]=ttyS0 [loong64]=ttyS0 [amd64]=ttyS0)
# Recipe version per machine image: bump it when what goes into the image changes.
#   1: systemd, sshd, python3, node tools, seed unit, initramfs with the virtio drivers only
#   2: the machine's storage packages (LAB_MACHINE_EXTRA: arm64, mips64el)
#   3: the arm64 machine's database server (postgresql-15, without a cluster of the packages' own)
#   4: the arm64 machine's iSCSI initiator (open-iscsi): the gate mounts its own target's LUN
declare -A LAB_MACHINE_RECIPE=([arm64]=4 [mips64el]=2 [loong64]=1 [amd64]=1)
# Packages one architecture's machine adds, for the cluster topology's storage: the arm64
# machine is the lab's NFS server (nfs-kernel-server, with the client) and iSCSI target (LIO:
# targetcli-fb), both machines NFS clients (mount.nfs) and iSCSI initiators (open-iscsi), which
# the kubelet's nfs and iscsi volumes call (the gate has only the arm64 machine: it mounts its
# own target's LUN; the full tier's mips64el machine mounts it across architectures). The arm64
# machine is also the lab's database host (group database: playbooks/database.yml, engine postgresql, and tpcc.yml).
# The lab hosts are offline, so what the roles would install from the site's mirror is in the
# image (inventories/lab).
declare -A LAB_MACHINE_EXTRA=([arm64]="nfs-kernel-server,targetcli-fb,open-iscsi,postgresql-15" [mips64el]="nfs-common,open-iscsi"
  [loong64]="" [amd64]="")
# Node tools as in the container images (hack/lab/archs.sh) plus what a real machine needs
# to boot and be reached: kernel, initramfs, udev, sshd; util-linux for mount/blkid.
_lab_machine_pkgs=systemd,systemd-sysv,udev,dbus,kmod,initramfs-tools,zstd,openssh-server,python3,sudo
_lab_machine_pkgs+=,iptables,nftables,conntrack,ipset,iproute2,procps,socat,netbase,ca-certificates
_lab_machine_pkgs+=,iputils-ping,libseccomp2,e2fsprogs,util-linux,mount
LAB_MACHINE_INCLUDE="$_lab_machine_pkgs"
unset _lab_machine_pkgs
# The only modules the initramfs needs to find the root disk: MODULES=most makes
# update-initramfs take ~15 min a run under user-mode emulation (lab notes).
LAB_MACHINE_INITRAMFS_MODULES="virtio_pci virtio_blk virtio_net virtio_mmio ext4 crc32c"

lab_machine_key()   { printf '%s-%s-m%s' "${LAB_SUITE[$1]}" "$1" "${LAB_MACHINE_RECIPE[$1]}"; }
lab_machine_image() { printf '%s/%s' "$LAB_MACHINE_DIR" "$(lab_machine_key "$1")"; }
lab_has_machine()   { [ -n "${LAB_MACHINE_KERNEL[$1]:-}" ]; }

# The seed hook baked into every machine image: mounts the disk labelled XCSEED (made per
# machine by lab_machine_seed) and runs its `apply` script, before the network and sshd
# start. What a machine is told lives on the seed disk, so changing it rebuilds no image.
lab_machine_seed_script() {
  cat <<'EOF'
#!/bin/sh
# xc-lab-seed: run the seed disk's apply script (hack/lab/machines.sh).
set -eu
dev=$(blkid -L XCSEED 2>/dev/null || true)
[ -n "$dev" ] || { echo "xc-lab-seed: no seed disk"; exit 0; }
mkdir -p /run/xc-seed
mount -o ro "$dev" /run/xc-seed
rc=0
sh /run/xc-seed/apply /run/xc-seed || rc=$?
umount /run/xc-seed
exit "$rc"
EOF
}

# The seed disk's apply script ($1: where the disk is mounted): host name, static address,
# name server, SSH key.
lab_machine_apply_script() {
  cat <<'EOF'
set -eu
s="$1"
hostname "$(cat "$s/hostname")"
cat "$s/hostname" >/etc/hostname
mkdir -p /etc/systemd/network /root/.ssh
cp "$s/lab.network" /etc/systemd/network/10-lab.network
install -m 0600 "$s/authorized_keys" /root/.ssh/authorized_keys
rm -f /etc/resolv.conf
cp "$s/resolv.conf" /etc/resolv.conf
EOF
}

lab_machine_seed_unit() {
  cat <<'EOF'
[Unit]
Description=Lab machine settings from the seed disk (hack/lab/machines.sh)
DefaultDependencies=no
After=local-fs.target systemd-udev-settle.service
Wants=systemd-udev-settle.service
Before=network-pre.target systemd-networkd.service ssh.service
Wants=network-pre.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/xc-lab-seed
RemainAfterExit=yes

[Install]
WantedBy=sysinit.target
EOF
}

# mmdebstrap's hooks: $1 is the root file system. The essential hook runs before the kernel
# package is configured, so its initramfs is built with the short module list.
lab_machine_build() {
  local arch="$1" dir work rootfs start suite="${LAB_SUITE[$1]}" args
  dir=$(lab_machine_image "$arch"); work="$dir.build"; rootfs="$work/rootfs"
  start=$(date +%s)
  lab_rm_tree "$work"
  mkdir -p "$work"
  lab_machine_seed_script >"$work/xc-lab-seed"
  lab_machine_seed_unit >"$work/xc-lab-seed.service"
  # The hooks run in mmdebstrap's shell, which gives them the root file system as $1.
  # shellcheck disable=SC2016
  args=(--arch="$arch" --variant=apt --include="$LAB_MACHINE_INCLUDE,${LAB_MACHINE_KERNEL[$arch]}${LAB_MACHINE_EXTRA[$arch]:+,${LAB_MACHINE_EXTRA[$arch]}}"
    --aptopt='Acquire::Check-Valid-Until "false"'
    --essential-hook='mkdir -p "$1/etc/initramfs-tools/conf.d" "$1/usr/share/initramfs-tools/modules.d"'
    --essential-hook='echo MODULES=list >"$1/etc/initramfs-tools/conf.d/xc-lab-modules"'
    --essential-hook="printf '%s\n' $LAB_MACHINE_INITRAMFS_MODULES >\"\$1/usr/share/initramfs-tools/modules.d/xc-lab\""
    --customize-hook="install -m 0755 '$work/xc-lab-seed' \"\$1/usr/local/sbin/xc-lab-seed\""
    --customize-hook="install -m 0644 '$work/xc-lab-seed.service' \"\$1/etc/systemd/system/xc-lab-seed.service\""
    --customize-hook='chroot "$1" systemctl enable xc-lab-seed.service systemd-networkd.service ssh.service'
    # Timers that would wake an emulated machine for nothing during a test.
    --customize-hook='chroot "$1" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer man-db.timer dpkg-db-backup.timer 2>/dev/null || true'
    # Each machine gets its own machine-id (its overlay keeps it); root logs in by key only.
    --customize-hook=': >"$1/etc/machine-id"; rm -f "$1/var/lib/dbus/machine-id"'
    --customize-hook='printf "/dev/vda / ext4 rw,errors=remount-ro 0 1\n" >"$1/etc/fstab"'
  )
  # The database role makes its own cluster: the packages must not make theirs ("main", on the
  # same port), as the role's own setting does on a site (roles/kingbase, engine postgresql).
  # shellcheck disable=SC2016
  case ",${LAB_MACHINE_EXTRA[$arch]}," in
    *,postgresql-*) args+=(--essential-hook='mkdir -p "$1/etc/postgresql-common/createcluster.d" && echo "create_main_cluster = false" >"$1/etc/postgresql-common/createcluster.d/xc-lab.conf"') ;;
  esac
  # sid's mount is no longer essential, and bookworm's mmdebstrap cannot tell the
  # loong64 QEMU handler (trixie's, registered by hack/lab.sh binfmt) is there.
  [ "$suite" = sid ] && args+=(--skip=check/qemu)
  xc_log "$(lab_machine_key "$arch"): mmdebstrap $suite $arch (+ ${LAB_MACHINE_KERNEL[$arch]})"
  if ! mmdebstrap "${args[@]}" "$suite" "$rootfs" "$LAB_MIRROR"; then
    lab_rm_tree "$work"
    xc_die "$(lab_machine_key "$arch"): mmdebstrap of Debian $suite $arch failed (above: e.g. the kernel package ${LAB_MACHINE_KERNEL[$arch]} or another of its packages missing from $LAB_MIRROR for $arch); nothing was kept. Fix the package list in hack/lab/machines.sh or the mirror (XC_LAB_MIRROR)"
  fi
  mkdir -p "$work/out"
  cp -L "$rootfs"/boot/vmlinu[xz]-* "$work/out/vmlinuz"
  cp -L "$rootfs"/boot/initrd.img-* "$work/out/initrd.img"
  # Leave out downloaded packages and lists: the machines are offline.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  xc_log "$(lab_machine_key "$arch"): rootfs $(du -sh --one-file-system "$rootfs" | cut -f1), mkfs.ext4 -d ($LAB_MACHINE_DISK_SIZE sparse)"
  mkfs.ext4 -q -F -L xc-root -d "$rootfs" "$work/out/rootfs.img" "$LAB_MACHINE_DISK_SIZE"
  lab_machine_firmware "$arch" "$work/out"
  printf '%s\n' "$(lab_machine_key "$arch")" >"$work/out/RECIPE"
  rm -rf "$dir"
  mv "$work/out" "$dir"
  lab_rm_tree "$work"
  # Images of older recipes are dead weight once this one exists.
  find "$LAB_MACHINE_DIR" -maxdepth 1 -name "${suite}-${arch}-m*" ! -name "$(basename "$dir")" -exec rm -rf {} +
  xc_log "$(lab_machine_key "$arch"): built in $(( $(date +%s) - start ))s: $dir"
}

# Firmware the board needs besides the kernel: loong64's virt board boots through EDK2
# (sid's qemu-efi-loongarch64); the other boards take -kernel directly.
lab_machine_firmware() {
  local arch="$1" out="$2" pkg
  [ "$arch" = loong64 ] || return 0
  pkg=$(xc_debian_package sid amd64 qemu-efi-loongarch64) || xc_die "cannot fetch sid's qemu-efi-loongarch64"
  cp "$pkg/usr/share/qemu-efi-loongarch64/QEMU_EFI.fd" "$out/firmware.fd"
}

# The QEMU system emulator for ARCH, as a command line prefix. loong64 needs QEMU >= 10
# (bookworm has 7.2): trixie's qemu-system-misc, unpacked in an amd64 trixie root made
# by mmdebstrap and run through that root's own loader and libraries (lab notes).
lab_machine_qemu() {
  local arch="$1" root
  if [ "$arch" != loong64 ]; then
    command -v "${LAB_MACHINE_QEMU[$arch]}" >/dev/null \
      || xc_die "${LAB_MACHINE_QEMU[$arch]} missing: run hack/deps.sh (package qemu-system-arm / qemu-system-mips)"
    printf '%s\n' "${LAB_MACHINE_QEMU[$arch]}"
    return 0
  fi
  root="$XC_CACHE/qemu-system-trixie"
  if [ ! -x "$root/usr/bin/qemu-system-loongarch64" ]; then
    xc_log "qemu-system-loongarch64: mmdebstrap of an amd64 trixie root with qemu-system-misc (once)"
    lab_rm_tree "$root.build"
    mmdebstrap --variant=apt --include=qemu-system-misc,qemu-system-data trixie "$root.build" "$LAB_MIRROR" >&2 \
      || xc_die "mmdebstrap of trixie's qemu-system-misc failed (log above)"
    lab_rm_tree "$root"; mv "$root.build" "$root"
  fi
  printf '%s\n' "$root/lib64/ld-linux-x86-64.so.2" --library-path \
    "$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu" \
    "$root/usr/bin/qemu-system-loongarch64" -L "$root/usr/share/qemu"
}

# Build the images of the given architectures that the cache lacks, one after the other
# (each one keeps both cores busy under emulation).
lab_machine_images() {
  local a dir failed=() log
  xc_apt_install mmdebstrap qemu-utils e2fsprogs arch-test
  lab_binfmt
  mkdir -p "$LAB_MACHINE_DIR" "$LAB_CACHE/logs"
  for a in "$@"; do
    lab_has_machine "$a" || xc_die "no machine recipe for '$a'; machines exist for: ${!LAB_MACHINE_KERNEL[*]}"
    dir=$(lab_machine_image "$a")
    if [ "${XC_LAB_REBUILD:-0}" != 1 ] && [ -s "$dir/RECIPE" ]; then
      xc_log "$(lab_machine_key "$a"): cached machine image $dir"
      continue
    fi
    log="$LAB_CACHE/logs/$(lab_machine_key "$a").log"
    xc_log "$(lab_machine_key "$a"): building (log $log)"
    if ! ( lab_machine_build "$a" ) >"$log" 2>&1; then
      tail -n 20 "$log" >&2
      failed+=("$a")
      continue
    fi
    printf 'BUILD %-32s %s\n' "machine $(lab_machine_key "$a")" "$(tail -n1 "$log" | sed 's/.*built in //')" >&2
  done
  [ "${#failed[@]}" -eq 0 ] || xc_die "machine image build failed for: ${failed[*]} (logs in $LAB_CACHE/logs)"
}

# The lab's SSH key: made once, kept by `down` (like the registry's CA).
lab_machine_ssh_key() {
  [ -s "$LAB_SSH_KEY" ] && return 0
  mkdir -p "${LAB_SSH_KEY%/*}"; chmod 700 "${LAB_SSH_KEY%/*}"
  ssh-keygen -q -t ed25519 -N '' -C "xinchuang lab" -f "$LAB_SSH_KEY" || xc_die "ssh-keygen failed"
}

lab_machine_ssh() {
  local addr="$1"; shift
  ssh -i "$LAB_SSH_KEY" -o BatchMode=yes -o ConnectTimeout=5 -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "root@$addr" "$@"
}

lab_machine_pid() {
  local pidfile="$LAB_MACHINE_STATE/$1/qemu.pid" pid
  [ -s "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  # The pid is QEMU's only while /proc says so (a stale file after a reboot of the machine).
  if kill -0 "$pid" 2>/dev/null && grep -q qemu "/proc/$pid/cmdline" 2>/dev/null; then echo "$pid"; fi
}

# A tap name from the host name: at most 15 characters, stable per host.
lab_machine_tap() { printf 'xct%s' "$(printf '%s' "$1" | sha256sum | cut -c1-8)"; }
# A locally administered MAC from the address.
lab_machine_mac() {
  local a b c d
  IFS=. read -r a b c d <<<"$1"
  printf '52:54:00:%02x:%02x:%02x' "$b" "$c" "$d"
}

# The seed disk of machine NAME: host name, address on the lab network, the lab's key.
lab_machine_seed() {
  local name="$1" addr="$2" prefix="$3" dir="$LAB_MACHINE_STATE/$1" seed
  seed=$(mktemp -d)
  lab_machine_apply_script >"$seed/apply"
  printf '%s\n' "$name" >"$seed/hostname"
  cp "$LAB_SSH_KEY.pub" "$seed/authorized_keys"
  # No gateway: the lab network is internal (no route out of the machine). No DNS server
  # either: the name server named is this machine's bridge address, where none listens, so
  # a lookup is refused at once instead of timing out; cluster members are in /etc/hosts.
  printf '[Match]\nName=e*\n\n[Network]\nAddress=%s/%s\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n' \
    "$addr" "$prefix" >"$seed/lab.network"
  printf '# hack/lab/machines.sh: the lab network has no DNS server\nnameserver %s\n' "$LAB_TOPO_GATEWAY" >"$seed/resolv.conf"
  rm -f "$dir/seed.img"
  mkfs.ext4 -q -F -L XCSEED -d "$seed" "$dir/seed.img" 4M >/dev/null || { rm -rf "$seed"; xc_die "$name: mkfs.ext4 of the seed disk failed"; }
  rm -rf "$seed"
}

# Tear down what lab_machine_start made for NAME (QEMU, tap, state), whatever is there.
lab_machine_stop() {
  local name="$1" pid tap i
  tap=$(lab_machine_tap "$name")
  pid=$(lab_machine_pid "$name")
  if [ -n "$pid" ]; then
    # SIGTERM makes QEMU exit; the overlay is thrown away with the machine anyway.
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 20; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  ip link del "$tap" 2>/dev/null || true
}

# Two small data disks for the storage tests on the arm64 machine, thrown away with it: its
# udev names them /dev/disk/by-id/virtio-xc-data0 (blank) and virtio-xc-data1 (a DOS partition
# table: a disk the storage_local wipe guard must refuse to format). They sit at PCI slots 0x10
# and 0x11, after the root and seed disks: a -device takes the lowest free slot before the
# if=virtio drives do, and the kernel names disks in slot order (root=/dev/vda). Not on the
# mips64el machine: Malta's PCI bus gives devices at those slots no working interrupt there.
declare -A LAB_MACHINE_DATA_DISKS=([arm64]="data0 blank 64M slot 0x10; data1 dos 64M slot 0x11")
# lab_machine_data_disks DIR ARCH: the QEMU arguments of ARCH's data disks, made under DIR.
lab_machine_data_disks() {
  local dir="$1" arch="$2"
  [ -n "${LAB_MACHINE_DATA_DISKS[$arch]:-}" ] || return 0
  truncate -s 64M "$dir/data0.img" "$dir/data1.img"
  printf 'label: dos\n,32M,L\n' | sfdisk -q "$dir/data1.img" >/dev/null \
    || xc_die "sfdisk could not write a partition table to $dir/data1.img"
  printf '%s\n' -drive "file=$dir/data0.img,if=none,id=data0,format=raw,cache=unsafe" \
    -device "virtio-blk-pci,drive=data0,serial=xc-data0,addr=0x10" \
    -drive "file=$dir/data1.img,if=none,id=data1,format=raw,cache=unsafe" \
    -device "virtio-blk-pci,drive=data1,serial=xc-data1,addr=0x11"
}

# Start machine NAME (ARCH, ADDRESS on BRIDGE with PREFIX) unless it runs already with the
# same image; its state dir holds overlay, seed disk, pid and console log.
lab_machine_start() {
  local name="$1" arch="$2" addr="$3" bridge="$4" prefix="$5"
  local dir="$LAB_MACHINE_STATE/$1" image tap mac qemu=() spec pid
  image=$(lab_machine_image "$arch")
  [ -s "$image/RECIPE" ] || xc_die "$name: no machine image for $arch; run hack/lab.sh machines $arch"
  [ -c /dev/net/tun ] || xc_die "$name: /dev/net/tun is missing, so no tap device can join the lab network; load the tun module (modprobe tun) or run on a machine that has it"
  lab_machine_ssh_key
  spec=$(printf '%s\n' "$(cat "$image/RECIPE")" "$addr" "$bridge" "${LAB_MACHINE_DATA_DISKS[$arch]:-}" | sha256sum | cut -c1-16)
  pid=$(lab_machine_pid "$name")
  if [ -n "$pid" ] && [ "$(cat "$dir/spec" 2>/dev/null)" = "$spec" ]; then
    xc_log "$name: running (pid $pid), reused"
    return 0
  fi
  [ -n "$pid" ] && xc_log "$name: image or address changed, restarting"
  lab_machine_stop "$name"
  rm -rf "$dir"; mkdir -p "$dir"
  qemu-img create -q -f qcow2 -F raw -b "$image/rootfs.img" "$dir/disk.qcow2" \
    || xc_die "$name: qemu-img create of the overlay failed"
  lab_machine_seed "$name" "$addr" "$prefix"
  local disks=()
  mapfile -t disks < <(lab_machine_data_disks "$dir" "$arch")
  if [ -n "${LAB_MACHINE_DATA_DISKS[$arch]:-}" ] && [ "${#disks[@]}" -eq 0 ]; then
    xc_die "$name: its data disks could not be made under $dir (above)"
  fi
  tap=$(lab_machine_tap "$name"); mac=$(lab_machine_mac "$addr")
  ip tuntap add "$tap" mode tap 2>"$dir/tap.err" \
    || xc_die "$name: cannot create the tap device $tap ($(cat "$dir/tap.err")); needs root and /dev/net/tun"
  ip link set "$tap" master "$bridge" up || { ip link del "$tap"; xc_die "$name: cannot attach $tap to the bridge $bridge"; }
  mapfile -t qemu < <(lab_machine_qemu "$arch")
  [ "${#qemu[@]}" -gt 0 ] || exit 1
  local fw=()
  [ -f "$image/firmware.fd" ] && fw=(-bios "$image/firmware.fd")
  # shellcheck disable=SC2086  # the board options are words
  if ! "${qemu[@]}" ${LAB_MACHINE_BOARD[$arch]} -smp "${LAB_MACHINE_SMP[$arch]}" -m "${LAB_MACHINE_MEM[$arch]}" \
      "${fw[@]}" -kernel "$image/vmlinuz" -initrd "$image/initrd.img" \
      -append "root=/dev/vda rw console=${LAB_MACHINE_CONSOLE[$arch]} net.ifnames=0 systemd.show_status=1" \
      -drive "file=$dir/disk.qcow2,if=virtio,format=qcow2,cache=unsafe" \
      -drive "file=$dir/seed.img,if=virtio,format=raw,readonly=on" \
      "${disks[@]}" \
      -netdev "tap,id=lab,ifname=$tap,script=no,downscript=no" -device "virtio-net-pci,netdev=lab,mac=$mac,romfile=" \
      -display none -monitor none -serial "file:$dir/console.log" \
      -name "$name" -pidfile "$dir/qemu.pid" -daemonize 2>"$dir/qemu.err" 9>&-; then
    lab_machine_stop "$name"
    xc_die "$name: ${qemu[*]: -1} did not start: $(tail -n 5 "$dir/qemu.err")"
  fi
  printf '%s\n' "$spec" >"$dir/spec"
  printf '%s\n' "$addr" >"$dir/address"
  date +%s >"$dir/started"   # boot-seconds counts from here, not from when the wait began
  xc_log "$name: booting ($arch, ${LAB_MACHINE_SMP[$arch]} vCPU, ${LAB_MACHINE_MEM[$arch]} MiB, $addr on $bridge via $tap; console $dir/console.log)"
}

# Wait until NAME answers SSH; on timeout or a dead QEMU, stop it and say where to look.
lab_machine_wait() {
  local name="$1" addr="$2" dir="$LAB_MACHINE_STATE/$1" start i
  start=$(cat "$dir/started" 2>/dev/null || date +%s)
  while :; do
    if [ -z "$(lab_machine_pid "$name")" ]; then
      lab_machine_stop "$name"
      xc_die "$name: QEMU exited while booting; console log $dir/console.log: $(tail -n 5 "$dir/console.log" 2>/dev/null | tr '\n' ' ')"
    fi
    if lab_machine_ssh "$addr" true 2>/dev/null; then break; fi
    if [ $(( $(date +%s) - start )) -ge "$LAB_MACHINE_BOOT_TIMEOUT" ]; then
      lab_machine_stop "$name"
      xc_die "$name: no SSH on $addr after ${LAB_MACHINE_BOOT_TIMEOUT}s, stopped; console log $dir/console.log (last lines: $(tail -n 3 "$dir/console.log" 2>/dev/null | tr '\n' ' ')); raise XC_LAB_BOOT_TIMEOUT on a busy machine"
    fi
    sleep 3
  done
  # A machine reused by a later `up` keeps the boot time of its own start.
  [ "$dir/boot-seconds" -nt "$dir/started" ] || printf '%s\n' "$(( $(date +%s) - start ))" >"$dir/boot-seconds"
  xc_log "$name: SSH answers $(cat "$dir/boot-seconds")s after QEMU started ($(lab_machine_ssh "$addr" uname -m))"
}
