#!/usr/bin/env bash
# The collection's docs site, built offline from the plugins' and roles' own documentation
# (modules' DOCUMENTATION/EXAMPLES/RETURN, the filters' <filter>.yml, the inventory plugin,
# the roles' meta/argument_specs.yml) by antsibull-docs and Sphinx; `make test` builds it in
# its lint stage (hack/test.sh), so a doc error fails CI.
# Usage: hack/docs.sh [DEST]   (default $XC_CACHE/docs-site; the site is DEST/build/html)
source "$(dirname "$0")/common.sh"
source "$XC_ROOT/hack/env.sh"
xc_link_collection

dest="${1:-$XC_CACHE/docs-site}"
# DEST is emptied first: never the repository, / or a relative path.
case "$dest" in
  "$XC_ROOT" | "$XC_ROOT"/*) xc_die "the docs site is built outside the repository, not in $dest" ;;
  / | "" | [!/]*) xc_die "give an absolute directory for the docs site, not '$dest'" ;;
esac

# 1. The linter: each plugin's and role's docs against antsibull-docs' schema, their markup,
# and every reference into this collection (O(...), M(...), P(...)). The generated RST is
# checked by the Sphinx build below, so rstcheck is not run twice.
xc_log "docs: antsibull-docs lint-collection-docs --plugin-docs"
antsibull-docs lint-collection-docs --plugin-docs --skip-rstcheck "$XC_ROOT"

# 2. The Sphinx project, made afresh (nothing from a previous build is kept). One build of a
# DEST at a time: a second one (another checkout's gate) would empty it under the first.
mkdir -p "$(dirname "$dest")"
exec 9>"$dest.lock"
flock 9
rm -rf "$dest"
mkdir -p "$dest"
antsibull-docs sphinx-init --use-current --squash-hierarchy --fail-on-error \
  --no-add-antsibull-docs-version --sphinx-theme alabaster \
  --project xinchuang.cloud --copyright "xinchuang.cloud developers" \
  --title "xinchuang.cloud" --dest-dir "$dest" xinchuang.cloud >/dev/null
# Offline: no intersphinx inventory is fetched. A reference out of the collection (an
# ansible.builtin module, the docsite's labels, Ansible's configuration variables) then has
# no target and is left as text; a reference into this collection must still resolve.
cat >>"$dest/conf.py" <<'EOF'

# --- hack/docs.sh: offline build ---
intersphinx_mapping = {}
nitpick_ignore_regex = [(r'.*', r'(?!ansible_collections\.xinchuang\.cloud\.).*')]
EOF

# 3. The RST from the collection as Ansible finds it (ANSIBLE_COLLECTIONS_PATH: the working
# tree), then the HTML; any warning fails the build.
mkdir -p "$dest/rst"
chmod og-w "$dest/rst" # antsibull-docs wants the directory writable by its owner only
xc_log "docs: antsibull-docs collection -> $dest/rst"
antsibull-docs --config-file "$dest/antsibull-docs.cfg" collection --cleanup everything \
  --fail-on-error --use-current --squash-hierarchy --dest-dir "$dest/rst" xinchuang.cloud >/dev/null
xc_log "docs: sphinx-build -> $dest/build/html"
sphinx-build -M html "$dest/rst" "$dest/build" -c "$dest" -W --keep-going -q -j auto
xc_log "docs site: $dest/build/html/index.html"
