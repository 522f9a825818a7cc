# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The offline bundle, as data and pure rules: THE table of components built from upstream
source, what each GOARCH's bundle holds, how each row is linked (its recipe), and the manifest.

The builder (``bundle_build.py``: Go builds, Debian packages, files) and the module
``offline_bundle`` act on these answers; the test bed and the lab ask the same table through
``bundle_build.cli`` instead of keeping a copy. Architecture names come from ``arch.py``.

Cache layout (kept across versions of this file: a changed recipe rebuilds its row, a changed
path rebuilds everything, about an hour of Go on a 2-core machine):

    <cache>/build/<component>/<version>/<goarch>/<binary>          the program
    <cache>/build/<component>/<version>/<goarch>/<binary>.recipe   how it was linked
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
from collections import namedtuple

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError


class BundleError(XinchuangError, ValueError):
    """Bad bundle input, or a bundle that cannot be made as asked; the message says the fix."""


Component = namedtuple(
    "Component",
    [
        "component",  # the cache directory; several binaries may share one (containerd)
        "version",  # tag of `module` fetched through the Go module proxy
        "module",  # Go module; the rows of one module@version share one scratch module
        "package",  # Go package built into `binary`
        "binary",  # file name in the cache and in the bundle
        "goarches",  # the GOARCHes this row may be built for
        "sets",  # the sets this row belongs to (SETS)
        "profile",  # how the scratch module is prepared and the binary linked (PROFILES)
    ],
)

_ALL = ("amd64", "arm64", "loong64", "mips64le")
_K8S, _K8S_MOD = "v1.37.2", "k8s.io/kubernetes"
_CTRD, _CTRD_MOD = "v2.4.2", "github.com/containerd/containerd/v2"
_CNI, _CNI_MOD = "v1.10.0", "github.com/containernetworking/plugins"
_ETCD = "v3.6.16"
_HELM = "v3.22.0"
# v3.7.13 needs modules the Go module proxy here refuses (403, 2026-12-05: lego's DNS providers'
# huaweicloud, ucloud and akamai SDKs); v3.6 serves Gateway API v1.4 (the bundle's CRDs).
_TRAEFIK = "v3.6.12"
_FLANNEL, _FLANNEL_MOD = "v0.28.10", "github.com/flannel-io/flannel"
# The only version the Go module proxy serves (2026-12): its dependencies of early 2024 carry
# reported flaws, so the profile raises them (Profile.upgrades).
_KUBE_ROUTER, _KUBE_ROUTER_MOD = "v2.1.0", "github.com/cloudnativelabs/kube-router/v2"


def _k8s(binary, sets):
    return Component(binary, _K8S, _K8S_MOD, _K8S_MOD + "/cmd/" + binary, binary, _ALL, sets, "kubernetes")


def _ctrd(binary):
    return Component("containerd", _CTRD, _CTRD_MOD, _CTRD_MOD + "/cmd/" + binary, binary, _ALL,
                     ("bundle", "containerd"), "containerd")


def _cni(path):
    return Component("cni-plugins", _CNI, _CNI_MOD, _CNI_MOD + "/plugins/" + path,
                     path.rsplit("/", 1)[1], _ALL, ("bundle", "cni"), "plain")


