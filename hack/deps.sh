#!/usr/bin/env bash
# Debian packages the tests and the lab need, and a running dockerd.
# The QEMU binfmt handlers are registered by hack/lab.sh (it owns the loong64 QEMU).
source "$(dirname "$0")/common.sh"
xc_apt_install docker.io debootstrap qemu-user-static binfmt-support \
  docker-registry skopeo apache2-utils openssl jq curl rsync git ca-certificates
# tests/integration/fixtures_prometheus.py: the canary checks query a real Prometheus.
xc_apt_install prometheus
# hack/images.sh: the pause program, static, per GOARCH (loong64's cross gcc is trixie's, in a
# chroot that hack/images.sh makes with debootstrap: bookworm has none).
xc_apt_install gcc libc6-dev gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
  gcc-mips64el-linux-gnuabi64 libc6-dev-mips64el-cross
xc_ensure_docker
