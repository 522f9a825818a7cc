# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The images a cluster pulls before any application, and the application images, built here
per GOARCH as single-architecture OCI layouts (one layer, no Docker, no emulator), offline once
the caches are filled. What each image is made of is ``images/recipes.py``; this file finds the
inputs and writes the layouts:

* ``library/pause``: Kubernetes' pause.c (of the k8s.io/kubernetes module of the component
  table) compiled static with gcc for the machine's own GOARCH and Debian's cross gcc for the
  others. loong64 has no cross gcc in bookworm: a chroot of Debian ``cross_suite`` with
  gcc-loongarch64-linux-gnu is made once with debootstrap under ``<cache>/toolchains``.
* ``coredns/coredns``, ``sig-storage/csi-provisioner``, ``library/traefik``: Go programs of
  the bundle's component table (``bundle/build.py`` builds them), with Debian's CA bundle.
* ``library/busybox``: compiled from Debian ``busybox_suite``'s source package with Debian's
  static configuration, one version for every GOARCH, a link per applet in /bin.
* ``flannel/flannel``, ``cloudnativelabs/kube-router`` (and ``sig-storage/nfsplugin`` when the
  table has its row): the program with the files it runs of the architecture's Debian suite
  and the libraries they link (``debian_closure.py``).
* the application set: the recipes of ``app_images.py`` on their Debian packages.

Each image is cached as ``<images_dir>/<name>/<tag>/<goarch>/<recipe id>/`` holding ``oci/``
(the layout), ``image.json`` (digest, platform, layer size) and ``recipe``; one builder per
image at a time (``.lock`` beside), the images of other recipes pruned.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import json
import os
import posixpath
import shutil
import subprocess
import sys
import tempfile
import time

from ansible_collections.xinchuang.cloud.plugins.module_utils.bundle import build as bundle_build
from ansible_collections.xinchuang.cloud.plugins.module_utils.bundle import policy as bundle_policy
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError
from ansible_collections.xinchuang.cloud.plugins.module_utils.images import app_images
from ansible_collections.xinchuang.cloud.plugins.module_utils.images import busybox_applets
from ansible_collections.xinchuang.cloud.plugins.module_utils.images import debian_closure as dc
from ansible_collections.xinchuang.cloud.plugins.module_utils.images import oci_layout
from ansible_collections.xinchuang.cloud.plugins.module_utils.images import push
from ansible_collections.xinchuang.cloud.plugins.module_utils.images import recipes
from ansible_collections.xinchuang.cloud.plugins.module_utils.images.recipes import ImagesError
from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import client as reg
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import manifest_index as mi

_log = bundle_build._stderr_log


def _read(path):
    with open(path) as fh:
        return fh.read()


def _tail(path, lines):
    try:
        with open(path, errors="replace") as fh:
            return "".join(fh.readlines()[-lines:])
    except (IOError, OSError):
        return ""


class _Missing(Exception):
    """Check mode: an input the build would make or fetch is not here yet."""


def elf_goarch(path):
    """The GOARCH whose programs PATH is (its ELF e_machine, 64-bit little-endian), or a word
    saying what else it is."""
    with open(path, "rb") as fh:
        head = fh.read(20)
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return "not an ELF program"
    if head[4:6] != b"\x02\x01":
        return "not a 64-bit little-endian program"
    machine = head[18] | head[19] << 8
    for family in arch.FAMILIES:
        if machine in family.elf_machines:
            return family.goarch
    return "ELF machine %d" % machine


def image_goarches(names, log=_log):
    """The GOARCHes of architecture names (the lab's four when none), sw64-like ones dropped
    with a word: neither upstream Go (CoreDNS, the CSI programs) nor a Debian cross gcc (pause)
    targets them."""
    out, defaults = [], bundle_policy.default_goarches()
    for name in names or defaults:
        try:
            family = arch.lookup(name)
        except arch.UnknownArchitectureError:
            raise ImagesError("'%s' is not an architecture the model knows; give one of %s"
                              % (name, ", ".join(defaults)))
        if not family.upstream_go:
            log("skipping %s: neither upstream Go (CoreDNS, the CSI programs) nor a Debian cross gcc "
                "(pause) targets it" % family.goarch)
            continue
        if family.goarch not in out:
            out.append(family.goarch)
    if not out:
        raise ImagesError("no GOARCH left to build images for")
    return out


