#!/usr/bin/env bash
# AWX job templates (awx/job_templates.yml, docs/awx.md):
#   hack/awx.sh surveys     write awx/job_templates/<file>.yml from the table and the roles' specs
#   hack/awx.sh check       list the files that drifted from them (exit 1), change nothing
# shellcheck source=hack/common.sh
source "$(dirname "$0")/common.sh"
# shellcheck source=hack/env.sh
source "$XC_ROOT/hack/env.sh"  # the venv's python3: the generator reads YAML with ansible's loader
case "${1:-}" in
  surveys|check) xc_py_cli hack.awx_survey "$1" "$XC_ROOT" ;;
  *) sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