COMPONENTS = (
    _k8s("kube-apiserver", ("testbed", "cluster")),
    _k8s("kube-controller-manager", ("testbed", "cluster")),
    _k8s("kube-scheduler", ("testbed", "cluster")),
    _k8s("kubectl", ("testbed", "cluster")),
    _k8s("kubelet", ("bundle", "kubelet")),
    _k8s("kube-proxy", ("bundle", "kube-proxy")),
    Component("etcd", _ETCD, "go.etcd.io/etcd/server/v3", "go.etcd.io/etcd/server/v3", "etcd",
              _ALL, ("testbed", "cluster"), "plain"),
    Component("etcd", _ETCD, "go.etcd.io/etcd/etcdctl/v3", "go.etcd.io/etcd/etcdctl/v3", "etcdctl",
              _ALL, ("cluster",), "plain"),
    # etcd 3.6 restores a snapshot and reads its status with etcdutl only (etcdctl's snapshot
    # restore and status are gone): playbooks/etcd_backup.yml and etcd_restore.yml run it.
    Component("etcd", _ETCD, "go.etcd.io/etcd/etcdutl/v3", "go.etcd.io/etcd/etcdutl/v3", "etcdutl",
              _ALL, ("cluster",), "plain"),
    # The test bed's simulated nodes and its metrics API: not in any site's bundle.
    Component("kwok", "v0.8.0", "sigs.k8s.io/kwok", "sigs.k8s.io/kwok/cmd/kwok", "kwok",
              ("amd64", "arm64"), ("testbed",), "kwok"),
    Component("metrics-server", "v0.8.0", "sigs.k8s.io/metrics-server",
              "sigs.k8s.io/metrics-server/cmd/metrics-server", "metrics-server", _ALL,
              ("testbed",), "metrics-server"),
    Component("coredns", "v1.14.7", "github.com/coredns/coredns", "github.com/coredns/coredns",
              "coredns", _ALL, ("bundle", "coredns"), "plain"),
    _ctrd("containerd"),
    _ctrd("containerd-shim-runc-v2"),
    _ctrd("ctr"),
    _cni("main/bridge"),
    _cni("ipam/host-local"),
    _cni("main/loopback"),
    _cni("meta/portmap"),
    # The NFS storage images (hack/images.sh): CSI sidecars, like upstream's images.
    Component("csi-provisioner", "v6.4.0", "github.com/kubernetes-csi/external-provisioner/v6",
              "github.com/kubernetes-csi/external-provisioner/v6/cmd/csi-provisioner",
              "csi-provisioner", _ALL, ("csi",), "csi"),
    # The app store (roles/appstore): kubernetes.core.helm runs it on the controller, so it
    # goes with the rest of a cluster's tools.
    Component("helm", _HELM, "helm.sh/helm/v3", "helm.sh/helm/v3/cmd/helm", "helm", _ALL,
              ("cluster", "helm"), "helm"),
    # The Gateway API data plane of the gateway role (hack/images.sh: library/traefik), an image
    # like CoreDNS; not in any bundle.
    Component("traefik", _TRAEFIK, "github.com/traefik/traefik/v3",
              "github.com/traefik/traefik/v3/cmd/traefik", "traefik", _ALL, ("gateway",), "traefik"),
    # The Pod network's daemon (kubernetes_cni: flannel): runs from an image on every node, like
    # upstream's DaemonSet; not in any bundle. Its main package is the module's root.
    Component("flannel", _FLANNEL, _FLANNEL_MOD, _FLANNEL_MOD, "flanneld", _ALL, ("network",), "flannel"),
    # The NetworkPolicy engine beside flannel or bridge (the network role's
    # network_policy_engine: kube-router): its firewall only, from an image on every node.
    Component("kube-router", _KUBE_ROUTER, _KUBE_ROUTER_MOD, _KUBE_ROUTER_MOD + "/cmd/kube-router",
              "kube-router", _ALL, ("network",), "kube-router"),
)

# Kubernetes manifests a role applies from the controller, taken as upstream publishes them in
# its Go module zip (the module proxy carries the YAML; no release page is reachable offline):
# the *.yaml files of `folder` go to `dest` in the bundle of every GOARCH whose sets include one
# of `sets`, with a manifest line each like the binaries.
ManifestSource = namedtuple("ManifestSource", ["component", "version", "module", "folder", "dest", "sets"])
MANIFESTS = (
    # The Gateway API CRDs, standard channel (GatewayClass, Gateway, HTTPRoute, GRPCRoute,
    # ReferenceGrant, BackendTLSPolicy): the gateway role installs them, canary releases
    # weight the HTTPRoutes. v1.7.0 needs a newer Go than the bundle's.
    ManifestSource("gateway-api", "v1.4.1", "sigs.k8s.io/gateway-api", "config/crd/standard",
                   "manifests/gateway-api", ("cluster", "gateway-api")),
)