class Toolchains(object):
    """The GNU cross compilers per GOARCH: ``<triplet>-gcc`` of this machine, or of a chroot of
    Debian ``cross_suite`` made once with debootstrap (loong64 on bookworm)."""

    BUILD_TOOLS = ("make", "gcc", "bzip2")  # what busybox's build runs besides the cross gcc

    def __init__(self, cache_dir, cross_suite, mirror, log=_log, check_mode=False):
        self.dir = os.path.join(cache_dir, "toolchains")
        self.cross_suite, self.mirror, self.log, self.check_mode = cross_suite, mirror, log, check_mode
        self._triplets, self._roots, self._cc_ids = {}, {}, {}

    def triplet(self, goarch):
        if goarch not in self._triplets:
            deb = arch.deb_arch(goarch)
            proc = subprocess.run(["dpkg-architecture", "-a", deb, "-qDEB_HOST_GNU_TYPE"], check=False,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True)
            if proc.returncode != 0 or not proc.stdout.strip():
                raise ImagesError("dpkg-architecture knows no GNU type for %s (%s): no Debian cross gcc" % (deb, goarch))
            self._triplets[goarch] = proc.stdout.strip()
        return self._triplets[goarch]

    def root(self, goarch):
        """None when <triplet>-gcc is on this machine, else the chroot that has it (made once)."""
        if goarch in self._roots:
            return self._roots[goarch]
        triplet = self.triplet(goarch)
        root = None
        if not shutil.which(triplet + "-gcc"):
            deb = arch.deb_arch(goarch)
            root = os.path.join(self.dir, "%s-cross-%s" % (self.cross_suite, deb))
            gcc = os.path.join(root, "usr", "bin", triplet + "-gcc")
            if not os.access(gcc, os.X_OK) and self.check_mode:
                raise _Missing("the %s chroot with %s-gcc (to make)" % (self.cross_suite, triplet))
            if not os.access(gcc, os.X_OK):
                with bundle_build.exclusive(os.path.join(self.dir, ".lock"), self.log,
                                            "waiting for another maker of a cross toolchain"):
                    if not os.access(gcc, os.X_OK):
                        self._debootstrap(root, triplet, deb)
        self._roots[goarch] = root
        return root

    def _debootstrap(self, root, triplet, deb):
        if not shutil.which("debootstrap"):
            raise ImagesError("debootstrap is missing: run hack/deps.sh (or install debootstrap)")
        self.log("no %s-gcc on this machine: making a Debian %s chroot with it (%s, log %s.log)"
                 % (triplet, self.cross_suite, root, root))
        shutil.rmtree(root + ".tmp", ignore_errors=True)
        with open(root + ".log", "w") as logf:
            proc = subprocess.run(["debootstrap", "--variant=minbase",
                                   "--include=gcc-%s,libc6-dev-%s-cross" % (triplet, deb),
                                   self.cross_suite, root + ".tmp", self.mirror],
                                  stdout=logf, stderr=subprocess.STDOUT, check=False)
        if proc.returncode != 0:
            shutil.rmtree(root + ".tmp", ignore_errors=True)
            raise ImagesError("debootstrap of %s with gcc-%s failed (log %s.log):\n%s\nset the Debian "
                              "mirror or the cross suite" % (self.cross_suite, triplet, root, _tail(root + ".log", 15)))
        _drop_downloaded_debs(root + ".tmp")
        shutil.rmtree(root, ignore_errors=True)
        os.rename(root + ".tmp", root)

    @staticmethod
    def argv(root, args):
        """ARGS on this machine (ROOT None) or in the chroot ROOT."""
        return list(args) if not root else ["chroot", root] + list(args)

    def cc_id(self, goarch):
        """The first line of the compiler's --version: what a recipe names it by."""
        if goarch not in self._cc_ids:
            triplet, root = self.triplet(goarch), self.root(goarch)
            try:
                proc = subprocess.run(self.argv(root, [triplet + "-gcc", "--version"]), check=False,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True)
            except OSError:
                proc = None
            if proc is None or proc.returncode != 0 or not proc.stdout.strip():
                raise ImagesError("%s-gcc does not run; run hack/deps.sh" % triplet)
            self._cc_ids[goarch] = proc.stdout.split("\n", 1)[0]
        return self._cc_ids[goarch]

    def build_tools(self, root):
        """The chroot gets make, a gcc for busybox's host programs and bzip2, installed once."""
        if not root:
            return
        missing = [t for t in self.BUILD_TOOLS if not os.access(os.path.join(root, "usr", "bin", t), os.X_OK)]
        if not missing:
            return
        if self.check_mode:
            raise _Missing("%s in %s (to install)" % (" ".join(missing), root))
        with bundle_build.exclusive(os.path.join(self.dir, ".lock"), self.log,
                                    "waiting for another maker of a cross toolchain"):
            self.log("installing %s in %s (log %s.tools.log)" % (" ".join(missing), root, root))
            with open(root + ".tools.log", "w") as logf:
                ok = subprocess.run(["chroot", root, "apt-get", "-q", "update"], stdout=logf,
                                    stderr=subprocess.STDOUT, check=False).returncode == 0
                ok = ok and subprocess.run(
                    ["chroot", root, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-q", "install", "-y",
                     "--no-install-recommends"] + list(self.BUILD_TOOLS) + ["libc6-dev"],
                    stdout=logf, stderr=subprocess.STDOUT, check=False).returncode == 0
            if not ok:
                raise ImagesError("installing %s in %s failed (log %s.tools.log):\n%s" % (
                    " ".join(missing), root, root, _tail(root + ".tools.log", 15)))
            _drop_downloaded_debs(root)


def _drop_downloaded_debs(root):
    """The packages apt fetched into the chroot ROOT: installed, they only take room."""
    archives = os.path.join(root, "var", "cache", "apt", "archives")
    for name in os.listdir(archives) if os.path.isdir(archives) else []:
        if name.endswith(".deb"):
            os.unlink(os.path.join(archives, name))


class Store(object):
    """The image cache: ``<images_dir>/<name>/<tag>/<goarch>/<recipe id>/``."""

    def __init__(self, images_dir, log=_log):
        self.dir, self.log = images_dir, log

    def path(self, name, tag, goarch, recipe):
        return os.path.join(self.dir, name, tag, goarch, recipes.recipe_id(recipe))

    def cached(self, name, tag, goarch, recipe):
        out = self.path(name, tag, goarch, recipe)
        return out if os.path.isfile(os.path.join(out, "oci", "index.json")) else None

    def get(self, name, tag, goarch, recipe, maker):
        """The directory of RECIPE's image; when absent, MAKER(dir) writes oci/ and image.json
        into a fresh directory, which then replaces the images of other recipes."""
        out = self.path(name, tag, goarch, recipe)
        # One builder per image at a time (two test workers may ask for the same cold image):
        # the second waits, then finds it built.
        with bundle_build.exclusive(os.path.join(os.path.dirname(out), ".lock"), self.log,
                                    "waiting for another build of %s:%s (%s)" % (name, tag, goarch)):
            if self.cached(name, tag, goarch, recipe):
                return out
            t0 = time.time()
            tmp = out + ".tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            os.makedirs(tmp)
            try:
                maker(tmp)
            except Exception as exc:
                shutil.rmtree(tmp, ignore_errors=True)
                if isinstance(exc, (XinchuangError, OSError)):
                    raise ImagesError("making the %s:%s image for %s failed: %s" % (name, tag, goarch, exc))
                raise
            with open(os.path.join(tmp, "recipe"), "w") as fh:
                fh.write(recipes.recipe_file_text(recipe))
            shutil.rmtree(out, ignore_errors=True)
            os.rename(tmp, out)
            parent = os.path.dirname(out)
            for other in os.listdir(parent):  # the images of other recipes are stale
                path = os.path.join(parent, other)
                if path != out and os.path.isdir(path):
                    shutil.rmtree(path, ignore_errors=True)
            self.log("IMAGE %-18s %-8s %-9s %4ds  %s" % (name, tag, goarch, time.time() - t0, out))
        return out


