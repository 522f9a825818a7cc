#!/usr/bin/env bash
# Debian packages the tests, the lab and the builds need (every package of hack/tools.tsv), a
# running dockerd, then a check that every tool of that list is there (the Debian ones and Go;
# hack/setup.sh checks the virtualenv's). A tool a script or test starts to call gets a row in
# hack/tools.tsv, not a line here.
# The QEMU binfmt handlers are registered by hack/lab.sh (it owns the loong64 QEMU).
source "$(dirname "$0")/common.sh"
mapfile -t packages < <("$XC_ROOT/hack/tools.sh" packages)
xc_apt_install "${packages[@]}"
xc_ensure_docker
"$XC_ROOT/hack/tools.sh" check debian go