# What each set is for (the docs and the errors list them).
SETS = {
    "bundle": "what every node of every GOARCH runs: kubelet, kube-proxy, containerd, ctr, "
              "shim, CNI plugins, CoreDNS (runc and the registry come from Debian)",
    "cluster": "the rest of a cluster: control plane, etcd, etcdctl, etcdutl, kubectl, helm, "
               "the Gateway API CRDs",
    "testbed": "what the project's test bed runs (control plane, kwok, metrics-server)",
    "kubelet": "kubelet only", "kube-proxy": "kube-proxy only", "containerd": "containerd only",
    "cni": "the CNI plugins only", "coredns": "CoreDNS only",
    "csi": "the CSI programs of the NFS storage images (hack/images.sh), not in any bundle",
    "helm": "Helm only (the app store's charts, from the controller)",
    "gateway-api": "the Gateway API CRDs only (manifests/gateway-api)",
    "gateway": "the Gateway API data plane's program (Traefik: the gateway image of "
               "hack/images.sh), not in any bundle",
    "network": "the Pod network's daemons (flanneld, VXLAN and host-gw; kube-router, the "
               "NetworkPolicy engine), run from images, not in any bundle",
}

# The sets every GOARCH's bundle holds, and those of the "full" GOARCHes.
NODE_SETS = ("bundle",)
FULL_SETS = ("bundle", "cluster")
DEFAULT_FULL_GOARCHES = ("amd64",)

# Programs that need cgo (runc's nsenter is C) are taken from Debian's package of that
# architecture: (package, path in the package, file in the bundle, required).
DebianBinary = namedtuple("DebianBinary", ["package", "path", "file", "required", "switch"])
DEBIAN_BINARIES = (
    DebianBinary("runc", "usr/sbin/runc", "bin/runc", True, "runc"),
    # CNCF distribution built by Debian: the registry role's source on OSes without a package.
    DebianBinary("docker-registry", "usr/bin/docker-registry", "bin/registry", False, "registry"),
)
# The Debian suite that carries each dpkg architecture (loong64 is only in sid's archive).
DEBIAN_SUITES = {"loong64": "sid"}
DEFAULT_DEBIAN_SUITE = "bookworm"
DEFAULT_DEBIAN_MIRROR = "http://deb.debian.org/debian"

MANIFEST = "MANIFEST.tsv"
MANIFEST_HEADER = "# component\tversion\tsource\tfile\tsha256"
CHECKSUMS = "SHA256SUMS"


# --- profiles: how a module is prepared and linked ------------------------------------------

def _version_vars(packages, fields):
    return " ".join("-X %s.%s=%s" % (pkg, key, value) for pkg in packages for key, value in fields)


_K8S_VERSION_PKGS = ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")


def _kubernetes_ldflags(version, build_date):
    minor = version.split(".")[1]
    return _version_vars(_K8S_VERSION_PKGS, (
        ("gitVersion", version), ("gitMajor", "1"), ("gitMinor", minor),
        ("gitTreeState", "clean"), ("buildDate", build_date)))


def _containerd_ldflags(version, build_date):
    pkg = "github.com/containerd/containerd/v2/version"
    # No git tree in a module zip: the revision names the module version; the version goes
    # without upstream's leading v (`containerd --version` prints 2.4.2, which the
    # container_runtime role looks for).
    return "-X %s.Version=%s -X %s.Revision=github.com/containerd/containerd/v2@%s" % (
        pkg, version.lstrip("v"), pkg, version)


