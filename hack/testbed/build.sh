# shellcheck shell=bash
# Build half of hack/testbed.sh, and how hack/ asks for binaries: the component table and the
# builder are the collection's (plugins/module_utils/bundle/policy.py and bundle_build.py, the
# module offline_bundle), reached here through bundle_build.cli. Sourced after hack/common.sh.
#
# Layout under $XC_CACHE (nothing in the repository, so a clean clone reuses all of it):
#   go/mod, go/build              GOMODCACHE and GOCACHE
#   build/.src/<module>@<version> scratch module: go.mod with the pins, shared by all GOARCHes
#   build/<component>/<version>/<goarch>/<binary>
#   build/<component>/<version>/<goarch>/<binary>.recipe   how it was built: a row whose recipe
#                                 changed is rebuilt

# tb_bundle ARGS...: bundle_build.cli (rows, build, version, source, goarch, suite).
tb_bundle() { xc_cli module_utils.bundle.build "$@"; }

# The host's GOARCH, as the architecture model names `uname -m`.
tb_host_goarch() {
  if [ -z "${TB_HOST_GOARCH:-}" ]; then TB_HOST_GOARCH="$(tb_bundle goarch "$(uname -m)")"; fi
  echo "$TB_HOST_GOARCH"
}

# tb_build SET GOARCH: build the rows of SET for GOARCH that the cache lacks.
tb_build() { tb_bundle build "$1" "$2"; }

# tb_row_path SET GOARCH BINARY: the cache path of BINARY in SET for GOARCH.
tb_row_path() {
  tb_bundle rows "$1" "$2" | awk -F'\t' -v b="$3" '$3 == b { print $4; exit }'
}

# tb_link_bin SET: .testbed/bin/<binary> -> cache, for the host GOARCH.
tb_link_bin() {
  local binary path
  mkdir -p "$TB_STATE/bin"
  while IFS=$'\t' read -r _ _ binary path; do
    [ -x "$path" ] && ln -sfn "$path" "$TB_STATE/bin/$binary"
  done < <(tb_bundle rows "$1" "$(tb_host_goarch)")
}

# tb_bin NAME: the cached host binary NAME of the testbed set, or die saying how to get it.
tb_bin() {
  local path
  path="$(tb_row_path testbed "$(tb_host_goarch)" "$1")"
  [ -n "$path" ] || xc_die "$1 is not in the testbed set (plugins/module_utils/bundle/policy.py)"
  [ -x "$path" ] || xc_die "$1 is not built ($path): run hack/testbed.sh build"
  echo "$path"
}
