#!/usr/bin/env bash
# ansible-test sanity needs the collection under .../ansible_collections/xinchuang/cloud:
# copy the tracked and new (not ignored) files there and run it in its own venvs.
source "$(dirname "$0")/common.sh"
# shellcheck source=hack/env.sh
source "$XC_ROOT/hack/env.sh"
work="$XC_CACHE/sanity/ansible_collections/xinchuang/cloud"
rm -rf "$work"
mkdir -p "$work"
cd "$XC_ROOT" || exit 1
git ls-files -co --exclude-standard -z | rsync -a --from0 --files-from=- ./ "$work/"
cd "$work" || exit 1
# ansible-test bootstraps pip in its venvs with a script it downloads from a host we cannot
# reach; give it a stand-in that uses ensurepip + PyPI (see hack/sanity/get-pip-standin.py).
pip_version="$(python - <<'PY'
import re, ansible_test._internal.python_requirements as r, inspect
print(re.search(r"pip='([0-9.]+)'", inspect.getsource(r.get_venv_packages)).group(1))
PY
)"
mkdir -p ~/.ansible/test/cache
cp "$XC_ROOT/hack/sanity/get-pip-standin.py" ~/.ansible/test/cache/get_pip_"${pip_version//./_}".py
# Each test's pinned tools are installed by ansible-test into venvs it caches under ~/.ansible.
ansible-test sanity --venv --python "$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
  --color no "$@"