Profile = namedtuple("Profile", ["tags", "ldflags", "staging_pins", "module_replaces", "main_without", "upgrades"])
# main_without: import paths left out of a copy of the module's main.go, which the scratch module
# builds as its own main package (empty: the row's package is built as published).
# upgrades: MODULE@VERSION the scratch module raises its dependencies to after fetching the row's
# packages (`go get`, which raises what they need too): fixes of flaws reported against the
# versions upstream's go.mod names, when no newer upstream release is served.
Profile.__new__.__defaults__ = ((), ())
PROFILES = {
    # k8s.io/kubernetes replaces its staging modules with ./staging/src/...: a module that
    # depends on it pins each one to the matching v0.x tag itself (staging_pins).
    "kubernetes": Profile("", _kubernetes_ldflags, True, False),
    "kwok": Profile("", lambda v, d: "-X sigs.k8s.io/kwok/pkg/consts.Version=" + v.lstrip("v"), False, False),
    # Its Makefile sets client-go's version variables; `--version` prints component-base's.
    "metrics-server": Profile("", lambda v, d: _version_vars(
        _K8S_VERSION_PKGS, (("gitVersion", v), ("gitTreeState", "clean"))), False, False),
    # The build tags of upstream's static release builds.
    "containerd": Profile("no_btrfs no_devmapper no_zfs", _containerd_ldflags, False, False),
    "plain": Profile("", lambda v, d: "", False, False),
    # kubernetes-csi's release-tools (build.make) set main.version to the revision. Their
    # go.mod pins k8s.io/* (and k8s.io/kubernetes' staging modules) with replace directives,
    # which a module that requires them ignores: the scratch module copies them
    # (module_replaces).
    "csi": Profile("", lambda v, d: "-X main.version=" + v, False, True),
    # Traefik's release build (.goreleaser.yml) sets its version without the v; its go.mod
    # replaces three forks (containous/go-http-auth, mux, minheap), copied like the CSI ones.
    "traefik": Profile("", lambda v, d: _version_vars(("github.com/traefik/traefik/v3/pkg/version",), (
        ("Version", v.lstrip("v")), ("BuildDate", d))), False, True),
    # Helm's Makefile: its version, and the Kubernetes version `helm template` and `helm lint`
    # assume without a cluster, taken from its client-go (v0.37 -> 1.37; helm's default is 1.20).
    "helm": Profile("", lambda v, d: _version_vars(("helm.sh/helm/v3/internal/version",), (
        ("version", v), ("gitTreeState", "clean"))) + " " + _version_vars(
        ("helm.sh/helm/v3/pkg/lint/rules", "helm.sh/helm/v3/pkg/chartutil"),
        (("k8sVersionMajor", "1"), ("k8sVersionMinor", "37"))), False, False),
    # flannel's main.go registers every backend by a blank import. Two cannot be built here:
    # tencentvpc needs Tencent Cloud's SDK, which the Go module proxy refuses (403), and udp's
    # amd64 half is cgo. Both are cloud or legacy backends; the sites' vxlan and host-gw stay.
    # Its Makefile sets pkg/version.Version to the tag.
    "flannel": Profile("", lambda v, d: "-X github.com/flannel-io/flannel/pkg/version.Version=" + v, False, False,
                       ("github.com/flannel-io/flannel/pkg/backend/tencentvpc",
                        "github.com/flannel-io/flannel/pkg/backend/udp")),
    # kube-router's Makefile sets pkg/version's Version (its git commit; here the tag) and
    # BuildDate. v2.1.0's go.mod names golang.org/x/net v0.21, x/crypto v0.19, gRPC v1.62 and
    # protobuf v1.32, for which flaws are reported (HTTP/2 CONTINUATION flood, protojson loop,
    # ...): raised to the versions the rest of the bundle builds with.
    "kube-router": Profile("", lambda v, d: _version_vars(("github.com/cloudnativelabs/kube-router/v2/pkg/version",), (
        ("Version", v), ("BuildDate", d))), False, False, (),
        ("golang.org/x/net@v0.61.0", "golang.org/x/crypto@v0.58.0", "google.golang.org/grpc@v1.84.0",
         "google.golang.org/protobuf@v1.36.11")),
}
BUILD_TIME = "(build time)"


def ldflags(profile, version, build_date):
    """The -ldflags of a row: stripped, and the profile's version variables."""
    extra = PROFILES[profile].ldflags(version, build_date)
    return ("-s -w " + extra).strip()


def recipe(profile, version):
    """What decides a row's binary besides its source, kept beside it as <binary>.recipe.

    The build date is left out (it changes every run). The text is the cache key the bash
    builder wrote before this module existed: keep it byte for byte, or every row rebuilds.
    """
    extra = PROFILES[profile].ldflags(version, BUILD_TIME)
    text = "build CGO_ENABLED=0 go build -trimpath\nprofile %s\ntags %s\nldflags -s -w %s\n" % (
        profile, PROFILES[profile].tags, extra)
    if PROFILES[profile].main_without:
        text += "main.go without %s\n" % " ".join(PROFILES[profile].main_without)
    if PROFILES[profile].upgrades:
        text += "upgrades %s\n" % " ".join(PROFILES[profile].upgrades)
    return text


def scratch_header(profile):
    """The first line of a scratch module's .ready: the profile, and the upgrades it was made with
    (a changed list makes the scratch module again)."""
    upgrades = PROFILES[profile].upgrades
    return "profile %s%s" % (profile, " upgrades " + " ".join(upgrades) if upgrades else "")


