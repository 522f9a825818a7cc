"""The recipes of the images (plugins/module_utils/images/recipes.py): each kind's text, as the
images cached before the builder moved into the collection spell it (copied from their
``recipe`` files, so a change of a word here would rebuild every image of that kind), the cache
id of a text, and the indexes a push publishes."""

import hashlib

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.images import recipes

OCI = "tool oci.py sha256:9b569bcd6ba26dbbefdacd43c736fd8efe6f610ba1a2ffecb1490686a69e7ecd"
TREE = (OCI + " debian_tree.py sha256:926093eeb5092c139e7c6d2792db62f7a07fd302ab10dd52e29446d9b1892afa"
        " debian_closure.py sha256:3babb0f9da764f36569a8e81506b96a6d8e163de6fadc24598593664126d6ddd")

PAUSE_LOONG64 = """image library/pause:3.10.2 loong64
source k8s.io/kubernetes@v1.37.2 build/pause/linux/pause.c sha256:14a3fe21ab5f8e62937a2b453e76f3b94b0d3c7c04c3d09bc37195f54c1695ea
compiler loongarch64-linux-gnu-gcc loongarch64-linux-gnu-gcc (Debian 14.2.0-19) 14.2.0 (chroot trixie)
cflags -Os -Wall -Werror -static -DVERSION=v3.10.2-v1.37.2
strip loongarch64-linux-gnu-strip
config entrypoint=/pause user=65535:65535
""" + OCI + "\n"

COREDNS_AMD64 = """image coredns/coredns:v1.14.7 amd64
binary coredns sha256:a0aa3f93e9b780b6f1c595abefb69a88820c1d47f8208be1c00a022cf3227205
file /etc/ssl/certs/ca-certificates.crt sha256:66848390d4bd02ebe8532d6515089559691374e83f877ad7017d992849916ba3
config entrypoint=/coredns user=65532:65532 cap_net_bind_service expose=53/tcp,53/udp
""" + OCI + "\n"

FLANNEL_PACKAGES = [
    ("iptables", "1.8.9-2"), ("nftables", "1.0.6-2+deb12u2"), ("libc6", "2.36-9+deb12u14"),
    ("libxtables12", "1.8.9-2"), ("libnftnl11", "1.2.4-2"), ("libmnl0", "1.0.4-3"),
    ("libnetfilter-conntrack3", "1.0.9-3"), ("libnfnetlink0", "1.0.2-2"), ("libnftables1", "1.0.6-2+deb12u2"),
    ("libedit2", "3.1-20221030-2"), ("libgcc-s1", "12.2.0-14+deb12u1"), ("libgmp10", "2:6.2.1+dfsg1-1.1"),
    ("libjansson4", "2.14-2"), ("libbsd0", "0.11.7-2"), ("libtinfo6", "6.4-4"), ("libmd0", "1.0.4-2")]
FLANNEL_ARM64 = ("image flannel/flannel:v0.28.10 arm64\n"
                 "binary flanneld sha256:6bc1e98d6fc6ea7d1e0c1650cfa464fe7d5991f498c71997c3ded1269acdab94\n"
                 + "".join("package\t%s\t%s\n" % p for p in FLANNEL_PACKAGES)
                 + "links iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore\n"
                 "config entrypoint=/opt/bin/flanneld user=root\n" + TREE + "\n")


def test_the_cache_id_is_the_hash_the_shell_builder_gave():
    # The directories these recipes are cached in (sha256sum <<<"$recipe" | cut -c1-16).
    assert recipes.recipe_id(PAUSE_LOONG64) == "af279dcce7899350"
    assert recipes.recipe_id(PAUSE_LOONG64.rstrip("\n")) == "af279dcce7899350"
    assert recipes.recipe_id(COREDNS_AMD64) == "ab6eb77f2561c372"
    assert recipes.recipe_id(FLANNEL_ARM64) == "8a28ecbb5b94534e"


def test_a_pause_recipe_names_source_compiler_chroot_and_flags():
    text = recipes.pause_recipe(
        "3.10.2", "loong64", "v1.37.2", "14a3fe21ab5f8e62937a2b453e76f3b94b0d3c7c04c3d09bc37195f54c1695ea",
        "loongarch64-linux-gnu", "loongarch64-linux-gnu-gcc (Debian 14.2.0-19) 14.2.0", "trixie")
    assert recipes.recipe_file_text(text) == PAUSE_LOONG64
    host = recipes.pause_recipe("3.10.2", "amd64", "v1.37.2", "x", "x86_64-linux-gnu", "gcc 12", None)
    assert "compiler x86_64-linux-gnu-gcc gcc 12\n" in host and "chroot" not in host