def _write_image(out, goarch, tag, lay, config):
    summary = oci_layout.write_layout(os.path.join(out, "oci"), goarch, tag, lay, config)
    with open(os.path.join(out, "image.json"), "w") as fh:
        fh.write(oci_layout.image_json_text(summary))


def _tree_layer(entries):
    files = [(dest, what, mode) for kind, dest, what, mode in entries if kind == "file"]
    links = [(dest, what) for kind, dest, what, _mode in entries if kind == "link"]
    return files, links


class Images(object):
    """Builds (or finds cached) the images of one set for some GOARCHes.

    params: image_set (cluster, apps), cache_dir, images_dir, debian_mirror, cross_suite,
    busybox_suite, go_binary. In check mode nothing is built, fetched or written: an image
    whose inputs or layout are missing is reported ``to build``."""

    def __init__(self, params, log=_log, check_mode=False):
        p = params
        self.image_set = p.get("image_set") or "cluster"
        if self.image_set not in recipes.IMAGE_SETS:
            raise ImagesError("image set %r: give one of %s" % (self.image_set, ", ".join(recipes.IMAGE_SETS)))
        self.cache_dir = p.get("cache_dir") or bundle_build.DEFAULT_CACHE
        self.mirror = p.get("debian_mirror") or bundle_policy.DEFAULT_DEBIAN_MIRROR
        self.cross_suite = p.get("cross_suite") or recipes.DEFAULT_CROSS_SUITE
        self.busybox_suite = p.get("busybox_suite") or recipes.DEFAULT_BUSYBOX_SUITE
        self.log = log
        self.store = Store(p.get("images_dir") or os.path.join(self.cache_dir, "bundle", "images"), log)
        self.go = bundle_build.GoBuilder(self.cache_dir, go=p.get("go_binary") or "go", log=log)
        self.debian = bundle_build.DebianPackages(self.cache_dir, self.mirror, log=log)
        self.toolchains = Toolchains(self.cache_dir, self.cross_suite, self.mirror, log, check_mode)
        self.check_mode = check_mode
        self._memo = {}

    # -- inputs ---------------------------------------------------------------------------
    def _once(self, key, make):
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    def version(self, component):
        return bundle_policy.component(component).version

    def has_component(self, component):
        try:
            bundle_policy.component(component)
        except bundle_policy.BundleError:
            return False
        return True

    def binary(self, set_name, goarch, binary):
        """The cached binary of a set's row, the set built for GOARCH when it lacks any."""
        rows = bundle_policy.rows(set_name, goarch)
        if self.check_mode:
            missing = [r.binary for r in self.go.missing(rows, goarch)]
            if binary in missing:
                raise _Missing("%s for %s (to build)" % (binary, goarch))
        else:
            self.go.build(rows, goarch)
        for row in rows:
            if row.binary == binary:
                path = self.go.path(row, goarch)
                if os.access(path, os.X_OK):
                    return path
                raise ImagesError("no %s for %s in the build cache after building set %s (%s)"
                                  % (binary, goarch, set_name, path))
        raise ImagesError("set %s has no %s for %s (plugins/module_utils/bundle/policy.py)" % (set_name, binary, goarch))

    def ca_bundle_sha(self):
        def make():
            if not os.path.isfile(recipes.CA_BUNDLE):
                raise ImagesError("%s is missing: run hack/deps.sh (ca-certificates)" % recipes.CA_BUNDLE)
            return bundle_build.plain_sha256(recipes.CA_BUNDLE)
        return self._once("certs", make)

    def kubernetes(self):
        """(module dir, version, pause tag, pause.c sha) of k8s.io/kubernetes of the table."""
        def make():
            row = bundle_policy.component("kube-apiserver")
            if self.check_mode:  # the module cache, read as it is (go mod download would fetch)
                folder = os.path.join(self.cache_dir, "go", "mod", "%s@%s" % (row.module, row.version))
                if not os.path.isdir(folder):
                    raise _Missing("%s@%s (to fetch)" % (row.module, row.version))
            else:
                folder = self.go.module_dir(row)
            source = os.path.join(folder, recipes.PAUSE_SOURCE)
            if not os.path.isfile(source):
                raise ImagesError("k8s.io/kubernetes@%s has no %s (in %s)" % (row.version, recipes.PAUSE_SOURCE, folder))
            tag = recipes.pause_tag(_read(os.path.join(folder, recipes.PAUSE_MAKEFILE)))
            return folder, recipes.kubernetes_version_of(folder), tag, bundle_build.plain_sha256(source)
        return self._once("kubernetes", make)

    def busybox_source(self):
        def make():
            if self.check_mode:
                hit = bundle_build._unpacked(self.debian.source_folder(self.busybox_suite, "busybox"))
                if not hit:
                    raise _Missing("the busybox source of Debian %s (to fetch)" % self.busybox_suite)
            else:
                hit = self.debian.source(self.busybox_suite, "busybox")
            if not hit:
                raise ImagesError("the busybox source package of Debian %s could not be fetched; set the "
                                  "Debian mirror or the busybox suite" % self.busybox_suite)
            folder, version = hit
            config = recipes.busybox_config(_read(os.path.join(folder, "debian", "config", "os", "linux")),
                                            _read(os.path.join(folder, "debian", "config", "pkg", "static")))
            return folder, version, config
        return self._once("busybox", make)

    def debian_tree(self, goarch, what, take_texts):
        """(packages [(name, version)], entries [(kind, dest, source or target, mode)]) of the
        files TAKE_TEXTS want of GOARCH's Debian suite, with the libraries they link."""
        suite, deb = bundle_policy.debian_suite(goarch), arch.deb_arch(goarch)
        packages = _CachedPackages(self.debian) if self.check_mode else self.debian
        try:
            return debian_tree(packages, suite, deb, [dc.parse_take(t) for t in take_texts])
        except (dc.DebianClosureError, bundle_policy.BundleError) as exc:
            raise ImagesError("%s of Debian %s (%s) could not be gathered: %s; set the Debian mirror"
                              % (what, suite, deb, exc))

    # -- the images -----------------------------------------------------------------------
    def _image(self, name, tag, goarch, recipe, make, program):
        """The entry of one child: found in the cache, or made by MAKE (in check mode: to
        build). PROGRAM(dir) is the file its entrypoint runs, which must be a program of
        GOARCH: a wrong one is refused before the image is stored."""
        entry = {"name": name, "tag": tag, "goarch": goarch, "platform": oci_layout.platform_text(goarch),
                 "recipe": recipes.recipe_id(recipe), "dir": self.store.cached(name, tag, goarch, recipe)}
        entry["state"] = "cached" if entry["dir"] else "to build"
        if not entry["dir"] and not self.check_mode:
            def checked(out):
                make(out)
                self._check_program(entry, program(out))
            entry["dir"] = self.store.get(name, tag, goarch, recipe, checked)
            entry["state"] = "built"
        if entry["dir"]:
            with open(os.path.join(entry["dir"], "image.json")) as fh:
                entry["digest"] = json.load(fh)["digest"]
            entry["layout"] = os.path.join(entry["dir"], "oci")
            self._check_program(entry, program(entry["dir"]))
        return entry

    @staticmethod
    def _check_program(entry, path):
        found = elf_goarch(path) if path else "not in the image"
        entry["program_goarch"] = found
        if found != entry["goarch"]:
            raise ImagesError("the %s:%s child for %s runs %s, which is %s (%s): refused; nothing of it is "
                              "published" % (entry["name"], entry["tag"], entry["goarch"], path or "its entrypoint",
                                             found if found.startswith(("not ", "ELF")) else "a program of " + found,
                                             "check the compiler or the build cache"))

    def _missing(self, name, goarch, why):
        return {"name": name, "tag": None, "goarch": goarch, "platform": oci_layout.platform_text(goarch),
                "recipe": None, "dir": None, "state": "to build", "missing": str(why)}

    def pause(self, goarch):
        _folder, k8s_version, tag, source_sha = self.kubernetes()
        triplet, root = self.toolchains.triplet(goarch), self.toolchains.root(goarch)
        cc_id = self.toolchains.cc_id(goarch)
        cflags = recipes.pause_cflags(tag, k8s_version)
        recipe = recipes.pause_recipe(tag, goarch, k8s_version, source_sha, triplet, cc_id,
                                      self.cross_suite if root else None)

        def make(out):
            source = os.path.join(self.kubernetes()[0], recipes.PAUSE_SOURCE)
            program = os.path.join(out, "pause")
            work = tempfile.mkdtemp(prefix="xc-pause.", dir=os.path.join(root, "tmp")) if root else None
            try:
                if root:
                    shutil.copyfile(source, os.path.join(work, "pause.c"))
                    inner = work[len(root):]
                    src_arg, out_arg = inner + "/pause.c", inner + "/pause"
                else:
                    src_arg, out_arg = source, program
                self._run(root, [triplet + "-gcc"] + cflags.split() + ["-o", out_arg, src_arg],
                          "compiling pause.c for %s" % goarch)
                self._run(root, [triplet + "-strip", out_arg], "stripping pause for %s" % goarch)
                if root:
                    shutil.move(os.path.join(work, "pause"), program)
            finally:
                if work:
                    shutil.rmtree(work, ignore_errors=True)
            _write_image(out, goarch, tag, oci_layout.layer(files=[("/pause", program, 0o755)]),
                         oci_layout.image_config(entrypoint=["/pause"], user=recipes.PAUSE_USER,
                                                 created_by=recipes.pause_created_by(k8s_version, cc_id, cflags)))
        return self._image(recipes.PAUSE, tag, goarch, recipe, make, lambda folder: os.path.join(folder, "pause"))

    def _run(self, root, args, what):
        try:
            proc = subprocess.run(Toolchains.argv(root, args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  universal_newlines=True, check=False)
        except OSError as exc:
            raise ImagesError("%s failed: %s" % (what, exc))
        if proc.stdout.strip():
            self.log(proc.stdout.strip())
        if proc.returncode != 0:
            raise ImagesError("%s failed%s (exit %d)" % (what, " in " + root if root else "", proc.returncode))
        return proc

    def program(self, image, goarch):
        version = self.version(image.component)
        binary = self.binary(image.set, goarch, image.binary)
        recipe = recipes.program_recipe(image, version, goarch, bundle_build.sha256_of(binary), self.ca_bundle_sha())

        def make(out):
            files = [("/" + image.binary, binary, 0o755), (recipes.CA_BUNDLE, recipes.CA_BUNDLE, 0o644)]
            caps = {"/" + image.binary: list(image.caps)} if image.caps else {}
            _write_image(out, goarch, version, oci_layout.layer(files=files, caps=caps),
                         oci_layout.image_config(
                             entrypoint=["/" + image.binary], user=None if image.user == "root" else image.user,
                             expose=image.ports, created_by=recipes.program_created_by(image, version)))
        return self._image(image.name, version, goarch, recipe, make, lambda folder: binary)

    def busybox(self, goarch):
        source, version, config = self.busybox_source()
        tag = app_images.upstream_version(version)
        triplet, root = self.toolchains.triplet(goarch), self.toolchains.root(goarch)
        self.toolchains.build_tools(root)
        cc_id = self.toolchains.cc_id(goarch)
        recipe = recipes.busybox_recipe(tag, goarch, version, self.busybox_suite, config, triplet, cc_id,
                                        self.cross_suite if root else None)

        def make(out):
            program = os.path.join(out, "busybox")
            self._compile_busybox(goarch, source, version, config, triplet, root, out, program)
            with open(program, "rb") as fh:
                try:
                    names = busybox_applets.applets(fh.read())
                except ValueError as exc:
                    raise ImagesError("no applet list in the busybox built for %s: %s" % (goarch, exc))
            # No entrypoint, sh as command: `kubectl run -- sleep 5` runs the applet by name.
            _write_image(out, goarch, tag,
                         oci_layout.layer(files=[("/bin/busybox", program, 0o755)], links=recipes.busybox_links(names)),
                         oci_layout.image_config(cmd=["sh"], labels=["%s=%s" % (recipes.VERSION_LABEL, tag)],
                                                 created_by=recipes.busybox_created_by(version, self.busybox_suite, cc_id)))
        return self._image(recipes.BUSYBOX, tag, goarch, recipe, make, lambda folder: os.path.join(folder, "busybox"))

    def _compile_busybox(self, goarch, source, version, config, triplet, root, out, program):
        work = tempfile.mkdtemp(prefix="xc-busybox.", dir=os.path.join(root or "/", "tmp"))
        inner = work[len(root):] if root else work
        build_log = os.path.join(out, "build.log")
        try:
            shutil.copytree(source, os.path.join(work, "src"), symlinks=True)
            os.mkdir(os.path.join(work, "b"))
            with open(os.path.join(work, "b", ".config"), "w") as fh:
                fh.write(config + "\n")
            self.log("compiling busybox %s for %s (%s-gcc%s; log %s)" % (
                version, goarch, triplet, " in " + root if root else "", build_log))
            make_env = ["env", "KCONFIG_NOTIMESTAMP=1", "make"]
            with open(build_log, "w") as logf:
                # Kconfig asks about options the configuration lacks: each takes its default.
                yes = subprocess.Popen(["yes", ""], stdout=subprocess.PIPE)
                try:
                    ok = subprocess.run(Toolchains.argv(root, make_env + [
                        "-C", inner + "/b", "-f", inner + "/src/Makefile", "KBUILD_SRC=%s/src" % inner,
                        "silentoldconfig"]), stdin=yes.stdout, stdout=logf, stderr=subprocess.STDOUT,
                        check=False).returncode == 0
                finally:
                    yes.kill()
                    yes.wait()
                    yes.stdout.close()
                ok = ok and subprocess.run(Toolchains.argv(root, make_env + [
                    "-C", inner + "/b", "-j%d" % len(os.sched_getaffinity(0)), "busybox", "CROSS_COMPILE=%s-" % triplet,
                    "SKIP_STRIP=y", "BB_EXTRA_VERSION=Debian %s" % version]),
                    stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT, check=False).returncode == 0
            if not ok:
                raise ImagesError("compiling busybox %s for %s failed (log %s):\n%s" % (
                    version, goarch, build_log, _tail(build_log, 20)))
            made = _read(os.path.join(work, "b", ".config")).split("\n")
            if recipes.BUSYBOX_WGET_TIMEOUT not in made or "CONFIG_STATIC=y" not in made:
                raise ImagesError("busybox's configuration lost FEATURE_WGET_TIMEOUT or STATIC (Debian %s)" % version)
            self._run(root, [triplet + "-strip", inner + "/b/busybox"], "stripping busybox for %s" % goarch)
            shutil.move(os.path.join(work, "b", "busybox"), program)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def netfilter(self, image, goarch):
        version = self.version(image.component)
        binary = self.binary("network", goarch, image.binary)
        packages, entries = self.debian_tree(goarch, "%s's iptables and %s" % (image.binary, image.tool), image.takes)
        recipe = recipes.netfilter_recipe(image, version, goarch, bundle_build.sha256_of(binary), packages)

        def make(out):
            files, links = _tree_layer(entries)
            _write_image(out, goarch, version,
                         oci_layout.layer(files=files + [("/" + image.path, binary, 0o755)],
                                          links=links + recipes.netfilter_links()),
                         oci_layout.image_config(entrypoint=["/" + image.path],
                                                 labels=["%s=%s" % (recipes.VERSION_LABEL, version)],
                                                 created_by=recipes.netfilter_created_by(image, version, packages)))
        return self._image(image.name, version, goarch, recipe, make, lambda folder: binary)

    def nfsplugin(self, goarch):
        version = self.version("nfsplugin")
        binary = self.binary("csi", goarch, "nfsplugin")
        packages, entries = self.debian_tree(goarch, "the NFS tools", recipes.NFS_TAKES)
        recipe = recipes.nfsplugin_recipe(version, goarch, bundle_build.sha256_of(binary), packages)

        def make(out):
            files, links = _tree_layer(entries)
            _write_image(out, goarch, version,
                         oci_layout.layer(files=files + [("/nfsplugin", binary, 0o755)], links=links),
                         oci_layout.image_config(entrypoint=["/nfsplugin"],
                                                 created_by=recipes.nfsplugin_created_by(version, packages)))
        return self._image(recipes.NFSPLUGIN, version, goarch, recipe, make, lambda folder: binary)

    def nfs_tools_layout(self, goarch, out):
        """The NFS tools alone as a layout at OUT (not cached, no entrypoint): the nfsplugin
        image's Debian layer, for tests while no nfsplugin is built."""
        if os.path.exists(out):
            raise ImagesError("%s exists" % out)
        packages, entries = self.debian_tree(goarch, "the NFS tools", recipes.NFS_TAKES)
        files, links = _tree_layer(entries)
        return oci_layout.write_layout(out, goarch, "nfs-tools", oci_layout.layer(files=files, links=links),
                                       oci_layout.image_config(created_by=recipes.nfs_tools_created_by(packages)))

    def _entry(self, name, goarch, make):
        """make() in check mode: an input the build would make or fetch is missing."""
        try:
            return make()
        except _Missing as why:
            return self._missing(name, goarch, why)

    def cluster(self, goarch):
        makers = [(recipes.PAUSE, lambda: self.pause(goarch)),
                  (recipes.COREDNS, lambda: self.program(recipes.COREDNS_IMAGE, goarch)),
                  (recipes.BUSYBOX, lambda: self.busybox(goarch))]
        makers += [(image.name, lambda image=image: self.program(image, goarch)) for image in recipes.STATIC_IMAGES]
        if self._once("nfsplugin", lambda: self.has_component("nfsplugin")):
            makers.append((recipes.NFSPLUGIN, lambda: self.nfsplugin(goarch)))
        makers += [(image.name, lambda image=image: self.netfilter(image, goarch)) for image in recipes.NETFILTER_IMAGES]
        return [self._entry(name, goarch, make) for name, make in makers]

    def apps(self, goarch):
        """Every recipe's child for GOARCH. Tag and label org.opencontainers.image.version: the
        upstream version of the main package this child holds (loong64's come from sid: another
        version, another tag)."""
        images = []
        for name in sorted(app_images.APPS):
            if arch.family_of(goarch) not in app_images.families_of(name):
                self.log("no %s child for %s: its recipe's families leave it out "
                         "(plugins/module_utils/images/app_images.py)" % (name, goarch))
                continue
            images.append(self._entry(app_images.APPS[name]["repository"], goarch, lambda name=name: self.app(name, goarch)))
        return images

    def app(self, name, goarch):
        suite, deb = bundle_policy.debian_suite(goarch), arch.deb_arch(goarch)
        try:
            spec = app_images.recipe(name, suite, deb)
        except ValueError as exc:
            raise ImagesError(str(exc))
        packages, entries = self.debian_tree(goarch, "the files of %s" % name, spec["takes"])
        main = spec["version_of"]
        versions = [v for n, v in packages if n == main]
        if not versions:
            raise ImagesError("the tree of %s gave no version of %s (%s, %s)" % (name, main, suite, deb))
        tag = app_images.upstream_version(versions[0])
        recipe = recipes.app_recipe(spec["repository"], tag, goarch, packages,
                                    recipes.app_cache_recipe(name, suite, deb), suite, main, versions[0])
        extra_links, dirs = recipes.app_layer_extras(spec)
        make = self._app_maker(goarch, suite, name, spec, packages, entries, tag, versions[0], extra_links, dirs)
        program = tree_program(entries + [("link", dest, target, None) for dest, target in extra_links],
                               (spec.get("entrypoint") or spec.get("cmd") or [""])[0])
        return self._image(spec["repository"], tag, goarch, recipe, make, lambda folder: program)

    @staticmethod
    def _app_maker(goarch, suite, name, spec, packages, entries, tag, version, extra_links, dirs):
        main = spec["version_of"]

        def make(out):
            files, links = _tree_layer(entries)
            own = os.path.join(out, "files")  # the project's own files, beside the layout
            os.makedirs(own)
            for dest, file_name, text in recipes.app_own_files(spec):
                with open(os.path.join(own, file_name), "w") as fh:
                    fh.write(text)
                files.append((dest, os.path.join(own, file_name), 0o644))
            _write_image(out, goarch, tag, oci_layout.layer(files=files, links=links + extra_links, dirs=dirs),
                         oci_layout.image_config(labels=recipes.app_labels(tag, suite, main, version),
                                                 created_by=recipes.app_created_by(name, main, version, suite, packages),
                                                 **recipes.app_config_fields(spec)))
        return make

    def build(self, goarches):
        """The entries of every image of the set for each GOARCH: {name, tag, goarch, platform,
        recipe (its id), state (cached, built, to build), dir, layout, digest, program_goarch}."""
        if self.image_set == "cluster" and not self._once("nfsplugin", lambda: self.has_component("nfsplugin")):
            self.log("no sig-storage/nfsplugin: the component table has no nfsplugin row (the Go module proxy "
                     "serves no github.com/kubernetes-csi/csi-driver-nfs)")
        out = []
        for goarch in goarches:
            out += self.cluster(goarch) if self.image_set == "cluster" else self.apps(goarch)
        return out


class _CachedPackages(object):
    """DebianPackages read as they are (check mode): a package not unpacked yet is missing."""

    def __init__(self, packages):
        self.packages = packages

    def control(self, suite, deb_arch, name):
        hit = self.packages.cached(suite, deb_arch, name)
        control = os.path.join(hit[0], self.packages.CONTROL) if hit else None
        if not hit or not os.path.exists(control):
            raise _Missing("Debian %s package %s:%s (to fetch)" % (suite, name, deb_arch))
        return hit[0], hit[1], _read(control)


def tree_program(entries, path):
    """The file of a Debian tree that PATH (absolute) runs, its links followed (a link's
    target relative to the link's directory, or absolute), or None when the tree lacks it."""
    files = dict((dest, what) for kind, dest, what, _mode in entries if kind == "file")
    links = dict((dest, what) for kind, dest, what, _mode in entries if kind == "link")
    parts, done, hops = [p for p in path.split("/") if p], [], 0
    while parts:
        here = "/" + "/".join(done + [parts[0]])
        if here in links and hops < 40:
            hops += 1
            target = links[here]
            base = "/" if target.startswith("/") else "/" + "/".join(done)
            rest = posixpath.normpath(posixpath.join(base, target, *parts[1:]))
            parts, done = [p for p in rest.split("/") if p], []
            continue
        done.append(parts.pop(0))
    return files.get("/" + "/".join(done))


def debian_tree(packages, suite, deb_arch, takes):
    """(packages [(name, version)] in closure order, entries [(kind, dest, source or target,
    mode)]) of the TAKES of Debian SUITE (DEB_ARCH), each package fetched and unpacked once by
    bundle_build.DebianPackages PACKAGES; a merged-/usr tree (/bin, /lib ... links into /usr)."""
    unpacked = {}

    def control_of(name):
        hit = packages.control(suite, deb_arch, name)
        if not hit:
            return None
        unpacked[name] = hit[:2]
        return dc.parse_control(hit[2])

    needed = dc.closure(takes, control_of)
    by_package = dict((t.package, t) for t in takes)
    names, entries, seen = [], [], set()
    for name, _fields in needed:
        folder, version = unpacked[name]
        names.append((name, version))
        for kind, dest, what, mode in _package_entries(folder, by_package.get(name)):
            if dest in seen:  # a file two packages ship (dpkg allows identical ones)
                continue
            seen.add(dest)
            entries.append((kind, dest, what, mode))
    missing = [p for t in takes for p in t.paths if not p.endswith("/") and not p.startswith("!") and p not in seen]
    if missing:
        raise ImagesError("Debian %s (%s) packages lack %s" % (suite, deb_arch, ", ".join(missing)))
    for top, target in dc.merged_links(dest for _k, dest, _w, _m in entries):
        entries.append(("link", top, target, None))
    return names, [(kind, "/" + dest.strip("/"), what, mode) for kind, dest, what, mode in entries]


# Files dpkg-deb -x did not write: what DebianPackages keeps beside the package's tree.
_BOOKKEEPING = ("VERSION", bundle_build.DebianPackages.CONTROL)


def _package_entries(folder, take):
    """[(kind, dest, source or target, mode)] of a package's unpacked tree that are wanted."""
    out = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files) + sorted(d for d in dirs if os.path.islink(os.path.join(root, d))):
            full = os.path.join(root, name)
            rel = os.path.relpath(full, folder)
            if rel in _BOOKKEEPING:
                continue
            dest = dc.merged_path(rel)
            if not dc.wanted(dest, take):
                continue
            if os.path.islink(full):
                out.append(("link", dest, dc.merged_link_target(rel, os.readlink(full)), None))
            elif os.path.isfile(full):
                out.append(("file", dest, full, os.stat(full).st_mode & 0o777))
    return out


