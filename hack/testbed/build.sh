# shellcheck shell=bash
# Build half of hack/testbed.sh: builds the rows of matrix.tsv from upstream source through
# the Go module proxy. Sourced after hack/common.sh.
#
# Layout under $XC_CACHE (nothing in the repository, so a clean clone reuses all of it):
#   go/mod, go/build              GOMODCACHE and GOCACHE
#   build/.src/<module>@<version> scratch module: go.mod with the pins, shared by all GOARCHes
#   build/<component>/<version>/<goarch>/<binary>
#   build/<component>/<version>/<goarch>/<binary>.recipe   how it was built (profile, tags, ldflags):
#                                 a row whose recipe changed is rebuilt

TB_MATRIX="${TB_MATRIX:-$XC_ROOT/hack/testbed/matrix.tsv}"
TB_BUILD_DIR="$XC_CACHE/build"
TB_PROXY_TIMEOUT="${TB_PROXY_TIMEOUT:-30}"

tb_go_env() {
  export GOMODCACHE="$XC_CACHE/go/mod" GOCACHE="$XC_CACHE/go/build"
  # A module asking for a newer Go must fail here, not download a toolchain behind our back.
  export GOTOOLCHAIN=local
  export GOFLAGS="${GOFLAGS:-} -mod=mod"
}

# Without Go, the architecture model names the host's GOARCH (the cached binaries still run).
tb_host_goarch() {
  if [ -n "${TB_HOST_GOARCH:-}" ]; then echo "$TB_HOST_GOARCH"; return 0; fi
  go env GOARCH 2>/dev/null && return 0
  PYTHONPATH="$XC_ROOT/.collections" python3 -c \
    'import platform; from ansible_collections.xinchuang.cloud.plugins.module_utils.arch import goarch; print(goarch(platform.machine()))'
}

# tb_matrix_rows SET GOARCH: rows (tab-separated, normalised) of SET buildable for GOARCH.
tb_matrix_rows() {
  local set="$1" goarch="$2"
  awk -v set="$set" -v arch="$goarch" '
    /^[[:space:]]*(#|$)/ { next }
    NF != 8 { printf "matrix.tsv line %d: %d columns, want 8\n", NR, NF > "/dev/stderr"; exit 2 }
    {
      nsets = split($7, s, ","); insets = (set == "all")
      for (i = 1; i <= nsets; i++) if (s[i] == set) insets = 1
      narch = split($6, a, ","); inarch = 0
      for (i = 1; i <= narch; i++) if (a[i] == arch || a[i] == "host") inarch = 1
      if (insets && inarch) print $1 "\t" $2 "\t" $3 "\t" $4 "\t" $5 "\t" $8
    }' "$TB_MATRIX"
}

tb_binary_path() { echo "$TB_BUILD_DIR/$1/$2/$3/$4"; }  # component version goarch binary

tb_scratch_dir() { echo "$TB_BUILD_DIR/.src/${1//\//_}@$2"; }  # module version

# --- preflight ---------------------------------------------------------------------------

tb_check_go() {
  command -v go >/dev/null 2>&1 || xc_die "no Go toolchain: 'go' is not on PATH. Install Go >= 1.25 \
(Debian: the golang-1.2x packages are too old for Kubernetes 1.37; take the tarball from go.dev/dl, \
unpack it to /usr/local/go and add /usr/local/go/bin to PATH), or set PATH to an existing one."
  local v; v="$(go env GOVERSION)"
  xc_log "Go toolchain: $v ($(command -v go)), GOPROXY=$(go env GOPROXY)"
}

# A cheap, bounded question to the proxy, asked before minutes of work start.
tb_check_proxy() {
  local module="$1" version="$2" proxy out
  proxy="$(go env GOPROXY)"
  case "$proxy" in
    off|"") xc_die "GOPROXY is '$proxy': module downloads are disabled. Set it, e.g. \
'go env -w GOPROXY=https://proxy.golang.org,direct' or export GOPROXY=<your mirror>." ;;
  esac
  if ! out="$(cd / && GOFLAGS=-mod=mod timeout "$TB_PROXY_TIMEOUT" go list -m -json "$module@$version" 2>&1)"; then
    printf '%s\n' "$out" | tail -n 5 >&2
    xc_die "the Go module proxy did not answer for $module@$version within ${TB_PROXY_TIMEOUT}s \
(GOPROXY=$proxy). Check network access to it, or point GOPROXY at a reachable mirror \
(export GOPROXY=https://goproxy.cn,direct; GONOSUMDB/GOFLAGS=-insecure are not needed for public modules)."
  fi
}

