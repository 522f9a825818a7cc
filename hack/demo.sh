#!/usr/bin/env bash
# The main job on the embedded default: site.yml against the local lab (make demo).
# The lab hosts are started by `hack/lab.sh up` (make lab) before this runs.
source "$(dirname "$0")/common.sh"
cd "$XC_ROOT" || exit 1
# shellcheck source=hack/env.sh
source hack/env.sh
# Mitogen keeps one Python per host for the whole run: a task on an emulated machine costs a
# fraction of a second instead of seconds (docs/lab.md, measured).
ANSIBLE_STRATEGY="${ANSIBLE_STRATEGY:-mitogen_linear}" ansible-playbook -i inventories/lab playbooks/site.yml "$@"
