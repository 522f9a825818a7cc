#!/usr/bin/env bash
# Debian packages the tests and the lab need, and a running dockerd.
# The QEMU binfmt handlers are registered by hack/lab.sh (it owns the loong64 QEMU).
source "$(dirname "$0")/common.sh"
xc_apt_install docker.io debootstrap qemu-user-static binfmt-support \
  docker-registry skopeo apache2-utils openssl jq curl rsync git ca-certificates
xc_ensure_docker