# --- profiles: how a module is prepared and linked ------------------------------------------

# kubernetes: k8s.io/kubernetes replaces its staging modules with ./staging/src/...; a module
# that depends on it must pin each one to the matching v0.x tag itself.
profile_kubernetes_prepare() {
  local module="$1" version="$2" gomod staging_version
  gomod="$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')"
  [ -f "$gomod" ] || xc_die "go mod download $module@$version gave no go.mod"
  staging_version="v0.${version#v1.}"
  local staged
  staged="$(sed -n 's#^[[:space:]]*\(k8s.io/[^[:space:]]*\) => ./staging/src/.*#\1#p' "$gomod")"
  [ -n "$staged" ] || xc_die "no staging replace directives found in $gomod"
  local m args=()
  for m in $staged; do args+=("-replace=$m=$m@$staging_version"); done
  go mod edit "${args[@]}"
  # Same GODEBUG defaults as upstream's own build.
  grep -E '^godebug ' "$gomod" >>go.mod || true
  xc_log "pinned $(wc -w <<<"$staged") staging modules to $staging_version"
}
profile_kubernetes_ldflags() {
  local version="$1" minor
  minor="$(cut -d. -f2 <<<"$version")"
  local date; date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  local pkg f=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    f+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    f+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
  done
  echo "$f"
}
profile_kwok_prepare() { :; }
profile_kwok_ldflags() { echo "-X sigs.k8s.io/kwok/pkg/consts.Version=${1#v}"; }
profile_metrics-server_prepare() { :; }
# Its Makefile sets client-go's version variables; `--version` prints component-base's.
profile_metrics-server_ldflags() {
  local pkg f=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    f+=" -X $pkg.gitVersion=$1 -X $pkg.gitTreeState=clean"
  done
  echo "$f"
}
profile_plain_prepare() { :; }
profile_plain_ldflags() { :; }
# containerd: the build tags of upstream's static release builds, and the version variables
# its Makefile sets from git. Built from the module zip there is no git tree: the revision
# names the module version. Version without the leading v: `containerd --version` then prints
# "... 2.4.2 ...", which the container_runtime role (install.yml) and its tests look for.
profile_containerd_prepare() { :; }
profile_containerd_tags() { echo "no_btrfs no_devmapper no_zfs"; }
profile_containerd_ldflags() {
  local pkg=github.com/containerd/containerd/v2/version
  echo "-X $pkg.Version=${1#v} -X $pkg.Revision=github.com/containerd/containerd/v2@$1"
}

# A profile may define profile_<name>_tags (go build -tags, space-separated).
tb_profile_tags() { if declare -F "profile_${1}_tags" >/dev/null; then "profile_${1}_tags"; fi; }

# tb_recipe PROFILE VERSION: what decides a row's binary besides its source; kept beside the
# binary as <binary>.recipe. Build dates are left out (they change every run).
tb_recipe() {
  local profile="$1" version="$2"
  printf 'build CGO_ENABLED=0 go build -trimpath\nprofile %s\ntags %s\nldflags -s -w %s\n' \
    "$profile" "$(tb_profile_tags "$profile")" \
    "$("profile_${profile}_ldflags" "$version" | sed 's/buildDate=[^ ]*/buildDate=(build time)/g' | xargs)"
}

