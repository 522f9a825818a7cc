# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The images a cluster pulls, as pure rules: what each image is made of (its recipe, the cache
key), what its layer holds and how its config reads. The builder (``images/builder.py``) finds
the inputs (binaries, sources, compilers, Debian packages) and writes the layouts.

A recipe is the text of everything that makes an image: sources and their SHA-256, compiler,
flags, the Debian packages and versions, the image's config, and the identity of the tools that
lay it out (``TOOL_IDS``). The cache keeps each image under ``<name>/<tag>/<goarch>/<id>/``
with ``id = recipe_id(text)``, so a change of any input builds a new image and the same inputs
find the cached one. No path of the machine enters a recipe.

The tool identities are frozen words, not hashes of today's files: moving or commenting the code
rebuilds nothing. Whoever changes the bytes a tool writes (a layer, a config, a file list) bumps
its word; the golden tests of ``oci_layout`` and of the tree rules fail until they do.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import re
from collections import namedtuple

from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError
from ansible_collections.xinchuang.cloud.plugins.module_utils.images import app_images
from ansible_collections.xinchuang.cloud.plugins.module_utils.bundle import policy as bundle_policy

# The words each recipe carries for the code that lays the image out. Their values are the
# SHA-256 of the files that did this before the builder moved into the collection (the cached
# images carry them); bump a word (to "v2", say) when that tool's output changes.
TOOL_IDS = {
    "oci.py": "sha256:9b569bcd6ba26dbbefdacd43c736fd8efe6f610ba1a2ffecb1490686a69e7ecd",
    "busybox_applets.py": "sha256:2168e2a41701feda9c128a2aef13efca00da5adc9e7cb95f2aba053b63c2d940",
    "debian_tree.py": "sha256:926093eeb5092c139e7c6d2792db62f7a07fd302ab10dd52e29446d9b1892afa",
    "debian_closure.py": "sha256:3babb0f9da764f36569a8e81506b96a6d8e163de6fadc24598593664126d6ddd",
}
TREE_TOOLS = ("oci.py", "debian_tree.py", "debian_closure.py")

IMAGE_SETS = ("cluster", "apps")
DEFAULT_PAUSE_ALIASES = ("3.10.1",)  # the container_runtime role's sandbox image
DEFAULT_CROSS_SUITE = "trixie"
DEFAULT_BUSYBOX_SUITE = "trixie"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
VERSION_LABEL = "org.opencontainers.image.version"
SOURCE_LABEL = "org.opencontainers.image.source"

PAUSE = "library/pause"
COREDNS = "coredns/coredns"
BUSYBOX = "library/busybox"
NFSPLUGIN = "sig-storage/nfsplugin"


class ImagesError(XinchuangError):
    """An image cannot be planned or built as asked (the message names what and the fix)."""


def tool_words(*names):
    return " ".join("%s %s" % (name, TOOL_IDS[name]) for name in names)


def recipe_id(text):
    """The cache directory of a recipe: what ``sha256sum <<<"$recipe" | cut -c1-16`` gave."""
    return hashlib.sha256((text.rstrip("\n") + "\n").encode()).hexdigest()[:16]


def recipe_file_text(text):
    """The ``recipe`` file beside a cached image."""
    return text.rstrip("\n") + "\n"


def _text(lines):
    return "\n".join(lines).rstrip("\n")


def chroot_words(cross_suite):
    """What a compiler run in the cross chroot adds to its line (none on the host)."""
    return " (chroot %s)" % cross_suite if cross_suite else ""


# --- the pause program ---------------------------------------------------------------------

PAUSE_SOURCE = "build/pause/linux/pause.c"
PAUSE_MAKEFILE = "build/pause/Makefile"
PAUSE_USER = "65535:65535"
_PAUSE_TAG = re.compile(r"^TAG \?= *([0-9][0-9.]*)[ \t]*$", re.M)


def pause_tag(makefile_text):
    """The pause image's tag: the ``TAG ?= x.y`` of k8s.io/kubernetes' build/pause/Makefile."""
    hit = _PAUSE_TAG.search(makefile_text or "")
    if not hit:
        raise ImagesError("no 'TAG ?= x.y' in %s of k8s.io/kubernetes" % PAUSE_MAKEFILE)
    return hit.group(1)


