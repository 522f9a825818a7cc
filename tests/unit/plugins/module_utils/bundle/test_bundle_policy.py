"""The offline bundle's pure rules: the component table, sets per GOARCH, recipes (the build
cache's keys) and the manifest. The builder and the module run against the real cache in
tests/integration/bundle/."""

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.bundle import policy as bp

# The recipe text keys every cached binary (<binary>.recipe): the bash builder this module
# replaced wrote exactly these, and a difference rebuilds the row (about an hour of Go for the
# whole table on two cores). A deliberate change of flags changes these on purpose.
RECIPES = {
    ("plain", "v3.6.16"): "build CGO_ENABLED=0 go build -trimpath\nprofile plain\ntags \nldflags -s -w \n",
    ("containerd", "v2.4.2"): (
        "build CGO_ENABLED=0 go build -trimpath\nprofile containerd\ntags no_btrfs no_devmapper no_zfs\n"
        "ldflags -s -w -X github.com/containerd/containerd/v2/version.Version=2.4.2 "
        "-X github.com/containerd/containerd/v2/version.Revision=github.com/containerd/containerd/v2@v2.4.2\n"),
    ("kwok", "v0.8.0"): ("build CGO_ENABLED=0 go build -trimpath\nprofile kwok\ntags \n"
                         "ldflags -s -w -X sigs.k8s.io/kwok/pkg/consts.Version=0.8.0\n"),
    ("metrics-server", "v0.8.0"): (
        "build CGO_ENABLED=0 go build -trimpath\nprofile metrics-server\ntags \nldflags -s -w "
        "-X k8s.io/component-base/version.gitVersion=v0.8.0 -X k8s.io/component-base/version.gitTreeState=clean "
        "-X k8s.io/client-go/pkg/version.gitVersion=v0.8.0 -X k8s.io/client-go/pkg/version.gitTreeState=clean\n"),
    ("csi", "v6.4.0"): ("build CGO_ENABLED=0 go build -trimpath\nprofile csi\ntags \n"
                        "ldflags -s -w -X main.version=v6.4.0\n"),
    ("helm", "v3.22.0"): (
        "build CGO_ENABLED=0 go build -trimpath\nprofile helm\ntags \nldflags -s -w "
        "-X helm.sh/helm/v3/internal/version.version=v3.22.0 -X helm.sh/helm/v3/internal/version.gitTreeState=clean "
        "-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=37 "
        "-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=37\n"),
    ("traefik", "v3.6.12"): ("build CGO_ENABLED=0 go build -trimpath\nprofile traefik\ntags \nldflags -s -w "
                             "-X github.com/traefik/traefik/v3/pkg/version.Version=3.6.12 "
                             "-X github.com/traefik/traefik/v3/pkg/version.BuildDate=(build time)\n"),
    ("flannel", "v0.28.10"): ("build CGO_ENABLED=0 go build -trimpath\nprofile flannel\ntags \nldflags -s -w "
                              "-X github.com/flannel-io/flannel/pkg/version.Version=v0.28.10\n"
                              "main.go without github.com/flannel-io/flannel/pkg/backend/tencentvpc "
                              "github.com/flannel-io/flannel/pkg/backend/udp\n"),
    ("kube-router", "v2.1.0"): (
        "build CGO_ENABLED=0 go build -trimpath\nprofile kube-router\ntags \nldflags -s -w "
        "-X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=v2.1.0 "
        "-X github.com/cloudnativelabs/kube-router/v2/pkg/version.BuildDate=(build time)\n"
        "upgrades golang.org/x/net@v0.61.0 golang.org/x/crypto@v0.58.0 google.golang.org/grpc@v1.84.0 "
        "google.golang.org/protobuf@v1.36.11\n"),
    ("kubernetes", "v1.37.2"): (
        "build CGO_ENABLED=0 go build -trimpath\nprofile kubernetes\ntags \nldflags -s -w "
        + " ".join("-X %s.%s" % (pkg, kv) for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
                   for kv in ("gitVersion=v1.37.2", "gitMajor=1", "gitMinor=37", "gitTreeState=clean",
                              "buildDate=(build time)")) + "\n"),
}


@pytest.mark.parametrize("profile,version", sorted(RECIPES))
def test_recipes_are_the_cache_keys_the_cache_already_holds(profile, version):
    assert bp.recipe(profile, version) == RECIPES[(profile, version)]


