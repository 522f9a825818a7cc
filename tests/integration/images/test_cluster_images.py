"""The cluster images built here (hack/images.sh), pushed to a real registry and pulled by
containerd the way a node pulls its sandbox image from Harbor.

``hack/images.sh build`` builds (or finds cached) pause, CoreDNS and busybox for every lab
GOARCH (amd64, arm64, loong64, mips64le); ``hack/images.sh push`` sends them to the session's
TLS + htpasswd registry (fixtures_registry) and publishes the multi-architecture indexes with
xinchuang.cloud.image_manifest. Every child of every built layout and of every published index
is checked by its bytes (tests/proof/images.py: config platform = index entry, ELF machine of
the program it runs = that platform), and a pushed index with a lying child is seen to fail.
The application images of Debian packages (``XC_IMAGES_SET=apps``: nginx, redis, memcached, fio
of plugins/module_utils/images/app_images.py) get the same checks, and containerd runs each child's program
(foreign ones under binfmt), which proves that every library it links is in the image.
skopeo reads the indexes back; a containerd 2.x of the bundle (fixtures_containerd), with its
own root and socket, pulls ``library/pause:3.10.1`` through a certs.d hosts.toml with the
registry's CA and credentials, runs it (pause runs until killed), runs CoreDNS's ``-version``,
and runs busybox's ``sh`` and ``sleep`` by name from each architecture's child (foreign ones
under the machine's binfmt handlers, which the lab stage registers).
"""

import base64
import io
import json
import os
import posixpath
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.images import app_images
from ansible_collections.xinchuang.cloud.plugins.module_utils.images import oci_layout
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import manifest_index as mi
from tests.integration.ansible_run import ROOT
from tests.integration.fixtures_containerd import ContainerdProcess, host_goarch
from tests import sample_war as sample_war_app
from tests.proof import elf
from tests.proof import images as proof

pytestmark = pytest.mark.slow

FOREIGN = "arm64"
LAB_GOARCHES = ["amd64", "arm64", "loong64", "mips64le"]  # hack/images.sh's default
PAUSE = "library/pause"
COREDNS = "coredns/coredns"
BUSYBOX = "library/busybox"
PROVISIONER = "sig-storage/csi-provisioner"
TRAEFIK = "library/traefik"
FLANNEL = "flannel/flannel"
KUBE_ROUTER = "cloudnativelabs/kube-router"
IMAGES = (PAUSE, COREDNS, BUSYBOX, PROVISIONER, TRAEFIK, FLANNEL, KUBE_ROUTER)
# The static Go programs of the NFS storage images and of the Gateway API data plane: their
# entrypoints and users (the CSI ones root, as upstream's Dockerfiles; Traefik 65532).
STATIC_PROGRAMS = {PROVISIONER: ("/csi-provisioner", None), TRAEFIK: ("/traefik", "65532:65532")}
SANDBOX_TAG = "3.10.1"  # what the container_runtime role configures as sandbox image
TOOLBOX_TAG = "1.37.0"  # what the lab's tests and users pull (busybox of Debian trixie's source)


def model_uname(goarch):
    from ansible_collections.xinchuang.cloud.plugins.module_utils.model.arch import lookup
    return lookup(goarch).uname


def model_platform(goarch):
    from ansible_collections.xinchuang.cloud.plugins.module_utils.model.arch import lookup
    fam = lookup(goarch)
    return "linux/%s%s" % (fam.oci_arch, "/" + fam.oci_variant if fam.oci_variant else "")


def images_sh(*args, timeout=3600, image_set="cluster"):
    proc = subprocess.run([os.path.join(ROOT, "hack", "images.sh")] + list(args),
                          capture_output=True, text=True, cwd=ROOT, timeout=timeout, check=False,
                          env=dict(os.environ, XC_IMAGES_SET=image_set))
    if proc.returncode != 0:
        pytest.fail("hack/images.sh %s failed (exit %d):\n%s"
                    % (" ".join(args), proc.returncode, proc.stderr[-4000:]), pytrace=False)
    return proc


@pytest.fixture(scope="module")
def goarches():
    return [host_goarch()] + [g for g in LAB_GOARCHES if g != host_goarch()]


def build_set(goarches, image_set="cluster"):
    """{(name, goarch): (tag, digest, layout)} of `hack/images.sh build` of an image set."""
    out = {}
    for line in images_sh("build", *goarches, image_set=image_set).stdout.splitlines():
        name, tag, goarch, digest, layout = line.split("\t")
        out[(name, goarch)] = (tag, digest, layout)
    return out


def push_set(registry, goarches, pwdir, image_set="cluster"):
    """`hack/images.sh push` of an image set to the session's registry."""
    pwfile = pwdir / "password"
    pwfile.write_text(registry.password + "\n")
    return images_sh("push", registry.host, "--ca", registry.ca, "--username", registry.username,
                     "--password-file", str(pwfile), *goarches, image_set=image_set)


@pytest.fixture(scope="module")
def built(goarches):
    return build_set(goarches)


@pytest.fixture(scope="module")
def pushed(registry, built, goarches, tmp_path_factory):
    return push_set(registry, goarches, tmp_path_factory.mktemp("images"))