def main_without(source, imports, where):
    """The text of the Go file SOURCE (``where`` names it) without the import lines of each
    path of IMPORTS (plain or blank imports, inside an import block). A path SOURCE does not
    import is an error: upstream changed, and the profile must be read again."""
    lines = source.splitlines(True)
    kept, dropped = [], set()
    for line in lines:
        words = line.split()
        path = words[-1].strip('"') if words and words[-1].startswith('"') else None
        if path in imports and len(words) <= 2:
            dropped.add(path)
            continue
        kept.append(line)
    missing = [i for i in imports if i not in dropped]
    if missing:
        raise BundleError("%s imports none of %s any more: upstream changed its backends; read its "
                          "imports again and update main_without of the profile in bundle_policy.py"
                          % (where, ", ".join(missing)))
    return "".join(kept)


def staging_version(version):
    """The v0.x tag of Kubernetes' staging modules for release ``version`` (v1.37.2 -> v0.37.2)."""
    return "v0." + version[len("v1."):]


def staging_modules(gomod_text):
    """The modules k8s.io/kubernetes' go.mod replaces with ./staging/src/ directories."""
    staged = []
    for line in gomod_text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "=>" and parts[2].startswith("./staging/src/"):
            if parts[0].startswith("k8s.io/"):
                staged.append(parts[0])
    return staged


def module_replaces(gomod_text):
    """The ``-replace=OLD=NEW@VERSION`` arguments of ``go mod edit`` that repeat a go.mod's
    replace directives to other module versions (single lines and blocks; replacements by a
    local directory, which a module zip cannot carry, are left out, as are version-specific
    left-hand sides other than the whole module)."""
    out, in_block = [], False
    for raw in gomod_text.splitlines():
        line = raw.split("//", 1)[0].strip()
        if in_block:
            if line == ")":
                in_block = False
                continue
            body = line
        elif line == "replace (":
            in_block = True
            continue
        elif line.startswith("replace "):
            body = line[len("replace "):].strip()
        else:
            continue
        parts = body.split()
        if "=>" not in parts:
            continue
        arrow = parts.index("=>")
        old, new = parts[:arrow], parts[arrow + 1:]
        if len(old) not in (1, 2) or len(new) != 2 or new[0].startswith((".", "/")):
            continue
        left = old[0] if len(old) == 1 else "%s@%s" % (old[0], old[1])
        out.append("-replace=%s=%s@%s" % (left, new[0], new[1]))
    return out


# --- rows and sets --------------------------------------------------------------------------

def known_sets(components=COMPONENTS, manifests=MANIFESTS):
    return sorted({s for row in tuple(components) + tuple(manifests) for s in row.sets})


def rows(set_name, goarch, components=COMPONENTS):
    """The rows of ``set_name`` (``all``: every row) that build for ``goarch``."""
    return [r for r in components
            if (set_name == "all" or set_name in r.sets) and goarch in r.goarches]


def check_sets(sets, components=COMPONENTS):
    unknown = [s for s in sets if s != "all" and s not in known_sets(components)]
    if unknown:
        raise BundleError("unknown bundle set(s) %s: the sets are %s (or all)" % (
            ", ".join(repr(s) for s in unknown), ", ".join(known_sets(components))))


def bundle_sets(goarch, full_goarches=DEFAULT_FULL_GOARCHES, sets=None):
    """The sets ``goarch``'s bundle holds: ``sets`` when given, else the node sets, plus the
    cluster for the GOARCHes of ``full_goarches`` (``all``: every one)."""
    if sets:
        return list(sets)
    full = "all" in full_goarches or goarch in full_goarches
    return list(FULL_SETS if full else NODE_SETS)


def bundle_rows(sets, goarch, components=COMPONENTS):
    """Rows of every set in ``sets`` for ``goarch``, each once, in table order."""
    seen, out = set(), []
    for set_name in sets:
        for row in rows(set_name, goarch, components):
            key = (row.component, row.version, row.binary)
            if key not in seen:
                seen.add(key)
                out.append(row)
    return out


def bundle_manifests(sets, manifests=MANIFESTS):
    """The manifest sources of any set in ``sets``, each once, in table order."""
    return [m for m in manifests if set(m.sets) & set(sets)]


def manifest_file(source, name):
    """Where one of a manifest source's files goes in a GOARCH's bundle."""
    return "%s/%s" % (source.dest, name)


def component(name, components=COMPONENTS, manifests=MANIFESTS):
    """The first row of a component, or its manifest source (version and module are the
    component's)."""
    for row in tuple(components) + tuple(manifests):
        if row.component == name:
            return row
    raise BundleError("no component %r in the table: the components are %s" % (
        name, ", ".join(sorted({r.component for r in tuple(components) + tuple(manifests)}))))