# --- a whole run: the module offline_images and hack/images.sh ------------------------------

DEFAULT_PUSH_JOBS = 3


def check_params(params):
    """The run's options checked before any work (the image set and GOARCHes are checked by
    Images and image_goarches): (registry or None, pause aliases, push jobs)."""
    registry = params.get("registry") or None
    if registry is not None and ("/" in mi.strip_scheme(registry.strip()).rstrip("/") or not registry.strip()):
        raise ImagesError("registry %r: give the registry as HOST:PORT (an http:// prefix for a lab registry without "
                          "TLS), without a path, for example registry.local:5000" % registry)
    jobs = params.get("push_jobs")
    jobs = DEFAULT_PUSH_JOBS if jobs is None else jobs
    if not isinstance(jobs, int) or jobs < 1:
        raise ImagesError("push_jobs %r: give a number of copies at once, 1 or more" % (jobs,))
    if bool(params.get("username")) != bool(params.get("password")):
        raise ImagesError("username and password go together: give both, or neither for a registry without login")
    ca_path = params.get("ca_path")
    if ca_path and not os.path.isfile(ca_path):
        raise ImagesError("ca_path %s: no such file" % ca_path)
    aliases = params.get("pause_aliases")
    aliases = list(recipes.DEFAULT_PAUSE_ALIASES) if aliases is None else [a for a in aliases if a]
    return registry, aliases, jobs