def test_every_row_of_the_table_has_its_recipe_pinned_here():
    for row in bp.COMPONENTS:
        key = ("plain", "v3.6.16") if row.profile == "plain" else (row.profile, row.version)
        assert bp.recipe(row.profile, row.version) == RECIPES[key], row


def test_a_scratch_module_is_made_again_when_its_profiles_upgrades_change():
    assert bp.scratch_header("flannel") == "profile flannel"
    header = bp.scratch_header("kube-router")
    assert header.startswith("profile kube-router upgrades golang.org/x/net@v0.61.0 ")
    assert header.split()[3:] == list(bp.PROFILES["kube-router"].upgrades)


def test_the_link_flags_carry_the_build_date_the_recipe_leaves_out():
    flags = bp.ldflags("kubernetes", "v1.37.2", "2026-11-30T00:00:00Z")
    assert flags.startswith("-s -w -X k8s.io/component-base/version.gitVersion=v1.37.2")
    assert "buildDate=2026-11-30T00:00:00Z" in flags and "(build time)" not in flags
    assert bp.ldflags("plain", "v1.0.0", "x") == "-s -w"


def test_every_goarch_of_the_table_is_an_architecture_of_the_model_with_upstream_go():
    for row in bp.COMPONENTS:
        for goarch in row.goarches:
            assert arch.goarch(goarch) == goarch and arch.lookup(goarch).upstream_go, row


def test_the_default_goarches_are_the_model_families_upstream_go_builds_for():
    assert bp.default_goarches() == ["amd64", "arm64", "loong64", "mips64le"]


def test_a_node_bundle_and_a_full_bundle():
    node = [r.binary for r in bp.bundle_rows(bp.bundle_sets("arm64"), "arm64")]
    assert sorted(node) == sorted(["kubelet", "kube-proxy", "coredns", "containerd",
                                   "containerd-shim-runc-v2", "ctr", "bridge", "host-local",
                                   "loopback", "portmap"])
    full = [r.binary for r in bp.bundle_rows(bp.bundle_sets("amd64"), "amd64")]
    assert set(full) - set(node) == {"kube-apiserver", "kube-controller-manager", "kube-scheduler",
                                     "kubectl", "etcd", "etcdctl", "etcdutl", "helm"}
    assert bp.bundle_sets("arm64", ["all"]) == list(bp.FULL_SETS)
    assert bp.bundle_sets("amd64", sets=["cni"]) == ["cni"]  # given sets win over full