def kubernetes_version_of(module_dir):
    """v1.37.2 of .../k8s.io/kubernetes@v1.37.2: only the version enters a recipe."""
    return module_dir.rsplit("@", 1)[-1]


def pause_cflags(tag, k8s_version):
    # upstream's CFLAGS (build/pause/Makefile); its REV is `git describe`, here the module version.
    return "-Os -Wall -Werror -static -DVERSION=v%s-%s" % (tag, k8s_version)


def pause_recipe(tag, goarch, k8s_version, source_sha, triplet, cc_id, cross_suite):
    return _text([
        "image %s:%s %s" % (PAUSE, tag, goarch),
        "source k8s.io/kubernetes@%s %s sha256:%s" % (k8s_version, PAUSE_SOURCE, source_sha),
        "compiler %s-gcc %s%s" % (triplet, cc_id, chroot_words(cross_suite)),
        "cflags %s" % pause_cflags(tag, k8s_version),
        "strip %s-strip" % triplet,
        "config entrypoint=/pause user=%s" % PAUSE_USER,
        "tool %s" % tool_words("oci.py"),
    ])


def pause_created_by(k8s_version, cc_id, cflags):
    return "pause.c of k8s.io/kubernetes@%s, %s, %s" % (k8s_version, cc_id, cflags)


# --- Go programs of the component table -----------------------------------------------------

# name: image; set: the bundle set that builds it; component: its row; binary; user ("root": no
# USER, as the CSI Dockerfiles' distroless base); ports; caps (file capabilities of the binary).
ProgramImage = namedtuple("ProgramImage", "name set component binary user ports caps")

# CoreDNS as upstream's image: /coredns with cap_net_bind_service, user 65532, CA certificates.
# The CSI sidecar and the Gateway API data plane as upstream's: the binary as /<binary> and the
# entrypoint, with Debian's CA bundle as distroless carries one. Not here, because the Go module
# proxy serves none of their modules: nfsplugin (unless the table gets its row; below),
# csi-node-driver-registrar and livenessprobe.
COREDNS_IMAGE = ProgramImage(COREDNS, "coredns", "coredns", "coredns", "65532:65532", ("53/tcp", "53/udp"),
                             ("net_bind_service",))
STATIC_IMAGES = (
    ProgramImage("sig-storage/csi-provisioner", "csi", "csi-provisioner", "csi-provisioner", "root", (), ()),
    # The gateway role's data plane, on unprivileged ports (8000 traffic, 8080 metrics) as 65532.
    ProgramImage("library/traefik", "gateway", "traefik", "traefik", "65532:65532", ("8000/tcp", "8080/tcp"), ()),
)


def program_recipe(image, version, goarch, binary_sha, certs_sha):
    config = ["entrypoint=/%s" % image.binary, "user=%s" % image.user]
    config += ["cap_%s" % cap for cap in image.caps]
    if image.ports:
        config.append("expose=%s" % ",".join(image.ports))
    return _text([
        "image %s:%s %s" % (image.name, version, goarch),
        "binary %s sha256:%s" % (image.binary, binary_sha),
        "file %s sha256:%s" % (CA_BUNDLE, certs_sha),
        "config %s" % " ".join(config),
        "tool %s" % tool_words("oci.py"),
    ])


def program_created_by(image, version):
    return "%s %s of the component table (bundle_policy.py)" % (image.component, version)


# --- busybox --------------------------------------------------------------------------------

BUSYBOX_WGET_TIMEOUT = "CONFIG_FEATURE_WGET_TIMEOUT=y"


def busybox_config(os_linux, pkg_static):
    """Debian's flavour "static" (debian/rules: the os config, then the flavour's, joined as
    ``cat`` joins them), with FEATURE_WGET_TIMEOUT set whatever the suite says: bookworm's
    busybox lacks it, and its ``wget -T N`` writes through a null pointer."""
    kept = [line for line in (os_linux + pkg_static).split("\n")
            if line != "# CONFIG_FEATURE_WGET_TIMEOUT is not set"
            and not line.startswith("CONFIG_FEATURE_WGET_TIMEOUT=")]
    return "\n".join(kept).rstrip("\n") + "\n" + BUSYBOX_WGET_TIMEOUT