def test_a_program_recipe_names_its_binary_the_ca_bundle_and_its_config():
    text = recipes.program_recipe(recipes.COREDNS_IMAGE, "v1.14.7", "amd64",
                                  "a0aa3f93e9b780b6f1c595abefb69a88820c1d47f8208be1c00a022cf3227205",
                                  "66848390d4bd02ebe8532d6515089559691374e83f877ad7017d992849916ba3")
    assert recipes.recipe_file_text(text) == COREDNS_AMD64
    csi, traefik = recipes.STATIC_IMAGES
    assert "\nconfig entrypoint=/csi-provisioner user=root\n" in recipes.program_recipe(csi, "v5", "arm64", "a", "b")
    assert "\nconfig entrypoint=/traefik user=65532:65532 expose=8000/tcp,8080/tcp\n" in recipes.program_recipe(
        traefik, "v3", "arm64", "a", "b")


def test_a_netfilter_recipe_lists_its_packages_in_closure_order():
    flannel = recipes.NETFILTER_IMAGES[0]
    text = recipes.netfilter_recipe(flannel, "v0.28.10", "arm64",
                                    "6bc1e98d6fc6ea7d1e0c1650cfa464fe7d5991f498c71997c3ded1269acdab94",
                                    FLANNEL_PACKAGES)
    assert recipes.recipe_file_text(text) == FLANNEL_ARM64
    assert recipes.netfilter_created_by(flannel, "v0.28.10", FLANNEL_PACKAGES) == (
        "flanneld v0.28.10 of the component table, iptables (nf_tables) and nft of Debian 16 packages")


def test_busybox_takes_debians_static_flavour_with_the_wget_timeout_forced():
    os_linux = "CONFIG_A=y\n# CONFIG_FEATURE_WGET_TIMEOUT is not set\nCONFIG_B=y"  # no newline at its end
    pkg_static = "CONFIG_STATIC=y\nCONFIG_FEATURE_WGET_TIMEOUT=n\n\n"
    config = recipes.busybox_config(os_linux, pkg_static)
    # cat joins the two files as they are: the last line of one and the first of the other.
    assert config == "CONFIG_A=y\nCONFIG_B=yCONFIG_STATIC=y\nCONFIG_FEATURE_WGET_TIMEOUT=y"
    assert recipes.busybox_config("A=1\n", "B=1\n") == "A=1\nB=1\nCONFIG_FEATURE_WGET_TIMEOUT=y"
    text = recipes.busybox_recipe("1.37.0", "mips64le", "1:1.37.0-6", "trixie", config, "mips64el-linux-gnuabi64",
                                  "gcc 12", None)
    assert text.split("\n")[2] == "config sha256:%s" % hashlib.sha256((config + "\n").encode()).hexdigest()
    assert text.endswith("busybox_applets.py sha256:2168e2a41701feda9c128a2aef13efca00da5adc9e7cb95f2aba053b63c2d940")
    assert recipes.busybox_links(["[", "busybox", "sh"]) == [("/bin/[", "busybox"), ("/bin/sh", "busybox")]


def test_the_pause_tag_is_upstreams_and_a_makefile_without_one_is_named():
    assert recipes.pause_tag("REGISTRY ?= x\nTAG ?= 3.10.2\nREV = $(shell git describe)\n") == "3.10.2"
    with pytest.raises(recipes.ImagesError, match=r"no 'TAG \?= x.y' in build/pause/Makefile"):
        recipes.pause_tag("TAG = latest\n")
    assert recipes.kubernetes_version_of("/cache/go/mod/k8s.io/kubernetes@v1.37.2") == "v1.37.2"


def test_an_index_per_name_and_tag_with_the_pause_aliases_and_one_version_per_application_tag():
    built = [("library/pause", "3.10.2", "amd64"), ("library/pause", "3.10.2", "arm64"),
             ("coredns/coredns", "v1.14.7", "amd64")]
    indexes = recipes.index_specs(built, "cluster", ["3.10.1", "3.10.2"])
    assert [(i["repository"], i["tag"]) for i in indexes] == [
        ("coredns/coredns", "v1.14.7"), ("library/pause", "3.10.2"), ("library/pause", "3.10.1")]
    alias = indexes[2]
    assert alias["sources"] == [{"ref": "3.10.2-amd64", "platform": "amd64"}, {"ref": "3.10.2-arm64", "platform": "arm64"}]
    assert alias["required_platforms"] == ["amd64", "arm64"]
    assert alias["annotations"] == {"org.opencontainers.image.version": "3.10.1"}
    assert not any("same_label" in i for i in indexes)
    apps = recipes.index_specs([("appstore/nginx", "1.22.1", "amd64")], "apps", ["3.10.1"])
    assert apps == [{"repository": "appstore/nginx", "tag": "1.22.1",
                     "sources": [{"ref": "1.22.1-amd64", "platform": "amd64"}], "required_platforms": ["amd64"],
                     "annotations": {"org.opencontainers.image.version": "1.22.1"},
                     "same_label": "org.opencontainers.image.version"}]