def test_test_bed_only_rows_never_reach_a_sites_bundle():
    for goarch in bp.default_goarches():
        binaries = {r.binary for r in bp.bundle_rows(bp.FULL_SETS, goarch)}
        assert not binaries & {"kwok", "metrics-server"}
    assert [r.binary for r in bp.rows("testbed", "loong64")] == [
        "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "etcd", "metrics-server"]


def test_helm_goes_with_the_cluster_tools_for_every_goarch_and_has_a_set_of_its_own():
    for goarch in bp.default_goarches():
        assert [r.binary for r in bp.rows("helm", goarch)] == ["helm"]
        assert "helm" not in {r.binary for r in bp.bundle_rows(bp.NODE_SETS, goarch)}
    assert bp.bundle_file(bp.component("helm")) == "bin/helm"


def test_where_each_row_goes():
    bridge = bp.component("cni-plugins")
    assert bp.bundle_file(bridge) == "cni/bridge"
    assert bp.bundle_file(bp.component("kubelet")) == "bin/kubelet"
    assert bp.cache_path("/c/build", bridge, "arm64") == "/c/build/cni-plugins/v1.10.0/arm64/bridge"


@pytest.mark.parametrize("names,words", [
    (["x86"], ["'x86'", "c86, arm, loongarch, sw64, mips"]),
    (["amd64", "ppc64le", "s390x"], ["'ppc64le'", "'s390x'"]),
])
def test_unknown_architectures_are_all_named_with_the_accepted_names(names, words):
    with pytest.raises(bp.BundleError) as err:
        bp.goarches_of(names)
    for word in words:
        assert word in str(err.value)


def test_architecture_names_of_any_spelling_become_goarches_once():
    assert bp.goarches_of(["c86", "x86_64", "kunpeng", "mips64el", "loongarch"]) == [
        "amd64", "arm64", "mips64le", "loong64"]


def test_unknown_sets_are_named_with_the_known_ones():
    with pytest.raises(bp.BundleError) as err:
        bp.check_sets(["cni", "kernel"])
    assert "'kernel'" in str(err.value) and "containerd" in str(err.value)
    bp.check_sets(["all", "testbed"])


def test_debian_suites_and_unknown_components():
    assert bp.debian_suite("loong64") == "sid" and bp.debian_suite("mips64le") == "bookworm"
    with pytest.raises(bp.BundleError, match="no component 'kustomize'"):
        bp.component("kustomize")


def test_csi_rows_build_for_every_lab_goarch_and_reach_no_bundle():
    assert [r.binary for r in bp.rows("csi", "loong64")] == ["csi-provisioner"]
    for goarch in bp.default_goarches():
        assert not {r.binary for r in bp.bundle_rows(bp.FULL_SETS, goarch)} & {"csi-provisioner"}
    row = bp.component("csi-provisioner")
    assert row.package.startswith(row.module + "/") and row.module.endswith("/v6")


def test_a_modules_replace_directives_are_repeated_for_the_scratch_module():
    gomod = ("module github.com/kubernetes-csi/external-provisioner/v6\n\n"
             "require k8s.io/kubernetes v1.36.3\n\n"
             "replace k8s.io/api => k8s.io/api v0.36.1\n"
             "replace (\n"
             "\tk8s.io/client-go => k8s.io/client-go v0.36.1 // pinned\n"
             "\tk8s.io/utils v0.0.0-1 => k8s.io/utils v0.0.0-2\n"
             "\tgithub.com/x/y => ../y\n"
             ")\n"
             "replace github.com/a/b => /src/b\n")
    assert bp.module_replaces(gomod) == [
        "-replace=k8s.io/api=k8s.io/api@v0.36.1",
        "-replace=k8s.io/client-go=k8s.io/client-go@v0.36.1",
        "-replace=k8s.io/utils@v0.0.0-1=k8s.io/utils@v0.0.0-2",
    ]
    assert bp.module_replaces("module x\n") == []


def test_staging_modules_are_read_from_the_kubernetes_go_mod():
    gomod = ("module k8s.io/kubernetes\n\nreplace (\n"
             "\tk8s.io/api => ./staging/src/k8s.io/api\n"
             "\tk8s.io/client-go => ./staging/src/k8s.io/client-go\n"
             "\tgithub.com/x/y => github.com/x/y v1.0.0\n)\n")
    assert bp.staging_modules(gomod) == ["k8s.io/api", "k8s.io/client-go"]
    assert bp.staging_version("v1.37.2") == "v0.37.2"


def test_the_manifest_keeps_files_an_earlier_run_left_and_drops_vanished_ones():
    earlier = bp.merge_manifest([
        bp.manifest_line("containerd", "v2.4.2", "m", "bin/ctr", "aa"),
        bp.manifest_line("kubelet", "v1.37.2", "k", "bin/kubelet", "bb"),
    ], None, lambda f: True)
    after = bp.merge_manifest([bp.manifest_line("cni-plugins", "v1.10.0", "c", "cni/bridge", "cc")],
                              earlier, lambda f: f != "bin/kubelet")
    assert after.splitlines() == [
        bp.MANIFEST_HEADER,
        "containerd\tv2.4.2\tm\tbin/ctr\taa",
        "cni-plugins\tv1.10.0\tc\tcni/bridge\tcc",
    ]
    assert bp.checksums_text(after) == "aa  bin/ctr\ncc  cni/bridge\n"


def test_a_four_column_manifest_of_the_old_builder_is_read_and_rewritten():
    old = "# component\tversion\tsource\tfile\nrunc\t1.1.5\tdebian-bookworm\tbin/runc\n"
    merged = bp.merge_manifest([], old, lambda f: True)
    assert "runc\t1.1.5\tdebian-bookworm\tbin/runc" in merged
    assert bp.checksums_text(merged) == ""  # no checksum known: not claimed


def test_traefik_builds_for_every_lab_goarch_reaches_no_bundle_and_copies_its_forks():
    assert [r.binary for r in bp.rows("gateway", "mips64le")] == ["traefik"]
    for goarch in bp.default_goarches():
        assert "traefik" not in {r.binary for r in bp.bundle_rows(bp.FULL_SETS, goarch)}
    row = bp.component("traefik")
    assert row.package == row.module + "/cmd/traefik"
    assert bp.PROFILES[row.profile].module_replaces  # containous/mux and the other forks


def test_the_network_daemons_build_for_every_lab_goarch_and_reach_no_bundle():
    for goarch in bp.default_goarches():
        assert [r.binary for r in bp.rows("network", goarch)] == ["flanneld", "kube-router"]
        bundled = {r.binary for r in bp.bundle_rows(bp.FULL_SETS, goarch)}
        assert not bundled & {"flanneld", "kube-router"}, bundled
    row = bp.component("flannel")
    assert row.package == row.module == "github.com/flannel-io/flannel"
    assert bp.PROFILES[row.profile].main_without


FLANNEL_MAIN = """package main

import (
\t"fmt"

\t"github.com/flannel-io/flannel/pkg/backend"
\t_ "github.com/flannel-io/flannel/pkg/backend/hostgw"
\t_ "github.com/flannel-io/flannel/pkg/backend/tencentvpc"
\t_ "github.com/flannel-io/flannel/pkg/backend/udp"
\t_ "github.com/flannel-io/flannel/pkg/backend/vxlan"
)

func main() { fmt.Println("github.com/flannel-io/flannel/pkg/backend/udp") }
"""


def test_main_without_drops_the_import_lines_and_nothing_else():
    out = bp.main_without(FLANNEL_MAIN, ("github.com/flannel-io/flannel/pkg/backend/tencentvpc",
                                         "github.com/flannel-io/flannel/pkg/backend/udp"), "main.go")
    assert "tencentvpc" not in out and "backend/udp\"\n" not in out
    assert out.count("\n") == FLANNEL_MAIN.count("\n") - 2
    # A string with the path in the code is not an import.
    assert 'fmt.Println("github.com/flannel-io/flannel/pkg/backend/udp")' in out
    assert '_ "github.com/flannel-io/flannel/pkg/backend/vxlan"' in out
    assert '"github.com/flannel-io/flannel/pkg/backend"\n' in out


def test_main_without_an_import_upstream_no_longer_has_is_named_with_the_fix():
    with pytest.raises(bp.BundleError) as err:
        bp.main_without(FLANNEL_MAIN, ("github.com/flannel-io/flannel/pkg/backend/alivpc",), "flannel@v9/main.go")
    assert "flannel@v9/main.go" in str(err.value) and "backend/alivpc" in str(err.value)
    assert "main_without" in str(err.value)


def test_the_gateway_api_crds_go_with_the_cluster_tools_and_have_a_set_of_their_own():
    source = bp.component("gateway-api")
    assert isinstance(source, bp.ManifestSource) and source.module == "sigs.k8s.io/gateway-api"
    assert bp.bundle_manifests(bp.FULL_SETS) == [source]
    assert bp.bundle_manifests(bp.NODE_SETS) == []
    assert bp.bundle_manifests(["gateway-api"]) == [source]
    assert bp.bundle_rows(["gateway-api"], "amd64") == []  # no program: manifests only
    assert bp.manifest_file(source, "gateway.networking.k8s.io_httproutes.yaml") == (
        "manifests/gateway-api/gateway.networking.k8s.io_httproutes.yaml")
    bp.check_sets(["gateway-api"])  # a known set
    assert "gateway-api" in bp.known_sets() and "gateway-api" in bp.SETS


# --- the previous minor's Kubernetes rows (playbooks/upgrade.yml) -----------------------------

def test_the_previous_minor_moves_only_the_kubernetes_rows():
    previous = bp.components_of("v1.36.3")
    assert len(previous) == len(bp.COMPONENTS)
    for old, new in zip(bp.COMPONENTS, previous):
        if old.profile == "kubernetes":
            assert new == old._replace(version="v1.36.3")
        else:
            assert new == old
    kube = [r.binary for r in previous if r.version == "v1.36.3"]
    assert {"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kubelet", "kube-proxy"} <= set(kube)
    assert bp.default_version(previous) == "v1.36.3"
    assert bp.staging_version("v1.36.3") == "v0.36.3"
    assert bp.recipe("kubernetes", "v1.36.3").count("gitVersion=v1.36.3") == 2
    assert bp.components_of(None) == tuple(bp.COMPONENTS) == bp.components_of(bp.default_version())


@pytest.mark.parametrize("version", ["v1.35.4", "1.36.3", "latest"])
def test_a_release_the_table_does_not_build_is_refused_naming_those_it_does(version):
    with pytest.raises(bp.BundleError) as err:
        bp.components_of(version)
    assert repr(version) in str(err.value)
    for release in bp.KUBERNETES_RELEASES:
        assert release in str(err.value)