def busybox_recipe(tag, goarch, version, busybox_suite, config, triplet, cc_id, cross_suite):
    return _text([
        "image %s:%s %s" % (BUSYBOX, tag, goarch),
        "source busybox %s (Debian %s)" % (version, busybox_suite),
        "config sha256:%s" % hashlib.sha256((config + "\n").encode()).hexdigest(),
        "compiler %s-gcc %s%s" % (triplet, cc_id, chroot_words(cross_suite)),
        "strip %s-strip" % triplet,
        "links /bin/<applet> -> busybox",
        "config cmd=sh label version=%s" % tag,
        "tool %s" % tool_words("oci.py", "busybox_applets.py"),
    ])


def busybox_created_by(version, busybox_suite, cc_id):
    return ("busybox %s of Debian %s, its static configuration, %s; a link per applet in /bin"
            % (version, busybox_suite, cc_id))


def busybox_links(applets):
    """A link per applet in /bin (``busybox --install -s /bin``), so sleep or sh run by name."""
    return [("/bin/%s" % name, "busybox") for name in applets if name != "busybox"]


# --- images of Go programs on a Debian tree (NFS tools, iptables) ------------------------------

# Each: PACKAGE:FILES:LIBRARY PACKAGES THE FILES LINK (name prefixes; debian_closure.parse_take).
# The NFS node plugin runs `mount -t nfs`: util-linux's mount and nfs-common's mount.nfs, with
# netbase's /etc/services, /etc/protocols and /etc/rpc (upstream's image installs those three).
NFS_TAKES = (
    "mount:usr/bin/mount:libc6,libmount1,libselinux1",
    "nfs-common:usr/sbin/mount.nfs,usr/sbin/mount.nfs4,usr/sbin/umount.nfs,usr/sbin/umount.nfs4:libc6,libmount1,libtirpc3",
    "netbase:etc/",
)
# iptables in its nf_tables variant (the names upstream's images have, as links to
# xtables-nft-multi, with its extensions).
XTABLES_TAKE = "iptables:usr/sbin/xtables-nft-multi,usr/lib/:libc6,libxtables,libnftnl,libmnl,libnetfilter-conntrack,libnfnetlink"
XTABLES_LINKS = ("iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save", "ip6tables-restore")

# name, component (set network), binary, its path in the image (the entrypoint, run as root from
# the host's network namespace), the tool beside iptables, the takes.
NetfilterImage = namedtuple("NetfilterImage", "name component binary path tool takes")
# flanneld sets up the node's VXLAN link, routes and netfilter rules; nft for its nftables mode.
# kube-router, the NetworkPolicy engine, writes its firewall with iptables and ipset.
NETFILTER_IMAGES = (
    NetfilterImage("flannel/flannel", "flannel", "flanneld", "opt/bin/flanneld", "nft",
                   (XTABLES_TAKE, "nftables:usr/sbin/nft:libc6,libnftables,libedit")),
    NetfilterImage("cloudnativelabs/kube-router", "kube-router", "kube-router", "usr/local/bin/kube-router", "ipset",
                   (XTABLES_TAKE, "ipset:usr/sbin/ipset:libc6,libipset")),
)


def package_lines(packages):
    """The recipe's lines of a Debian tree's packages, in closure order."""
    return "\n".join("package\t%s\t%s" % (name, version) for name, version in packages)


def netfilter_recipe(image, version, goarch, binary_sha, packages):
    return _text([
        "image %s:%s %s" % (image.name, version, goarch),
        "binary %s sha256:%s" % (image.binary, binary_sha),
        package_lines(packages),
        "links %s" % " ".join(XTABLES_LINKS),
        "config entrypoint=/%s user=root" % image.path,
        "tool %s" % tool_words(*TREE_TOOLS),
    ])


def netfilter_created_by(image, version, packages):
    return ("%s %s of the component table, iptables (nf_tables) and %s of Debian %d packages"
            % (image.binary, version, image.tool, len(packages)))


def netfilter_links():
    return [("/usr/sbin/%s" % link, "xtables-nft-multi") for link in XTABLES_LINKS]