# tb_current BINARY PROFILE VERSION: true when BINARY is there and built by today's recipe.
# Binaries from before recipes were kept (no .recipe file) are adopted when their row has no
# build tags: no build before then had any, so the others (containerd) are rebuilt.
tb_current() {
  local out="$1" recipe
  [ -x "$out" ] || return 1
  recipe="$(tb_recipe "$2" "$3")"
  if [ -f "$out.recipe" ]; then
    [ "$(cat "$out.recipe")" = "$recipe" ]
    return
  fi
  [ -z "$(tb_profile_tags "$2")" ] || return 1
  printf '%s\n' "$recipe" >"$out.recipe" 2>/dev/null || true
}

# tb_prepare_scratch MODULE VERSION PROFILE PACKAGES...: the scratch module, made once per
# module@version; packages asked for later are added to it with one more `go get`.
tb_prepare_scratch() {
  local module="$1" version="$2" profile="$3"; shift 3
  local dir; dir="$(tb_scratch_dir "$module" "$version")"
  local log="$dir.log" p missing=()
  # Earlier caches wrote "PROFILE PACKAGE..." on one line.
  if [ -f "$dir/.ready" ] && ! grep -q '^profile ' "$dir/.ready"; then
    local old; old="$(cat "$dir/.ready")"
    { echo "profile ${old%% *}"; tr ' ' '\n' <<<"${old#* }" | grep .; } >"$dir/.ready"
  fi
  if [ -f "$dir/.ready" ] && [ "$(sed -n 1p "$dir/.ready")" = "profile $profile" ]; then
    for p in "$@"; do grep -qxF "$p" "$dir/.ready" || missing+=("$p"); done
    [ "${#missing[@]}" -eq 0 ] && { echo "$dir"; return 0; }
  else
    rm -rf "$dir"
    missing=("$@")
  fi
  tb_check_proxy "$module" "$version"
  xc_log "fetching $module@$version and its dependencies (log: $log)"
  mkdir -p "$dir"
  if ! (
    cd "$dir" || exit 1
    if [ ! -f go.mod ]; then
      go mod init "xinchuang.cloud/testbed-build/${module//\//_}"
      "profile_${profile}_prepare" "$module" "$version"
    fi
    args=()
    for p in "${missing[@]}"; do args+=("$p@$version"); done
    go get "${args[@]}"
  ) >>"$log" 2>&1; then
    tail -n 20 "$log" >&2
    rm -rf "$dir"
    xc_die "preparing the scratch module for $module@$version failed (log: $log)"
  fi
  [ -f "$dir/.ready" ] || echo "profile $profile" >"$dir/.ready"
  printf '%s\n' "${missing[@]}" >>"$dir/.ready"
  echo "$dir"
}

# tb_missing ROWS GOARCH: the rows whose binary is not in the cache yet, or built by another recipe.
tb_missing() {
  local component version module package binary profile
  while IFS=$'\t' read -r component version module package binary profile; do
    tb_current "$(tb_binary_path "$component" "$version" "$2" "$binary")" "$profile" "$version" && continue
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$component" "$version" "$module" "$package" "$binary" "$profile"
  done <<<"$1"
}

