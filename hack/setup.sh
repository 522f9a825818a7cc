#!/usr/bin/env bash
# Creates .venv with the pinned controller dependencies (requirements.txt).
# Re-runs are cheap: the venv is rebuilt only when requirements.txt changes.
source "$(dirname "$0")/common.sh"

py="${XC_PYTHON:-python3}"
"$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || xc_die "$py is $("$py" -V 2>&1); ansible-core 2.19 needs Python >= 3.11 on the controller (set XC_PYTHON)"
"$py" -c 'import venv, ensurepip' 2>/dev/null || xc_apt_install python3-venv

# One set-up at a time: parallel test runs (or helpers) must not rebuild the venv under each other.
exec 9>"$XC_CACHE/setup.lock"
flock 9

stamp="$XC_VENV/.requirements.sha256"
want="$(sha256sum "$XC_ROOT/requirements.txt" | cut -d' ' -f1)"
# The collection is found by FQCN through this link (ANSIBLE_COLLECTIONS_PATH in hack/env.sh).
mkdir -p "$XC_ROOT/.collections/ansible_collections/xinchuang"
ln -sfn "$XC_ROOT" "$XC_ROOT/.collections/ansible_collections/xinchuang/cloud"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  xc_log "virtualenv $XC_VENV is up to date"
  "$XC_ROOT/hack/tools.sh" check venv
  exit 0
fi
rm -rf "$XC_VENV"
"$py" -m venv "$XC_VENV"
# uv installs the pinned set from its cache in seconds where pip took ~45 s (every CI run
# starts from a fresh clone, so every run paid it); pip only fetches uv itself.
export PIP_CACHE_DIR="$XC_CACHE/pip" UV_CACHE_DIR="$XC_CACHE/uv"
"$XC_VENV/bin/pip" install -q --disable-pip-version-check "$(grep -E '^uv==' "$XC_ROOT/requirements.txt")"
"$XC_VENV/bin/uv" pip install -q --python "$XC_VENV/bin/python" -r "$XC_ROOT/requirements.txt"
echo "$want" >"$stamp"
xc_log "virtualenv ready: $("$XC_VENV/bin/ansible" --version | head -1)"
"$XC_ROOT/hack/tools.sh" check venv   # the commands hack/tools.tsv takes from the venv