def skopeo_raw(registry, ref):
    proc = subprocess.run(["skopeo", "inspect", "--raw", "--cert-dir", registry.cert_dir]
                          + registry.skopeo_creds() + ["docker://%s/%s" % (registry.host, ref)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def platforms(index):
    out = {}
    for child in index["manifests"]:
        plat = child["platform"]
        key = "%s/%s%s" % (plat["os"], plat["architecture"],
                           "/" + plat["variant"] if plat.get("variant") else "")
        out[key] = child["digest"]
    return out


def test_build_gives_one_image_per_goarch_with_the_model_platform(built, goarches):
    for name in IMAGES:
        for goarch in goarches:
            assert (name, goarch) in built, "hack/images.sh build made no %s for %s" % (name, goarch)
            _tag, digest, layout = built[(name, goarch)]
            with open(os.path.join(layout, "index.json")) as fh:
                index = json.load(fh)
            assert platforms(index) == {model_platform(goarch): digest}


def test_build_again_is_cached_and_reproducible(built, goarches):
    again = images_sh("build", *goarches)
    assert "IMAGE " not in again.stderr, "a second build rebuilt:\n" + again.stderr
    for line in again.stdout.splitlines():
        name, tag, goarch, digest, layout = line.split("\t")
        assert built[(name, goarch)] == (tag, digest, layout)


def test_pause_tag_follows_upstream_and_the_sandbox_alias_exists(built, registry, pushed):
    tag = built[(PAUSE, host_goarch())][0]
    main = skopeo_raw(registry, "%s:%s" % (PAUSE, tag))
    alias = skopeo_raw(registry, "%s:%s" % (PAUSE, SANDBOX_TAG))
    assert platforms(main) == platforms(alias)


@pytest.mark.parametrize("name", IMAGES)
def test_index_lists_every_pushed_platform(name, built, registry, pushed, goarches):
    tag = built[(name, host_goarch())][0]
    index = skopeo_raw(registry, "%s:%s" % (name, tag))
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    want = dict((model_platform(g), built[(name, g)][1]) for g in goarches)
    assert platforms(index) == want
    # The per-architecture tags point at the same manifests.
    for goarch in goarches:
        child = skopeo_raw(registry, "%s:%s-%s" % (name, tag, goarch))
        assert child["mediaType"] == "application/vnd.oci.image.manifest.v1+json"


def test_push_again_writes_no_index(registry, built, pushed, goarches, tmp_path):
    """The indexes are reconciled by digest: a second push PUTs none of them again."""
    pwfile = tmp_path / "password"
    pwfile.write_text(registry.password)
    since = registry.tls.log_size()
    images_sh("push", registry.host, "--ca", registry.ca, "--username", registry.username,
              "--password-file", str(pwfile), *goarches)
    index_tags = ["%s/manifests/%s " % (PAUSE, t)
                  for t in (built[(PAUSE, goarches[0])][0], SANDBOX_TAG)]
    for name in (COREDNS, BUSYBOX) + tuple(sorted(STATIC_PROGRAMS)):
        index_tags.append("%s/manifests/%s " % (name, built[(name, goarches[0])][0]))
    lines = registry.tls.access_lines(since)
    assert lines, "the second push sent nothing"
    rewritten = [line for line in lines if '"PUT ' in line and any(t in line for t in index_tags)]
    assert rewritten == [], rewritten


# ---------------------------------------------------------------------------------------
# Each child is what its index says: config platform and ELF machine of its program
# ---------------------------------------------------------------------------------------

def published_indexes(pushed):
    """[(repository, tag, platforms, version)] of the INDEX lines of `hack/images.sh push`
    (``INDEX registry/name:tag digest platforms changed|unchanged [version=VALUE]``): version is
    the one the publisher read on every child (image_manifest same_label), or None."""
    out = []
    for line in pushed.stderr.splitlines():
        if line.startswith("INDEX "):
            fields = line.split()
            ref, _digest, platforms = fields[1:4]
            repository, tag = ref.split("/", 1)[1].rsplit(":", 1)
            versions = [f.split("=", 1)[1] for f in fields[5:] if f.startswith("version=")]
            out.append((repository, tag, platforms.split(","), versions[0] if versions else None))
    return out


def test_every_built_layout_is_a_true_child(built):
    problems = []
    for (name, goarch), (_tag, _digest, layout) in sorted(built.items()):
        problems += proof.index_problems(proof.LayoutBlobs(layout), proof.read_layout_index(layout),
                                         "%s (%s layout)" % (name, goarch))
    assert problems == []


def test_every_published_index_has_true_children_of_every_lab_architecture(registry, pushed, built):
    published = published_indexes(pushed)
    want = sorted(model_platform(g) for g in LAB_GOARCHES)
    tags = dict(((repository, tag), sorted(p)) for repository, tag, p, _version in published)
    for name in IMAGES:
        assert tags.get((name, built[(name, host_goarch())][0])) == want, published
    assert tags.get((PAUSE, SANDBOX_TAG)) == want and tags.get((BUSYBOX, TOOLBOX_TAG)) == want
    client = registry.client()
    problems = []
    for repository, tag, _platforms, _version in published:
        index = json.loads(client.get_manifest(mi.Reference(repository, tag=tag))["data"])
        problems += proof.index_problems(proof.RegistryBlobs(client, repository), index,
                                         "%s:%s" % (repository, tag))
    assert problems == []


def test_a_pushed_index_with_a_child_of_another_machine_is_named(registry, built, tmp_path):
    """An index whose arm64 entry holds the host's pause program: pushed, then checked."""
    native = built[(PAUSE, host_goarch())][2]
    lying = str(tmp_path / "lying")
    oci_layout.write_layout(lying, FOREIGN, "lying",
                            oci_layout.layer(files=[("/pause", os.path.join(native, "..", "pause"), 0o755)]),
                            oci_layout.image_config(entrypoint=["/pause"]))
    both = tmp_path / "both"
    shutil.copytree(native, str(both))
    for blob in os.listdir(os.path.join(lying, "blobs", "sha256")):
        shutil.copy(os.path.join(lying, "blobs", "sha256", blob), str(both / "blobs" / "sha256"))
    entries = proof.read_layout_index(native)["manifests"] + proof.read_layout_index(lying)["manifests"]
    for entry in entries:
        entry.pop("annotations", None)
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": entries}
    (both / "index.json").write_text(json.dumps({
        "schemaVersion": 2, "manifests": [{
            "mediaType": index["mediaType"], "digest": mi.digest_of(json.dumps(index).encode()),
            "size": len(json.dumps(index)), "annotations": {"org.opencontainers.image.ref.name": "lying"}}]}))
    (both / "blobs" / "sha256" / mi.digest_of(json.dumps(index).encode()).split(":")[1]).write_text(
        json.dumps(index))
    proc = subprocess.run(["skopeo", "copy", "--all", "--preserve-digests", "--quiet",
                           "--dest-cert-dir", registry.cert_dir, "--dest-creds",
                           "%s:%s" % (registry.username, registry.password),
                           "oci:%s:lying" % both, "docker://%s/xc-proof/pause:lying" % registry.host],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    client = registry.client()
    pushed_index = json.loads(client.get_manifest(mi.Reference("xc-proof/pause", tag="lying"))["data"])
    problems = proof.index_problems(proof.RegistryBlobs(client, "xc-proof/pause"), pushed_index,
                                    "xc-proof/pause:lying")
    assert len(problems) == 1, problems
    assert model_platform(FOREIGN) in problems[0]
    assert "/pause is a program of %s (ELF machine), not of %s" % (host_goarch(), FOREIGN) in problems[0]


# ---------------------------------------------------------------------------------------
# containerd pulls and runs them
# ---------------------------------------------------------------------------------------

def unmount_under(path):
    """Unmount whatever containerd left mounted below path (deepest first)."""
    with open("/proc/self/mounts") as fh:
        points = [line.split()[1] for line in fh]
    for point in sorted((p for p in points if p.startswith(path + "/")), reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


@pytest.fixture(scope="module")
def workdir():
    path = os.path.realpath(os.path.join("/var/tmp", "xc-images-test"))
    unmount_under(path)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    yield path
    unmount_under(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def node(workdir, containerd_bundle, registry, pushed):
    """A containerd of the bundle with its own paths, and certs.d for the test registry."""
    _root, _version, bundle_dir = containerd_bundle
    bin_dir = os.path.join(bundle_dir, "bin")
    certs_d = os.path.join(workdir, "certs.d")
    host_dir = os.path.join(certs_d, registry.host)
    os.makedirs(host_dir)
    auth = base64.b64encode(("%s:%s" % (registry.username, registry.password)).encode()).decode()
    with open(os.path.join(host_dir, "hosts.toml"), "w") as fh:
        fh.write('server = "https://%s"\n\n[host."https://%s"]\n'
                 '  capabilities = ["pull", "resolve"]\n  ca = "%s"\n'
                 '  [host."https://%s".header]\n    Authorization = "Basic %s"\n'
                 % (registry.host, registry.host, registry.ca, registry.host, auth))
    sock = os.path.join(workdir, "run", "containerd.sock")
    config = os.path.join(workdir, "config.toml")
    with open(config, "w") as fh:
        fh.write("\n".join([
            "version = 3",
            'root = "%s"' % os.path.join(workdir, "root"),
            'state = "%s"' % os.path.join(workdir, "run"),
            # The host's containerd may own NRI's socket; CRI is not what this test drives.
            'disabled_plugins = ["io.containerd.nri.v1.nri", "io.containerd.grpc.v1.cri", '
            '"io.containerd.cri.v1.runtime", "io.containerd.cri.v1.images"]',
            "[grpc]",
            '  address = "%s"' % sock,
            "[ttrpc]",
            '  address = "%s"' % (sock + ".ttrpc"),
            "[debug]",
            '  address = "%s"' % (sock + ".debug"),
        ]) + "\n")
    # The shim and runc are found on PATH, beside containerd in the bundle.
    old_path = os.environ["PATH"]
    os.environ["PATH"] = bin_dir + os.pathsep + old_path
    proc = ContainerdProcess(os.path.join(bin_dir, "containerd"), config, sock,
                             os.path.join(workdir, "containerd.log"))
    try:
        proc.start()
        yield {"bin": bin_dir, "sock": sock, "certs_d": certs_d, "proc": proc}
    finally:
        proc.stop()
        os.environ["PATH"] = old_path


def ctr(node, *args, check=True, timeout=300):
    proc = subprocess.run([os.path.join(node["bin"], "ctr"), "--address", node["sock"]]
                          + list(args), capture_output=True, text=True, timeout=timeout,
                          check=False)
    if check:
        assert proc.returncode == 0, "ctr %s failed:\n%s%s\ncontainerd log:\n%s" % (
            " ".join(args), proc.stdout, proc.stderr, node["proc"].log_tail())
    return proc


def running_task(node, name):
    """The host PID of container NAME's task once it runs."""
    for _attempt in range(50):
        rows = [line.split() for line in ctr(node, "tasks", "ls").stdout.splitlines() if line.startswith(name)]
        if rows and rows[0][2] == "RUNNING":
            return rows[0][1]
        time.sleep(0.2)
    raise AssertionError("no running task %s: %s" % (name, ctr(node, "tasks", "ls").stdout))


def remove_task(node, name):
    ctr(node, "tasks", "kill", "--signal", "SIGKILL", name, check=False)
    for _attempt in range(50):
        if ctr(node, "tasks", "rm", name, check=False).returncode == 0:
            break
        time.sleep(0.2)
    ctr(node, "containers", "rm", name, check=False)


def task_uid(pid):
    """The real user ID of the task whose host PID is PID (its /proc status)."""
    with open("/proc/%s/status" % pid) as fh:
        return [line.split()[1] for line in fh if line.startswith("Uid:")][0]


def test_containerd_pulls_and_runs_pause_from_the_registry(node, registry, built):
    ref = "%s/%s:%s" % (registry.host, PAUSE, SANDBOX_TAG)
    since = registry.tls.log_size()
    ctr(node, "images", "pull", "--hosts-dir", node["certs_d"], ref)
    assert any("/v2/%s/manifests/%s" % (PAUSE, SANDBOX_TAG) in line and '" 200 ' in line
               for line in registry.tls.access_lines(since))
    listed = ctr(node, "images", "ls").stdout
    assert ref in listed, listed

    ctr(node, "run", "--detach", ref, "xc-pause")
    try:
        pid = running_task(node, "xc-pause")
        # Still running a moment later: pause waits for a signal, it does not exit.
        time.sleep(1)
        assert "RUNNING" in ctr(node, "tasks", "ls").stdout
        assert task_uid(pid) == "65535"  # the image's USER
    finally:
        remove_task(node, "xc-pause")


def test_containerd_runs_the_coredns_image(node, registry, built):
    tag = built[(COREDNS, host_goarch())][0]
    ref = "%s/%s:%s" % (registry.host, COREDNS, tag)
    ctr(node, "images", "pull", "--hosts-dir", node["certs_d"], ref)
    out = ctr(node, "run", "--rm", ref, "xc-coredns", "/coredns", "-version").stdout
    assert "CoreDNS-" + tag.lstrip("v") in out, out


def layer_links(layout):
    """{name: target} of the symbolic links in /bin of a built single-layer image."""
    blobs, manifest = proof.layout_manifest(layout)
    data = blobs.blob(manifest["layers"][0]["digest"])
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return dict((m.name.split("/", 1)[1], m.linkname) for m in tar.getmembers()
                    if m.issym() and m.name.startswith("bin/"))


@pytest.mark.parametrize("goarch", LAB_GOARCHES)
def test_containerd_runs_busybox_applets_by_name(node, registry, built, goarch):
    """`sh` and `sleep` by name from each child (kubectl run -- sleep 5), and the links are the
    applets the binary itself lists."""
    tag, _digest, layout = built[(BUSYBOX, goarch)]
    assert tag == TOOLBOX_TAG
    ref = "%s/%s:%s" % (registry.host, BUSYBOX, tag)
    platform = model_platform(goarch)
    ctr(node, "images", "pull", "--platform", platform, "--hosts-dir", node["certs_d"], ref)
    name = "xc-busybox-" + goarch
    out = ctr(node, "run", "--rm", "--platform", platform, ref, name,
              "sh", "-c", "sleep 0 && echo slept && busybox --list").stdout.splitlines()
    assert out[0] == "slept", out[:3]
    listed = set(out[1:]) - {"busybox"}
    links = layer_links(layout)
    assert set(links) == listed and set(links.values()) == {"busybox"}
    out = ctr(node, "run", "--rm", "--platform", platform, ref, name + "-sleep", "sleep", "0")
    assert out.returncode == 0


@pytest.mark.parametrize("goarch", LAB_GOARCHES)
def test_busybox_of_every_child_is_the_tagged_version_and_its_wget_timeout_works(node, registry, built, goarch):
    """Each child holds busybox of the tag's version (one tag, one version), and `wget -T N`
    works (Debian's bookworm build, the only one for mips64el, crashed on -T with SIGSEGV:
    issue 34): the child serves a page with its httpd on the host's loopback and fetches it
    with -T N, -TN and --timeout=N; a server that accepts and never answers is given up
    after N seconds (wget's own status 1, not a crash's 139)."""
    tag = built[(BUSYBOX, goarch)][0]
    ref = "%s/%s:%s" % (registry.host, BUSYBOX, tag)
    platform = model_platform(goarch)
    ctr(node, "images", "pull", "--platform", platform, "--hosts-dir", node["certs_d"], ref)
    with socket.socket() as free, socket.socket() as silent:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
        free.close()
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # accepts, never answers
        script = ("busybox | head -n 1 | cut -d' ' -f2; "
                  "mkdir -p /tmp/www && echo page-of-$(uname -m) >/tmp/www/index.html "
                  "&& httpd -p 127.0.0.1:{port} -h /tmp/www "
                  "&& wget -T 10 -q -O - http://127.0.0.1:{port}/ "
                  "&& wget -T10 -q -O - http://127.0.0.1:{port}/ "
                  "&& wget --timeout=10 -q -O - http://127.0.0.1:{port}/; echo rc=$?; "
                  "start=$(date +%s); wget -T 2 -q -O - http://127.0.0.1:{silent}/; echo rc=$?; "
                  "echo waited=$(( $(date +%s) - start ))").format(port=port, silent=silent.getsockname()[1])
        out = ctr(node, "run", "--rm", "--net-host", "--platform", platform, ref,
                  "xc-busybox-wget-" + goarch, "sh", "-c", script, timeout=120).stdout.split()
    page = "page-of-" + model_uname(goarch)
    assert out[:6] == ["v" + tag, page, page, page, "rc=0", "rc=1"], out
    # Given up by its timeout (2 s, under emulation a little more), not by the test's.
    assert out[6].startswith("waited=") and 2 <= int(out[6].split("=")[1]) <= 30, out


def test_containerd_pulls_and_unpacks_the_foreign_platform(node, registry, built):
    ref = "%s/%s:%s" % (registry.host, PAUSE, SANDBOX_TAG)
    platform = model_platform(FOREIGN)
    ctr(node, "images", "pull", "--platform", platform, "--hosts-dir", node["certs_d"], ref)
    check = ctr(node, "images", "check").stdout
    line = [row for row in check.splitlines() if row.startswith(ref)]
    assert line and "complete" in line[0], check

    # The foreign child's manifest, config and layer are in the content store ...
    manifest = json.loads(ctr(node, "content", "get", built[(PAUSE, FOREIGN)][1]).stdout)
    config = json.loads(ctr(node, "content", "get", manifest["config"]["digest"]).stdout)
    assert model_platform(FOREIGN) == "/".join(
        p for p in ("linux", config["architecture"], config.get("variant")) if p)
    # ... and unpacked: one layer, so its snapshot is named by the layer's diff ID.
    snapshots = ctr(node, "snapshots", "ls").stdout
    assert config["rootfs"]["diff_ids"][0] in snapshots, snapshots

    # The layer holds a pause program of another machine (ELF e_machine) than the host's.
    layer = subprocess.run([os.path.join(node["bin"], "ctr"), "--address", node["sock"],
                            "content", "get", manifest["layers"][0]["digest"]],
                           capture_output=True, timeout=60, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(layer), mode="r:gz") as tar:
        member = tar.getmember("pause")
        assert (member.uid, member.mode) == (0, 0o755)
        foreign = tar.extractfile(member).read(20)
    with open(os.path.join(built[(PAUSE, host_goarch())][2], "..", "pause"), "rb") as fh:
        native = fh.read(20)
    assert foreign[:4] == native[:4] == b"\x7fELF"
    assert foreign[18:20] != native[18:20]


# ---------------------------------------------------------------------------------------
# The NFS storage images: CSI programs, and the node plugin's mount and mount.nfs
# ---------------------------------------------------------------------------------------

def layout_layer(layout):
    """(config, {path: (TarInfo, bytes or None)}) of a built single-layer image."""
    blobs, manifest = proof.layout_manifest(layout)
    config = json.loads(blobs.blob(manifest["config"]["digest"]))
    members = {}
    with tarfile.open(fileobj=io.BytesIO(blobs.blob(manifest["layers"][0]["digest"])), mode="r:gz") as tar:
        for member in tar.getmembers():
            data = tar.extractfile(member).read() if member.isreg() else None
            members[member.name.rstrip("/")] = (member, data)
    return config, members


@pytest.mark.parametrize("name", sorted(STATIC_PROGRAMS))
def test_static_program_images_run_their_program_of_each_goarch(name, built, goarches, tmp_path):
    for goarch in goarches:
        _tag, _digest, layout = built[(name, goarch)]
        config, members = layout_layer(layout)
        entrypoint, user = STATIC_PROGRAMS[name]
        assert config["config"]["Entrypoint"] == [entrypoint]
        assert config["config"].get("User") == user  # None: root, as upstream's distroless/static base
        member, data = members[entrypoint.lstrip("/")]
        assert member.isreg() and member.mode == 0o755, (name, goarch)
        assert elf.goarch_of_bytes(data, "%s of %s" % (entrypoint, goarch)) == goarch
        # Static, like upstream's CGO_ENABLED=0 builds: no program interpreter, no library.
        assert readelf(data, tmp_path) == (None, []), (name, goarch)
        assert "etc/ssl/certs/ca-certificates.crt" in members


def test_containerd_runs_the_csi_provisioner_image(node, registry, built):
    tag = built[(PROVISIONER, host_goarch())][0]
    ref = "%s/%s:%s" % (registry.host, PROVISIONER, tag)
    ctr(node, "images", "pull", "--hosts-dir", node["certs_d"], ref)
    out = ctr(node, "run", "--rm", ref, "xc-csi-provisioner", "/csi-provisioner", "--version").stdout
    assert out.split() == ["/csi-provisioner", tag], out


def test_containerd_runs_the_traefik_image_of_the_tables_version(node, registry, built):
    tag = built[(TRAEFIK, host_goarch())][0]
    ref = "%s/%s:%s" % (registry.host, TRAEFIK, tag)
    ctr(node, "images", "pull", "--hosts-dir", node["certs_d"], ref)
    out = ctr(node, "run", "--rm", ref, "xc-traefik", "/traefik", "version").stdout
    assert re.search(r"^Version:\s+%s$" % re.escape(tag.lstrip("v")), out, re.M), out


NFS_PROGRAMS = ("usr/bin/mount", "usr/sbin/mount.nfs")


@pytest.fixture(scope="module")
def nfs_tools(goarches, tmp_path_factory):
    """{goarch: {path: (TarInfo, bytes)}} of `hack/images.sh nfs-tools GOARCH OUT`."""
    out = {}
    for goarch in goarches:
        layout = str(tmp_path_factory.mktemp("nfs-tools") / goarch)
        images_sh("nfs-tools", goarch, layout)
        config, members = layout_layer(layout)
        assert proof.platform_text(config) == model_platform(goarch)
        out[goarch] = members
    return out


def resolve(members, path):
    """The regular file a path of the layer names, through its symbolic links (absolute ones
    from the layer's root, as in a container), or None."""
    final = follow(members, path)
    member = members.get(final, (None, None))[0]
    return final if member is not None and member.isreg() else None


def dangling_links(members):
    """The symbolic links of the layer whose target (through further links) is neither a file
    nor a directory of the layer."""
    dirs = set()
    for name in members:
        while "/" in name:
            name = name.rsplit("/", 1)[0]
            dirs.add(name)
    return sorted(path for path, (member, _data) in members.items()
                  if member.issym() and follow(members, path) not in set(members) | dirs)


def follow(members, path):
    """The path of the layer a path names once its symbolic links are followed, or None (a loop)."""
    parts, seen = path.strip("/").split("/"), 0
    done = []
    while parts:
        part = parts.pop(0)
        current = "/".join(done + [part])
        member = members.get(current, (None, None))[0]
        if member is not None and member.issym():
            seen += 1
            if seen > 40:
                return None
            target = member.linkname
            base = [] if target.startswith("/") else done
            parts = posixpath.normpath("/".join(base + [target.lstrip("/")])).split("/") + parts
            done = []
            continue
        done.append(part)
    return "/".join(done)


def readelf(data, tmp_path, runpath=False):
    """(interpreter or None, [NEEDED]) of an ELF file, by `readelf -d -l` (nothing is run);
    with runpath, also its RUNPATH/RPATH directories."""
    path = tmp_path / "elf"
    path.write_bytes(data)
    proc = subprocess.run(["readelf", "-W", "-d", "-l", str(path)], capture_output=True, text=True,
                          timeout=60, check=True)
    interp = re.search(r"\[Requesting program interpreter: ([^\]]+)\]", proc.stdout)
    out = (interp.group(1) if interp else None,
           re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", proc.stdout))
    if runpath:
        paths = re.findall(r"\((?:RUNPATH|RPATH)\)\s+Library r(?:un)?path: \[([^\]]+)\]", proc.stdout)
        out += ([d for p in paths for d in p.split(":")],)
    return out


def library_dirs(goarch):
    """Where the dynamic loader of Debian's glibc looks without ld.so.cache: the multiarch
    directories of the architecture's GNU triplet (from its dpkg architecture), then lib."""
    from ansible_collections.xinchuang.cloud.plugins.module_utils.model.arch import lookup
    triplet = subprocess.run(["dpkg-architecture", "-a", lookup(goarch).deb_arch, "-qDEB_HOST_MULTIARCH"],
                             capture_output=True, text=True, check=True).stdout.strip()
    return ["lib/" + triplet, "usr/lib/" + triplet, "lib", "usr/lib", "lib64", "usr/lib64"]


def missing_libraries(members, goarch, tmp_path, preloaded=()):
    """[(file, what is missing)] over every ELF file of the layer, and its program interpreter.
    ``preloaded``: paths of the layer a program loads by path before the libraries that need
    them (the java launcher's lib/server/libjvm.so), which the loader then finds by soname."""
    dirs, problems = library_dirs(goarch), []
    loaded = set(posixpath.basename(path) for path in preloaded if resolve(members, path))
    for path, (member, data) in sorted(members.items()):
        if not member.isreg() or not data.startswith(b"\x7fELF"):
            continue
        interp, needed, runpath = readelf(data, tmp_path, runpath=True)
        if interp and not resolve(members, interp):
            problems.append((path, "interpreter " + interp))
        # glibc's gconv modules find their helpers through RUNPATH $ORIGIN.
        own = [posixpath.normpath(d.replace("$ORIGIN", posixpath.dirname(path))).lstrip("/") for d in runpath]
        for lib in needed:
            if lib not in loaded and not any(resolve(members, d + "/" + lib) for d in own + dirs):
                problems.append((path, lib))
    return problems


@pytest.mark.parametrize("goarch", LAB_GOARCHES)
def test_nfs_tools_are_programs_of_the_goarch(nfs_tools, goarch):
    members = nfs_tools[goarch]
    for program in NFS_PROGRAMS + ("bin/mount", "sbin/mount.nfs", "sbin/mount.nfs4"):
        real = resolve(members, program)
        assert real, "%s: no %s in the layer" % (goarch, program)
        data = members[real][1]
        assert elf.goarch_of_bytes(data, "%s of %s" % (program, goarch)) == goarch
    for config in ("etc/netconfig", "etc/services", "etc/protocols"):
        assert resolve(members, config), (goarch, config)


@pytest.mark.parametrize("goarch", LAB_GOARCHES)
def test_nfs_tools_layer_holds_every_library_its_programs_need(nfs_tools, goarch, tmp_path):
    """mount.nfs of arm64 is an aarch64 ELF whose NEEDED libraries (and theirs, and every
    program interpreter) are in the layer: nothing of the host is used."""
    members = nfs_tools[goarch]
    mount_nfs = members[resolve(members, "sbin/mount.nfs")][1]
    interp, needed = readelf(mount_nfs, tmp_path)
    assert interp and "libtirpc.so.3" in needed and "libmount.so.1" in needed, (interp, needed)
    assert missing_libraries(members, goarch, tmp_path) == []


def test_a_layer_without_a_library_is_named(nfs_tools, tmp_path):
    members = dict(nfs_tools[FOREIGN])
    lib = resolve(members, "usr/lib/aarch64-linux-gnu/libtirpc.so.3")
    assert lib
    del members[lib]
    problems = missing_libraries(members, FOREIGN, tmp_path)
    assert ("usr/sbin/mount.nfs", "libtirpc.so.3") in problems


# ---------------------------------------------------------------------------------------
# The Pod network's image: flanneld with the iptables and nft it runs
# ---------------------------------------------------------------------------------------

# The names flanneld and kube-router (github.com/coreos/go-iptables) and an operator call, as
# upstream's images have them.
XTABLES = ("iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save", "ip6tables-restore")
# The Pod network's images: (repository, the program, the other tool it runs beside iptables,
# that tool's --version line).
NETFILTER_DAEMONS = {
    "flannel": (FLANNEL, "opt/bin/flanneld", "usr/sbin/nft", r"^nftables v\d+\.\d+"),
    "kube-router": (KUBE_ROUTER, "usr/local/bin/kube-router", "usr/sbin/ipset", r"^ipset v\d+\.\d+"),
}
NETFILTER_CASES = [(d, g) for d in sorted(NETFILTER_DAEMONS) for g in LAB_GOARCHES]
NETFILTER_IDS = ["%s-%s" % case for case in NETFILTER_CASES]


@pytest.mark.parametrize("daemon,goarch", NETFILTER_CASES, ids=NETFILTER_IDS)
def test_each_network_child_holds_its_program_iptables_and_its_tool_of_its_architecture(built, daemon, goarch, tmp_path):
    """flanneld and kube-router built from upstream source (static, as upstream's CGO_ENABLED=0
    builds), and iptables (nf_tables) with nft or ipset of the child's Debian suite, each machine
    code of the child's architecture, every library they and iptables' extensions link in the layer."""
    name, program, tool, _version = NETFILTER_DAEMONS[daemon]
    tag, _digest, layout = built[(name, goarch)]
    config, members = layout_layer(layout)
    assert proof.platform_text(config) == model_platform(goarch)
    assert config["config"]["Entrypoint"] == ["/" + program]
    assert config["config"].get("User") is None  # root: it sets up the node's network
    assert config["config"]["Labels"]["org.opencontainers.image.version"] == tag
    member, data = members[program]
    assert member.isreg() and member.mode == 0o755
    assert elf.goarch_of_bytes(data, "%s of %s" % (program, goarch)) == goarch
    assert readelf(data, tmp_path) == (None, [])
    for path in tuple("usr/sbin/" + x for x in XTABLES) + (tool, "sbin/iptables"):
        real = resolve(members, path)
        assert real, "%s: no %s in the layer" % (goarch, path)
        assert elf.goarch_of_bytes(members[real][1], "%s of %s" % (path, goarch)) == goarch
    assert resolve(members, "usr/sbin/iptables") == "usr/sbin/xtables-nft-multi"
    extensions = [path for path in members if re.search(r"/xtables/libxt_MASQUERADE\.so$", path)]
    assert extensions, "%s: no iptables extensions (MASQUERADE) in the layer" % goarch
    assert missing_libraries(members, goarch, tmp_path) == []


@pytest.mark.parametrize("daemon,goarch", NETFILTER_CASES, ids=NETFILTER_IDS)
def test_containerd_runs_the_program_of_each_network_child_and_iptables_and_its_tool_of_this_machines(
        node, registry, built, pushed, daemon, goarch):
    """Each child of the published index, pulled by its platform and run under containerd: the
    program says the table's version. iptables (nf_tables), nft and ipset open a netlink socket
    even for --version, which user-mode emulation does not carry ("Protocol not supported"), so
    they run in this machine's child only, by name through the image's PATH as the program finds
    them; the foreign children's are proven by their ELF machine and libraries (above). (The
    architecture of every child is proven by the ELF machine; foreign ones run through binfmt.)"""
    name, program, tool, tool_version = NETFILTER_DAEMONS[daemon]
    tag = built[(name, goarch)][0]
    ref = "%s/%s:%s" % (registry.host, name, tag)
    platform = model_platform(goarch)
    ctr(node, "images", "pull", "--platform", platform, "--hosts-dir", node["certs_d"], ref)
    commands = [["/" + program, "--version"]]
    if goarch == host_goarch():
        commands += [["iptables", "--version"], [os.path.basename(tool), "--version"]]
    printed = []
    for i, argv in enumerate(commands):
        # ipset --version asks the kernel for its protocol too: NET_ADMIN in the task's own namespace.
        caps = ["--cap-add", "CAP_NET_ADMIN"] if i else []
        out = ctr(node, "run", "--rm", "--platform", platform, *caps, ref, "xc-%s-%s-%d" % (daemon, goarch, i), *argv)
        printed.append(out.stdout + out.stderr)  # flanneld prints its version on stderr
    # kube-router: "Running /usr/local/bin/kube-router version v2.1.0, built on ..."
    assert tag in re.split(r"[\s,]+", printed[0]), printed[0][-500:]
    if goarch == host_goarch():
        assert re.search(r"^iptables v1\.8\.\d+ \(nf_tables\)$", printed[1], re.M), printed[1][-500:]
        assert re.search(tool_version, printed[2], re.M), printed[2][-500:]


# ---------------------------------------------------------------------------------------
# The application images of Debian packages (XC_IMAGES_SET=apps)
# ---------------------------------------------------------------------------------------

# name: (repository, the arguments that print its version). plugins/module_utils/images/app_images.py
# is the builder's table; this one is written independently, so a renamed or lost image fails here.
APPS = {
    "nginx": ("appstore/nginx", ["/usr/sbin/nginx", "-v"]),
    "redis": ("appstore/redis", ["/usr/bin/redis-server", "--version"]),
    "memcached": ("appstore/memcached", ["/usr/bin/memcached", "-V"]),
    "etcd": ("appstore/etcd", ["/usr/bin/etcd", "--version"]),
    "influxdb": ("appstore/influxdb", ["/usr/bin/influxd", "version"]),
    # Through the image's link, which the chart and the kingbase role start it by (any major).
    "postgresql": ("appstore/postgresql", ["/usr/bin/postgres", "--version"]),
    "fio": ("xinchuang/fio", ["/usr/bin/fio", "--version"]),
    # Erlang's emulator (+V: its version, before BEAM's JIT, which crashes under qemu-user), then
    # the server's directory, named with its version.
    "rabbitmq": ("appstore/rabbitmq", ["/bin/sh", "-c", "erl +V && echo /usr/lib/rabbitmq/lib/rabbitmq_server-*"]),
    # What Tomcat's version.sh runs: its ServerInfo on the image's JVM.
    "tomcat": ("appstore/tomcat", ["/usr/bin/java", "-classpath", "/usr/share/tomcat/lib/*",
                                   "org.apache.catalina.util.ServerInfo"]),
}
APP_USER = "65532:65532"
# The library a program of the image loads by its path before the libraries that need it: the
# java launcher dlopens the JVM of lib/server (the JRE's other libraries name libjvm.so, with
# no RUNPATH that finds it).
PRELOADED = {"tomcat": r"^usr/lib/jvm/java-17-openjdk-[^/]+/lib/server/libjvm\.so$"}


@pytest.fixture(scope="module")
def apps_built(goarches):
    return build_set(goarches, "apps")


@pytest.fixture(scope="module")
def apps_pushed(registry, apps_built, goarches, tmp_path_factory):
    return push_set(registry, goarches, tmp_path_factory.mktemp("apps"), "apps")


VERSION_LABEL = "org.opencontainers.image.version"


def test_every_application_image_is_built_for_every_lab_architecture_as_a_user_other_than_root(apps_built):
    for repository, _version in APPS.values():
        assert sorted(g for r, g in apps_built if r == repository) == sorted(LAB_GOARCHES), repository
        for goarch in LAB_GOARCHES:
            assert (repository, goarch) in apps_built, "no %s for %s" % (repository, goarch)
            tag, _digest, layout = apps_built[(repository, goarch)]
            config = proof.layout_config(layout)
            assert config["config"]["User"] == APP_USER, (repository, goarch)
            # The tag is the version the child holds (its Debian package's, in the source label).
            labels = config["config"]["Labels"]
            assert labels[VERSION_LABEL] == tag, (repository, goarch, labels)
            debian_version = labels["org.opencontainers.image.source"].split()[-1]
            # The tag rule of the build (influxdb 1.6.7~rc0-1: tag 1.6.7-rc0).
            assert app_images.upstream_version(debian_version) == tag, (repository, goarch, labels)


def test_every_published_application_tag_runs_one_version_on_every_child(registry, apps_pushed, apps_built):
    """One index per version: every child of a tag carries that version in its config (read
    from the registry), and the tags of a repository together cover every lab architecture,
    each architecture under the tag of the version it holds."""
    published = published_indexes(apps_pushed)
    client = registry.client()
    problems = []
    for repository, _version in APPS.values():
        indexes = [(tag, platforms) for name, tag, platforms, _version in published if name == repository]
        covered = sorted(p for _tag, platforms in indexes for p in platforms)
        assert covered == sorted(model_platform(g) for g in LAB_GOARCHES), (repository, indexes)
        for goarch in LAB_GOARCHES:
            tag = apps_built[(repository, goarch)][0]
            assert model_platform(goarch) in dict(indexes)[tag], (repository, goarch, indexes)
        for tag, _platforms in indexes:
            blobs = proof.RegistryBlobs(client, repository)
            index = json.loads(client.get_manifest(mi.Reference(repository, tag=tag))["data"])
            problems += proof.index_problems(blobs, index, "%s:%s" % (repository, tag))
            for child in index["manifests"]:
                config = json.loads(blobs.blob(json.loads(blobs.manifest(child["digest"]))["config"]["digest"]))
                assert config["config"]["Labels"][VERSION_LABEL] == tag, (repository, tag, child["platform"])
            # The publisher read every child's label (image_manifest same_label) and says its value.
            checked = [v for name, t, _p, v in published if (name, t) == (repository, tag)]
            assert checked == [tag], (repository, tag, published)
    assert problems == []


APP_CHILDREN = [(app, goarch) for app in sorted(APPS) for goarch in LAB_GOARCHES]


@pytest.mark.parametrize("app, goarch", APP_CHILDREN)
def test_each_application_child_holds_every_library_its_programs_and_modules_link(apps_built, app, goarch, tmp_path):
    """Every ELF file of the child (PostgreSQL's modules too, which the server loads later)
    finds each library it needs, and its interpreter, in the image; its program (through the
    image's links: Tomcat's /usr/bin/java) is machine code of the child's architecture, and no
    link of the image points at nothing."""
    _config, members = layout_layer(apps_built[(APPS[app][0], goarch)][2])
    preloaded = [path for path in members if re.match(PRELOADED.get(app, "^$"), path)]
    assert len(preloaded) == (1 if app in PRELOADED else 0), (app, goarch, preloaded)
    assert missing_libraries(members, goarch, tmp_path, preloaded) == []
    program = APPS[app][1][0]
    real = resolve(members, program)
    assert real, "%s %s: no %s in the layer" % (app, goarch, program)
    assert elf.goarch_of_bytes(members[real][1], "%s of %s %s" % (program, app, goarch)) == goarch
    assert dangling_links(members) == []


@pytest.mark.parametrize("app, goarch", APP_CHILDREN)
def test_containerd_runs_each_application_child_with_every_library_it_links(
        node, registry, apps_built, apps_pushed, app, goarch):
    repository, version_args = APPS[app]
    tag, _digest, layout = apps_built[(repository, goarch)]
    ref = "%s/%s:%s" % (registry.host, repository, tag)
    platform = model_platform(goarch)
    ctr(node, "images", "pull", "--platform", platform, "--hosts-dir", node["certs_d"], ref)
    out = ctr(node, "run", "--rm", "--platform", platform, ref, "xc-%s-%s" % (app, goarch), *version_args)
    # nginx prints its version on stderr; a missing library would stop the loader before that.
    # The program of the tag's index for this platform runs the version the tag says.
    printed = out.stdout + out.stderr
    # A tag has "-" where Debian's upstream version has "~" (influxdb 1.6.7~rc0: tag 1.6.7-rc0).
    debian = proof.layout_config(layout)["config"]["Labels"]["org.opencontainers.image.source"].split()[-1]
    upstream = app_images.debian_upstream(debian)
    assert tag in printed or upstream in printed, (app, goarch, tag, upstream, printed[-500:])


HELLO_JSP = '<%@ page contentType="text/plain" %>six times seven is <%= 6 * 7 %> on <%= System.getProperty("os.arch") %>\n'


# AMQP 0-9-1's protocol header: a server answers it with connection.start (class 10, method 10),
# whose server-properties name the product and its version.
AMQP_HEADER = b"AMQP\x00\x00\x09\x01"
AMQP_ASK = ("import socket,sys\ns=socket.create_connection(('127.0.0.1',5672),5)\ns.sendall(%r)\ns.settimeout(5)\n"
            "data=b''\ntry:\n    while len(data)<8 or len(data)<int.from_bytes(data[3:7],'big')+8:\n"
            "        chunk=s.recv(4096)\n        if not chunk: break\n        data+=chunk\nexcept OSError: pass\n"
            "sys.stdout.buffer.write(data)\n" % AMQP_HEADER)


def test_the_rabbitmq_child_of_this_machine_answers_an_amqp_client(node, registry, apps_built, apps_pushed):
    """RabbitMQ of the image, as its entrypoint starts it (busybox's sh runs the launcher and
    erl; user 65532), under containerd in a network namespace of its own: an AMQP client's
    protocol header gets connection.start from the server, naming RabbitMQ and the tag's version
    (read from inside the task's namespace: nothing listens on the host)."""
    tag, _digest, _layout = apps_built[("appstore/rabbitmq", host_goarch())]
    ref = "%s/appstore/rabbitmq:%s" % (registry.host, tag)
    ctr(node, "images", "pull", "--hosts-dir", node["certs_d"], ref)
    name = "xc-rabbitmq-answers"
    ctr(node, "run", "--detach", ref, name)
    try:
        pid = running_task(node, name)
        reply = b""
        for _attempt in range(120):  # the node boots in a few seconds here
            proc = subprocess.run(["nsenter", "-t", pid, "-n", sys.executable, "-c", AMQP_ASK],
                                  capture_output=True, timeout=30, check=False)
            reply = proc.stdout
            if reply:
                break
            time.sleep(0.5)
        # A method frame (type 1) on channel 0 carrying connection.start (class 10, method 10).
        assert reply[:3] == b"\x01\x00\x00" and reply[7:11] == b"\x00\x0a\x00\x0a", reply[:64]
        assert b"RabbitMQ" in reply and tag.encode() in reply, reply
        assert task_uid(pid) == "65532"
    finally:
        remove_task(node, name)


def test_the_tomcat_child_of_this_machine_serves_its_page_and_compiles_a_jsp(
        node, registry, apps_built, apps_pushed, workdir):
    """Tomcat of the image, as its entrypoint starts it (user 65532, no shell), under containerd
    in a network namespace of its own: its ROOT page answers on 8080, and a JSP mounted into
    webapps/ is compiled by Jasper with the image's JDT and run on the image's JVM (read from
    inside the task's namespace: nothing listens on the host)."""
    goarch = host_goarch()
    tag, _digest, _layout = apps_built[("appstore/tomcat", goarch)]
    ref = "%s/appstore/tomcat:%s" % (registry.host, tag)
    webapp = os.path.join(workdir, "hello")
    os.makedirs(webapp, exist_ok=True)
    with open(os.path.join(webapp, "index.jsp"), "w") as fh:
        fh.write(HELLO_JSP)
    ctr(node, "images", "pull", "--hosts-dir", node["certs_d"], ref)
    name = "xc-tomcat-serves"
    ctr(node, "run", "--detach", "--mount",
        "type=bind,src=%s,dst=/var/lib/tomcat/webapps/hello,options=rbind:ro" % webapp, ref, name)
    try:
        pid = running_task(node, name)

        def get(path):
            return subprocess.run(["nsenter", "-t", pid, "-n", "curl", "-sS", "--max-time", "10",
                                   "-o", "-", "-w", "\n%{http_code}", "http://127.0.0.1:8080" + path],
                                  capture_output=True, text=True, timeout=30, check=False)

        page = None
        for _attempt in range(120):  # the JVM starts in a few seconds; JSP compilation on first use
            page = get("/")
            if page.returncode == 0 and page.stdout.endswith("\n200"):
                break
            time.sleep(0.5)
        assert page.stdout.endswith("\n200") and "Apache Tomcat" in page.stdout, (page.stdout, page.stderr)
        hello = get("/hello/")
        expected = "six times seven is 42 on %s" % {"amd64": "amd64", "arm64": "aarch64"}.get(goarch, goarch)
        assert hello.stdout.endswith("\n200") and expected in hello.stdout, (hello.stdout, hello.stderr)
        assert task_uid(pid) == "65532"
    finally:
        remove_task(node, name)


# --- An application on the app store's Tomcat (module app_image, issue 22) -----------------------
# The families the issue asks for (amd64, arm64, loong64); the base has mips64le too.
APP_FAMILIES = ["c86", "arm", "loongarch"]
APP_PLATFORMS = ["linux/amd64", "linux/arm64/v8", "linux/loong64"]


@pytest.fixture(scope="module")
def sample_war(workdir):
    """tests/fixtures/sample-war built with Maven (tests/sample_war.py)."""
    return sample_war_app.build(workdir)


def build_image_play(registry, extra_vars, check=False, diff=False):
    """playbooks/build_image.yml with the registry's credentials in app_registry_auth (a vars
    file, never the command line); the result of its app_image task."""
    from tests.integration.ansible_run import ansible_playbook

    extra = dict(extra_vars, ansible_python_interpreter=sys.executable,
                 app_registry_auth={"username": registry.username, "password": registry.password, "ca_path": registry.ca})
    report, proc = ansible_playbook(["-i", "localhost,", "-c", "local", "playbooks/build_image.yml"],
                                    check=check, diff=diff, extra_vars=extra, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert registry.password not in proc.stdout
    tasks = report["plays"][0]["tasks"]
    return [t["hosts"]["localhost"] for t in tasks if t["task"]["name"].endswith("Make and publish the image")][0]


def test_the_sample_war_is_one_image_of_each_family_on_tomcat_and_its_servlet_answers(
        node, registry, apps_built, apps_pushed, sample_war, workdir):
    """build_image.yml puts the WAR on the app store's Tomcat for C86, ARM and LoongArch: check
    mode writes nothing; each child is the Tomcat child of its platform (its layers) plus one
    layer holding the WAR's bytes at webapps/hello.war, and the java its entrypoint runs is
    machine code of the child's architecture (tests/proof/images.py); the WAR built again (a new
    file of the same bytes) gives the same image and writes nothing;
    this machine's child, started by its entrypoint under containerd, answers at the WAR's
    context path from the JVM of this machine."""
    from tests.integration.ansible_run import run_module

    image = "%s/apps/hello:1.0" % registry.host
    # No app_base: the playbook's default, the app store's Tomcat tags as hack/images.sh pushes them.
    play_vars = {"app_artifact": sample_war, "app_image": image, "app_families": APP_FAMILIES,
                 "app_revision": "sample"}
    client = registry.client()
    target = mi.parse_reference("apps/hello:1.0", registry=client.host)
    checked = build_image_play(registry, play_vars, check=True, diff=True)
    assert checked["changed"] is True and checked["writes"] == 0, checked
    assert checked["diff"] == {"before": {"digest": None},
                               "after": {"digest": checked["digest"], "platforms": APP_PLATFORMS}}, checked
    assert client.get_manifest(target) is None, "check mode wrote the tag"
    result = build_image_play(registry, play_vars)
    assert result["changed"] is True and result["context_path"] == "/hello" and result["port"] == 8080
    assert result["platforms"] == APP_PLATFORMS and result["digest"] == checked["digest"]
    bases = ["%s/appstore/tomcat:%s" % (registry.host, apps_built[("appstore/tomcat", goarch)][0])
             for goarch in ("amd64", "loong64")]
    # The sources built again (a new file, a later modification time): the same image, nothing written.
    rebuilt = sample_war_app.build(tempfile.mkdtemp(dir=workdir))
    assert os.stat(rebuilt).st_mtime != os.stat(sample_war).st_mtime
    again = run_module("xinchuang.cloud.app_image", dict(
        registry.auth_args(), artifact=rebuilt, base=bases, image=image, families=APP_FAMILIES, revision="sample"))
    assert again["changed"] is False and again["writes"] == 0 and again["digest"] == result["digest"], again

    index = json.loads(client.get_manifest(target)["data"])
    assert proof.index_problems(proof.RegistryBlobs(client, "apps/hello"), index, "apps/hello:1.0") == []
    base_children = {}
    for base in bases:
        base_index = json.loads(client.get_manifest(mi.parse_reference(base, registry=client.host))["data"])
        for entry in base_index["manifests"]:
            base_children.setdefault(entry["platform"]["architecture"], entry["digest"])
    with open(sample_war, "rb") as fh:
        war = fh.read()
    for child in index["manifests"]:
        goarch = child["platform"]["architecture"]
        doc = json.loads(client.get_manifest(mi.Reference("apps/hello", digest=child["digest"]))["data"])
        base = json.loads(client.get_manifest(mi.Reference("appstore/tomcat", digest=base_children[goarch]))["data"])
        assert [d["digest"] for d in doc["layers"]] == [d["digest"] for d in base["layers"]] + [result["layer_digest"]]
        config = json.loads(client.get_blob("apps/hello", doc["config"]["digest"], "config of " + goarch))
        assert config["config"]["Labels"]["org.opencontainers.image.revision"] == "sample", goarch
    layer = client.get_blob("apps/hello", result["layer_digest"], "the WAR's layer")
    with tarfile.open(fileobj=io.BytesIO(layer), mode="r:gz") as tar:
        assert tar.extractfile("var/lib/tomcat/webapps/hello.war").read() == war

    ctr(node, "images", "pull", "--hosts-dir", node["certs_d"], image)
    name = "xc-app-image-serves"
    ctr(node, "run", "--detach", image, name)
    try:
        pid = running_task(node, name)
        answer = None
        for _attempt in range(120):
            answer = subprocess.run(["nsenter", "-t", pid, "-n", "curl", "-sS", "--max-time", "10", "-o", "-", "-w",
                                     "\n%{http_code}", "http://127.0.0.1:8080" + sample_war_app.SERVLET],
                                    capture_output=True, text=True, timeout=30, check=False)
            if answer.returncode == 0 and answer.stdout.endswith("\n200"):
                break
            time.sleep(0.5)
        expected = sample_war_app.GREETING % sample_war_app.OS_ARCH[host_goarch()]
        assert answer.stdout.endswith("\n200") and expected in answer.stdout, (answer.stdout, answer.stderr)
        assert task_uid(pid) == "65532"
    finally:
        remove_task(node, name)
