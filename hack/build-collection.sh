#!/usr/bin/env bash
# Builds the collection artifact and proves `ansible-galaxy collection install` accepts it:
# installed into a scratch path, its filters and role docs must load from there.
source "$(dirname "$0")/common.sh"
out="$XC_CACHE/artifacts"
dest="$(mktemp -d)"
trap 'rm -rf "$dest"' EXIT
mkdir -p "$out"
cd "$XC_ROOT" || exit 1
ansible-galaxy collection build --force --output-path "$out" . >&2
version="$(sed -n "s/^version: *//p" galaxy.yml)"
artifact="$out/xinchuang-cloud-$version.tar.gz"
# The bundled dependencies (kubernetes.core, ...) come with the `ansible` package: Galaxy is
# unreachable here, so install offline against what is installed.
ANSIBLE_COLLECTIONS_PATH="$dest" ansible-galaxy collection install --offline -p "$dest" "$artifact" >&2
# Nothing from tests/, hack/, molecule/ or caches may ship.
if tar -tzf "$artifact" | grep -E '^(tests|hack|molecule|bench|\.venv|\.collections|\.testbed)/' ; then
  xc_die "$artifact ships files listed in build_ignore (above)"
fi
# The app store's charts carry the library of their helpers (charts/common) as relative links
# (ansible-galaxy keeps a link that stays inside the collection): each must still lead to its file.
broken="$(find "$dest/ansible_collections/xinchuang/cloud/charts" -xtype l)"
[ -z "$broken" ] || xc_die "links of the installed charts lead nowhere: $broken"
ANSIBLE_COLLECTIONS_PATH="$dest" ansible-doc -t filter xinchuang.cloud.goarch >/dev/null
ANSIBLE_COLLECTIONS_PATH="$dest" ANSIBLE_CALLBACK_RESULT_FORMAT=json ansible -i localhost, -c local localhost \
  -m ansible.builtin.debug -a "msg={{ 'loongarch64' | xinchuang.cloud.goarch }}" \
  -e "ansible_python_interpreter=$(command -v python3)" | grep -q '"loong64"' \
  || xc_die "the installed artifact's goarch filter did not answer loong64"
xc_log "artifact $(basename "$artifact") ($(du -h "$artifact" | cut -f1)) installs and works"