def bundle_file(row):
    """Where a row goes in a GOARCH's bundle: the CNI plugins under cni/, the rest under bin/."""
    return ("cni/" if row.component == "cni-plugins" else "bin/") + row.binary


def cache_path(build_dir, row, goarch):
    return os.path.join(build_dir, row.component, row.version, goarch, row.binary)


# The Kubernetes releases the table's Kubernetes rows are built at: its own, and the previous
# minor's newest patch the Go module proxy serves (playbooks/upgrade.yml upgrades a cluster of
# that bundle to this one: tests/e2e/test_upgrade.py). Other releases are refused: their
# staging pins and Go requirements are untried.
KUBERNETES_RELEASES = (_K8S, "v1.36.3")


def components_of(kubernetes_version=None, components=COMPONENTS):
    """The table with its Kubernetes rows at ``kubernetes_version`` (one of KUBERNETES_RELEASES;
    None: the table as it is)."""
    if kubernetes_version in (None, "", _K8S):
        return tuple(components)
    if kubernetes_version not in KUBERNETES_RELEASES:
        raise BundleError("kubernetes_version %r is not one the table builds: give one of %s (a release's "
                          "staging modules and Go needs are tried before it is added to KUBERNETES_RELEASES "
                          "in bundle_policy.py)" % (kubernetes_version, ", ".join(KUBERNETES_RELEASES)))
    return tuple(r._replace(version=kubernetes_version) if r.profile == "kubernetes" else r for r in components)


def default_version(components=COMPONENTS):
    """The bundle's directory name: the Kubernetes version of the control plane rows."""
    for row in components:
        if row.binary == "kube-apiserver":
            return row.version
    raise BundleError("the component table has no kube-apiserver row to name the bundle: "
                      "give the version")


def default_goarches():
    """Every family upstream Go builds for, in the architecture table's order."""
    return [f.goarch for f in arch.FAMILIES if f.upstream_go]


def goarches_of(names):
    """GOARCHes of architecture names in any spelling the model knows, each once, in order."""
    out, bad = [], []
    for name in names:
        try:
            goarch = arch.goarch(str(name))
        except XinchuangError:
            bad.append(str(name))
            continue
        if goarch not in out:
            out.append(goarch)
    if bad:
        raise BundleError("unknown architecture(s) %s: give a family (%s), a GOARCH or any name "
                          "the architecture model knows" % (
                              ", ".join(repr(b) for b in bad),
                              ", ".join(arch.families())))
    return out


def debian_suite(goarch):
    deb = arch.deb_arch(goarch)
    return DEBIAN_SUITES.get(deb, DEFAULT_DEBIAN_SUITE)


# --- manifest -------------------------------------------------------------------------------

def manifest_line(component, version, source, path, sha256):
    return "\t".join((component, version, source, path, sha256))


def row_line(row, sha256):
    return manifest_line(row.component, row.version, row.module, bundle_file(row), sha256)


def parse_manifest(text):
    """{file: line} of a MANIFEST.tsv (older four-column manifests too)."""
    out = {}
    for line in (text or "").splitlines():
        if line and not line.startswith("#"):
            fields = line.split("\t")
            if len(fields) >= 4:
                out[fields[3]] = line
    return out


def merge_manifest(fresh_lines, previous_text, present):
    """The manifest after a run: this run's lines, and the lines of an earlier run whose file
    is still present (``present(file)``); a run with fewer sets keeps naming what it left."""
    lines = {}
    for file_, line in parse_manifest(previous_text).items():
        if present(file_):
            lines[file_] = line
    for line in fresh_lines:
        lines[line.split("\t")[3]] = line
    body = [lines[k] for k in sorted(lines)]
    return "\n".join([MANIFEST_HEADER] + body) + "\n"


def checksums_text(manifest_text):
    """SHA256SUMS for ``sha256sum -c`` from a manifest (lines without a checksum are left out)."""
    out = []
    for file_, line in sorted(parse_manifest(manifest_text).items()):
        fields = line.split("\t")
        if len(fields) >= 5 and fields[4]:
            out.append("%s  %s" % (fields[4], file_))
    return "".join(line + "\n" for line in out)