def nfsplugin_recipe(version, goarch, binary_sha, packages):
    return _text([
        "image %s:%s %s" % (NFSPLUGIN, version, goarch),
        "binary nfsplugin sha256:%s" % binary_sha,
        package_lines(packages),
        "config entrypoint=/nfsplugin user=root",
        "tool %s" % tool_words(*TREE_TOOLS),
    ])


def nfsplugin_created_by(version, packages):
    return ("nfsplugin %s of the component table, mount and mount.nfs of Debian %d packages"
            % (version, len(packages)))


def nfs_tools_created_by(packages):
    return "mount and mount.nfs of Debian: %s" % "".join("%s=%s " % p for p in packages)


# --- application images (app_images.APPS) -----------------------------------------------------

def app_cache_recipe(name, suite=None, deb_arch=None):
    """What makes an application child besides its packages and tools: its recipe of Debian
    ``suite`` for ``deb_arch``, its user (a cache key, as JSON)."""
    spec = app_images.recipe(_app_name(name), suite or bundle_policy.DEFAULT_DEBIAN_SUITE, deb_arch)
    return json.dumps({"app": name, "spec": spec, "user": app_images.NONROOT}, sort_keys=True)


def _app_name(name):
    if name not in app_images.APPS:
        raise ImagesError("unknown application image %r; known: %s" % (name, ", ".join(sorted(app_images.APPS))))
    return name


def app_recipe(repository, tag, goarch, packages, cache_recipe, suite, main, version):
    return _text([
        "image %s:%s %s" % (repository, tag, goarch),
        package_lines(packages),
        cache_recipe,
        "label version=%s source=Debian %s %s %s" % (tag, suite, main, version),
        "tool %s" % tool_words(*TREE_TOOLS),
    ])


def app_created_by(name, main, version, suite, packages):
    return "%s: %s %s of Debian %s and %d packages (hack/images/debian_apps.py)" % (
        name, main, version, suite, len(packages))


def app_labels(tag, suite, main, version):
    return ["%s=%s" % (VERSION_LABEL, tag), "%s=Debian %s %s %s" % (SOURCE_LABEL, suite, main, version)]


def app_own_files(spec):
    """[(dest, file name under the child's files/, text)] the project adds to an application."""
    return [("/" + dest.strip("/"), dest.replace("/", "_"), text) for dest, text in sorted(spec.get("files", {}).items())]


def app_layer_extras(spec):
    """(links, dirs) a recipe adds to the files it takes."""
    links = [("/" + dest.strip("/"), target) for dest, target in sorted(spec.get("links", {}).items())]
    dirs = []
    for item in spec.get("dirs", []):
        dest, _sep, mode = item.partition(":")
        dirs.append(("/" + dest.strip("/"), int(mode or "755", 8)))
    return links, dirs


def app_config_fields(spec):
    """entrypoint, cmd, user, workdir, env and expose of an application child."""
    return {"entrypoint": spec.get("entrypoint") or None, "cmd": spec.get("cmd") or None,
            "user": app_images.NONROOT, "workdir": spec.get("workdir", "/"),
            "env": list(spec.get("env", [])), "expose": list(spec.get("expose", []))}


# --- publishing -------------------------------------------------------------------------------

def index_specs(built, image_set, pause_aliases):
    """image_manifest's ``indexes`` for the children pushed as ``<name>:<tag>-<goarch>``: one
    index per name and tag (and per pause alias), every pushed platform required. An
    application's children come from Debian suites of their own: one version per tag."""
    images = {}
    for name, tag, goarch in built:
        images.setdefault((name, tag), []).append(goarch)
    indexes = []
    for (name, tag), goarches in sorted(images.items()):
        tags = [tag] + [a for a in (pause_aliases if name == PAUSE else []) if a != tag]
        for published in tags:
            index = {"repository": name, "tag": published,
                     "sources": [{"ref": "%s-%s" % (tag, g), "platform": g} for g in goarches],
                     "required_platforms": list(goarches),
                     "annotations": {VERSION_LABEL: published}}
            if image_set == "apps":
                index["same_label"] = VERSION_LABEL
            indexes.append(index)
    return indexes