def run(params, check_mode=False, log=_log):
    """Build (or find) the images of params' image_set for its goarches, and with a registry
    push them and publish their indexes. Returns the module's result."""
    registry, aliases, jobs = check_params(params)
    goarches = image_goarches(params.get("goarches") or [], log)
    # build: false reads the cache as check mode does (nothing is made or fetched); the push stays real.
    images = Images(params, log, check_mode=check_mode or not params.get("build", True))
    entries = images.build(goarches)
    if not check_mode and not params.get("build", True):
        missing = ["%s/%s:%s%s" % (e["goarch"], e["name"], e["tag"] or "?", " (%s)" % e["missing"] if e.get("missing") else "")
                   for e in entries if e["state"] != "cached"]
        if missing:
            raise ImagesError("not in the image cache (or made by another recipe): %s. Let the task build them "
                              "(build: true), or build them first; nothing was pushed" % ", ".join(missing))
    result = {"changed": any(e["state"] != "cached" for e in entries), "goarches": {}, "indexes": [],
              "built": ["%s/%s:%s" % (e["goarch"], e["name"], e["tag"] or "?") for e in entries if e["state"] != "cached"]}
    for goarch in goarches:
        result["goarches"][goarch] = {"family": arch.family_of(goarch),
                                      "images": len([e for e in entries if e["goarch"] == goarch])}
    if registry:
        client = reg.client_from_params(dict(params, registry=registry, concurrency=max(jobs, 4)))
        ready = [e for e in entries if e.get("layout")]
        states = push.push_children(client, ready, jobs=jobs, check_mode=check_mode)
        for entry, state in zip(ready, states):
            entry["pushed"] = state
        for entry in entries:
            entry.setdefault("pushed", "to push" if entry["state"] == "to build" else None)
        specs = recipes.index_specs([(e["name"], e["tag"], e["goarch"]) for e in entries if e["tag"]],
                                    images.image_set, aliases)
        if check_mode and any(e["pushed"] != "present" for e in entries):
            # The children are not all there: the indexes would be made anew.
            result["indexes"] = [{"repository": i["repository"], "tag": i["tag"], "changed": True,
                                  "platforms": i["required_platforms"], "digest": None} for i in specs]
        else:
            indexes, errors = reg.reconcile_many(client, specs, check_mode=check_mode, concurrency=4)
            if errors:
                raise ImagesError("publishing the indexes on %s failed: %s" % (registry, "; ".join(errors)))
            result["indexes"] = indexes
        result["changed"] = (result["changed"] or any(e["pushed"] in ("pushed", "to push") for e in entries)
                             or any(i["changed"] for i in result["indexes"]))
    result["images"] = [dict((k, v) for k, v in e.items() if k != "dir") for e in entries]
    return result