tb_build() {
  local set="$1" goarch="$2" rows
  rows="$(tb_matrix_rows "$set" "$goarch")" || xc_die "cannot read $TB_MATRIX"
  [ -n "$rows" ] || xc_die "matrix.tsv has no rows in set '$set' for GOARCH $goarch"
  local todo n_rows n_todo
  todo="$(tb_missing "$rows" "$goarch")"
  n_rows="$(grep -c . <<<"$rows" || true)"; n_todo="$(grep -c . <<<"$todo" || true)"
  xc_log "set '$set' for $goarch: $(( n_rows - n_todo )) of $n_rows binaries cached under $TB_BUILD_DIR"
  [ -n "$todo" ] || return 0

  # One build at a time on this machine (2 cores: parallel builds only thrash); whoever waited
  # finds part of its work done by the other.
  mkdir -p "$TB_BUILD_DIR"
  exec 8>"$TB_BUILD_DIR/.lock"
  if ! flock -n 8; then
    xc_log "waiting for another hack/testbed.sh build to finish"
    flock 8
    todo="$(tb_missing "$rows" "$goarch")"
    [ -n "$todo" ] || { xc_log "the other build made them all"; exec 8>&-; return 0; }
  fi

  tb_check_go
  tb_go_env
  local total_start component version module package binary profile out
  total_start=$(date +%s)
  # One scratch module per module@version, holding the packages of every row that needs it.
  local keys
  keys="$(awk -F'\t' 'NF { print $3 "\t" $2 "\t" $6 }' <<<"$todo" | sort -u)"
  while IFS=$'\t' read -r module version profile; do
    local pkgs dir t0
    pkgs="$(awk -F'\t' -v m="$module" -v v="$version" '$3 == m && $2 == v { print $4 }' <<<"$todo" | sort -u | tr '\n' ' ')"
    t0=$(date +%s)
    # shellcheck disable=SC2086 # package paths have no spaces
    dir="$(tb_prepare_scratch "$module" "$version" "$profile" $pkgs)"
    xc_log "module $module@$version ready in $(( $(date +%s) - t0 ))s"
    while IFS=$'\t' read -r component version2 module2 package binary profile2; do
      if [ "$module2" != "$module" ] || [ "$version2" != "$version" ]; then continue; fi
      out="$(tb_binary_path "$component" "$version" "$goarch" "$binary")"
      mkdir -p "$(dirname "$out")"
      t0=$(date +%s)
      xc_log "building $component $version for $goarch ($package)"
      (cd "$dir" && CGO_ENABLED=0 GOOS=linux GOARCH="$goarch" go build -trimpath \
        -tags "$(tb_profile_tags "$profile2")" \
        -ldflags "-s -w $("profile_${profile2}_ldflags" "$version")" -o "$out.tmp.$$" "$package") \
        || { rm -f "$out.tmp.$$"; xc_die "go build of $package ($component $version, GOARCH=$goarch) failed"; }
      mv "$out.tmp.$$" "$out"
      tb_recipe "$profile2" "$version" >"$out.recipe"
      printf 'BUILD %-24s %-9s %-8s %5ds  %s\n' "$component" "$version" "$goarch" \
        "$(( $(date +%s) - t0 ))" "$out" >&2
    done <<<"$todo"
  done <<<"$keys"
  xc_log "built set '$set' for $goarch in $(( $(date +%s) - total_start ))s"
  # Release the lock: servers this shell starts next (hack/testbed.sh up) would inherit
  # descriptor 8 and hold it for their whole life, blocking every later build.
  exec 8>&-
}

# tb_link_bin SET: .testbed/bin/<binary> -> cache, for the host GOARCH.
tb_link_bin() {
  local set="$1" goarch; goarch="$(tb_host_goarch)"
  mkdir -p "$TB_STATE/bin"
  local component version module package binary profile out
  while IFS=$'\t' read -r component version module package binary profile; do
    out="$(tb_binary_path "$component" "$version" "$goarch" "$binary")"
    [ -x "$out" ] && ln -sfn "$out" "$TB_STATE/bin/$binary"
  done < <(tb_matrix_rows "$set" "$goarch")
}

# tb_bin NAME: the cached host binary NAME of the testbed set, or die saying how to get it.
tb_bin() {
  local goarch path
  goarch="$(tb_host_goarch)"
  path="$(tb_matrix_rows testbed "$goarch" | awk -F'\t' -v b="$1" '$5 == b { print $1 "/" $2 }' | head -n1)"
  [ -n "$path" ] || xc_die "$1 is not in the testbed set of $TB_MATRIX"
  path="$TB_BUILD_DIR/$path/$goarch/$1"
  [ -x "$path" ] || xc_die "$1 is not built ($path): run hack/testbed.sh build"
  echo "$path"
}
