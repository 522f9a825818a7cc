#!/usr/bin/env bash
# The main job on the embedded default: site.yml against the local lab (make demo).
# The lab hosts are started by `hack/lab.sh up` (make lab) before this runs.
source "$(dirname "$0")/common.sh"
cd "$XC_ROOT" || exit 1
# shellcheck source=hack/env.sh
source hack/env.sh
ansible-playbook -i inventories/lab playbooks/site.yml "$@"