# --- the project's scripts ------------------------------------------------------------------

def _say_err(line):
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def cli(argv=None):
    """hack/images.sh:  build|list [options] [GOARCH ...]   nfs-tools [options] GOARCH OUT
    push REGISTRY [--ca FILE] [--username U --password-file F] [--insecure] [options] [GOARCH ...]"""
    parser = argparse.ArgumentParser(prog="images", description="The cluster and application images.")
    parser.add_argument("command", choices=("build", "list", "nfs-tools", "push"))
    parser.add_argument("args", nargs="*")
    parser.add_argument("--set", dest="image_set", default="cluster")
    parser.add_argument("--cache-dir", default=os.environ.get("XC_CACHE", bundle_build.DEFAULT_CACHE))
    parser.add_argument("--images-dir")
    parser.add_argument("--debian-mirror", default=bundle_policy.DEFAULT_DEBIAN_MIRROR)
    parser.add_argument("--cross-suite", default=recipes.DEFAULT_CROSS_SUITE)
    parser.add_argument("--busybox-suite", default=recipes.DEFAULT_BUSYBOX_SUITE)
    parser.add_argument("--ca", dest="ca_path")
    parser.add_argument("--username")
    parser.add_argument("--password-file")
    parser.add_argument("--insecure", dest="validate_certs", action="store_false")
    parser.add_argument("--pause-aliases", default=" ".join(recipes.DEFAULT_PAUSE_ALIASES), help="space-separated")
    parser.add_argument("--push-jobs", type=int, default=DEFAULT_PUSH_JOBS)
    args = parser.parse_intermixed_args(sys.argv[1:] if argv is None else argv)
    params = vars(args)
    for key, option in reg.registry_argument_spec().items():  # as the module receives them
        params.setdefault(key, option.get("default"))
    try:
        if args.command == "nfs-tools":
            if len(args.args) != 2:
                parser.error("nfs-tools GOARCH OUT")
            goarch = image_goarches(args.args[:1])[0]
            sys.stdout.write(oci_layout.image_json_text(Images(params).nfs_tools_layout(goarch, args.args[1])))
            return 0
        if args.command == "push":
            if not args.args:
                parser.error("push REGISTRY [GOARCH ...]")
            params["registry"], params["goarches"] = args.args[0], args.args[1:]
            params["pause_aliases"] = args.pause_aliases.split()
            if args.password_file:
                with open(args.password_file) as fh:
                    params["password"] = fh.read().rstrip("\n")
            start = time.time()
            result = run(params)
            for image in result["images"]:
                if image["pushed"] == "pushed":
                    _say_err("PUSH %s/%s:%s-%s" % (args.args[0], image["name"], image["tag"], image["goarch"]))
            for i in result["indexes"]:
                _say_err("INDEX %s/%s:%s %s %s %s%s" % (
                    args.args[0], i["repository"], i["tag"], i["digest"], ",".join(i["platforms"]),
                    "changed" if i["changed"] else "unchanged",
                    " version=%s" % i["same_label_value"] if i.get("same_label_value") else ""))
            _log("pushed %d images and %d indexes in %ds" % (len(result["images"]), len(result["indexes"]), time.time() - start))
            return 0
        goarches = image_goarches(args.args)
        start = time.time()
        for entry in Images(params).build(goarches):
            sys.stdout.write("\t".join((entry["name"], entry["tag"], entry["goarch"], entry["digest"], entry["layout"])) + "\n")
            sys.stdout.flush()
        if args.command == "build":
            _log("images for %s ready in %ds" % (" ".join(goarches), time.time() - start))
    except XinchuangError as exc:
        sys.stderr.write("ERROR: %s\n" % exc)
        return 1
    return 0
