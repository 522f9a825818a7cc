# shellcheck shell=bash
# Source this to use the project's virtualenv and find the collection by FQCN:
#   source hack/env.sh
_xc_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export XC_ROOT="$_xc_root"
export XC_CACHE="${XC_CACHE:-/var/cache/xinchuang}"
export PATH="$_xc_root/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$_xc_root/.collections${ANSIBLE_COLLECTIONS_PATH:+:$ANSIBLE_COLLECTIONS_PATH}"
export ANSIBLE_ROLES_PATH="$_xc_root/roles"
export ANSIBLE_CONFIG="$_xc_root/hack/ansible.cfg"
# Mitogen's strategies (requirements.txt) are found here; the project's runs on the lab turn
# them on with ANSIBLE_STRATEGY=mitogen_linear (hack/demo.sh, tests/e2e), other runs keep
# Ansible's own linear strategy.
for _xc_strategy in "$_xc_root"/.venv/lib/python3*/site-packages/ansible_mitogen/plugins/strategy; do
  [ -d "$_xc_strategy" ] && export ANSIBLE_STRATEGY_PLUGINS="$_xc_strategy"
done
unset _xc_root _xc_strategy
# A copy of this collection installed in ~/.ansible/collections (by a molecule prerun or an
# ansible-lint run outside the tree) would shadow the working tree for ansible-lint: drop it.
if [ -f "$HOME/.ansible/collections/ansible_collections/xinchuang/cloud/MANIFEST.json" ]; then
  rm -rf "$HOME/.ansible/collections/ansible_collections/xinchuang/cloud"
  echo "hack/env.sh: removed a stale installed copy of xinchuang.cloud from ~/.ansible/collections" >&2
fi
