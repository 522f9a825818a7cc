# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The offline bundle's I/O: Go builds through the module proxy, Debian's packages of each
architecture, and the per-GOARCH layout with its manifest and checksums.

What to build and where it goes is ``bundle_policy``'s; this file runs it. Used by the module
``offline_bundle`` (``playbooks/bundle.yml``) and, through ``cli()``, by the project's test bed
and lab scripts, so there is one builder.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import datetime
import errno
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.bundle import policy
from ansible_collections.xinchuang.cloud.plugins.module_utils.bundle.policy import BundleError

DEFAULT_CACHE = "/var/cache/xinchuang"


def _stderr_log(message):
    sys.stderr.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), message))
    sys.stderr.flush()


def _write_atomic(path, text):
    """Write ``path`` by renaming a finished temporary file over it: never half-written."""
    folder = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=folder)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def exclusive(lock_path, log=_stderr_log, waiting="waiting for another build to finish"):
    """Hold LOCK_PATH (flock) for the block, its folder made if missing: one writer of a cache
    folder at a time on this machine. Yields True when another process held it first (what it
    wrote may be there now)."""
    os.makedirs(os.path.dirname(lock_path), exist_ok=True)
    with open(lock_path, "w") as lock:
        waited = False
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (IOError, OSError):
            log(waiting)
            fcntl.flock(lock, fcntl.LOCK_EX)
            waited = True
        try:
            yield waited
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _read(path):
    try:
        with open(path) as fh:
            return fh.read()
    except (IOError, OSError) as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise


def sha256_of(path):
    """SHA-256 of a cached file, remembered beside it (<file>.sha256, keyed by size and mtime):
    a warm bundle run hashes nothing."""
    st = os.stat(path)
    key = "%d %d" % (st.st_size, st.st_mtime_ns)
    memo = path + ".sha256"
    known = _read(memo)
    if known and known.split("\n")[0] == key:
        return known.split("\n")[1].strip()
    value = plain_sha256(path)
    try:
        _write_atomic(memo, "%s\n%s\n" % (key, value))
    except (IOError, OSError):
        pass  # a read-only cache still gives the right checksum, only slower next time
    return value


class GoBuilder(object):
    """Builds rows of the component table into ``<cache>/build`` (one build at a time)."""

    def __init__(self, cache_dir=DEFAULT_CACHE, go="go", goroot=None, log=_stderr_log,
                 proxy_timeout=30):
        self.cache_dir = cache_dir
        self.build_dir = os.path.join(cache_dir, "build")
        self.go, self.goroot, self.log, self.proxy_timeout = go, goroot, log, proxy_timeout

    # -- what is there --------------------------------------------------------------------
    def path(self, row, goarch):
        return policy.cache_path(self.build_dir, row, goarch)

    def current(self, row, goarch):
        """The row's binary is there, built by today's recipe. Binaries from before recipes
        were kept (no .recipe) are adopted when their profile has no build tags: no build
        before then had any, so the others (containerd) are rebuilt."""
        out = self.path(row, goarch)
        if not os.access(out, os.X_OK):
            return False
        want = policy.recipe(row.profile, row.version)
        have = _read(out + ".recipe")
        if have is not None:
            return have == want
        if policy.PROFILES[row.profile].tags:
            return False
        try:
            _write_atomic(out + ".recipe", want)
        except (IOError, OSError):
            pass
        return True

    def missing(self, rows, goarch):
        return [r for r in rows if not self.current(r, goarch)]

    # -- Go -------------------------------------------------------------------------------
    def env(self):
        env = dict(os.environ)
        env.update(GOMODCACHE=os.path.join(self.cache_dir, "go", "mod"),
                   GOCACHE=os.path.join(self.cache_dir, "go", "build"),
                   # A module asking for a newer Go must fail here, not fetch a toolchain.
                   GOTOOLCHAIN="local",
                   GOFLAGS=(env.get("GOFLAGS", "") + " -mod=mod").strip())
        if self.goroot:
            env["GOROOT"] = self.goroot
            env["PATH"] = os.path.join(self.goroot, "bin") + os.pathsep + env.get("PATH", "")
        return env

    def go_binary(self):
        if self.goroot:
            go = os.path.join(self.goroot, "bin", "go")
            if not os.access(go, os.X_OK):
                raise BundleError("the Go toolchain root %s has no bin/go: give the GOROOT of the "
                                  "vendor toolchain whose `go version` says linux/sw64" % self.goroot)
            return go
        found = shutil.which(self.go) if os.sep not in self.go else self.go
        if not found or not os.access(found, os.X_OK):
            raise BundleError(
                "no Go toolchain: '%s' is not an executable on PATH. Install Go >= 1.25 (Debian's "
                "golang packages are too old for Kubernetes 1.37: unpack the go.dev/dl tarball to "
                "/usr/local/go and add /usr/local/go/bin to PATH), or name it (go_binary)" % self.go)
        return found

    def _go(self, args, cwd, timeout=None, log=None):
        cmd = [self.go_binary()] + list(args)
        out = subprocess.run(cmd, cwd=cwd, env=self.env(), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, universal_newlines=True, timeout=timeout,
                             check=False)
        if log:
            with open(log, "a") as fh:
                fh.write("$ %s\n%s" % (" ".join(cmd), out.stdout))
        return out

    def check_proxy(self, module, version):
        """A cheap, bounded question to the module proxy before minutes of work start."""
        proxy = self._go(["env", "GOPROXY"], "/").stdout.strip()
        if proxy in ("off", ""):
            raise BundleError("GOPROXY is '%s': module downloads are disabled. Set it, e.g. "
                              "export GOPROXY=https://proxy.golang.org,direct or your mirror" % proxy)
        try:
            out = self._go(["list", "-m", "-json", "%s@%s" % (module, version)], "/",
                           timeout=self.proxy_timeout)
        except subprocess.TimeoutExpired:
            out = None
        if out is None or out.returncode != 0:
            raise BundleError(
                "the Go module proxy did not answer for %s@%s within %ds (GOPROXY=%s): check access "
                "to it, or point GOPROXY at a reachable mirror (e.g. https://goproxy.cn,direct)%s"
                % (module, version, self.proxy_timeout, proxy,
                   "" if out is None else ": " + out.stdout.strip()[-500:]))

    def module_dir(self, row):
        """The unpacked source of a row's module@version (the module cache; fetched once)."""
        out = self._go(["mod", "download", "-json", "%s@%s" % (row.module, row.version)], "/")
        if out.returncode != 0:
            self.go_binary()
            self.check_proxy(row.module, row.version)
            raise BundleError("go mod download %s@%s failed:\n%s" % (row.module, row.version,
                                                                     out.stdout[-1500:]))
        return json.loads(out.stdout)["Dir"]

    # -- manifests ------------------------------------------------------------------------
    def manifest_folder(self, source):
        return os.path.join(self.cache_dir, "manifests", source.component, source.version)

    def manifests(self, source, fetch=True):
        """The folder holding a manifest source's *.yaml, copied once from its module (never
        linked: the module cache stays as Go unpacked it). None when it is not cached and
        ``fetch`` is false (check mode)."""
        folder = self.manifest_folder(source)
        if os.path.exists(os.path.join(folder, ".complete")):
            return folder
        if not fetch:
            return None
        src = os.path.join(self.module_dir(source), source.folder)
        names = sorted(n for n in os.listdir(src) if n.endswith(".yaml")) if os.path.isdir(src) else []
        if not names:
            raise BundleError("%s@%s has no *.yaml under %s: the table's folder for %s is wrong" % (
                source.module, source.version, source.folder, source.component))
        tmp = "%s.tmp.%d" % (folder, os.getpid())
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        for name in names:
            shutil.copyfile(os.path.join(src, name), os.path.join(tmp, name))
        _write_atomic(os.path.join(tmp, ".complete"), "%s@%s %s\n" % (source.module, source.version, source.folder))
        shutil.rmtree(folder, ignore_errors=True)
        os.rename(tmp, folder)
        self.log("cached %d manifests of %s@%s in %s" % (len(names), source.module, source.version, folder))
        return folder

    def scratch_dir(self, module, version):
        return os.path.join(self.build_dir, ".src", "%s@%s" % (module.replace("/", "_"), version))

    def prepare_scratch(self, module, version, profile, packages):
        """The scratch module for module@version, made once; packages asked for later are added
        with one more `go get`. Its .ready lists the profile and the packages fetched."""
        folder = self.scratch_dir(module, version)
        ready = os.path.join(folder, ".ready")
        lines = (_read(ready) or "").splitlines()
        if lines and not lines[0].startswith("profile "):  # older caches: "PROFILE PACKAGE..."
            words = lines[0].split()
            lines = ["profile " + words[0]] + words[1:]
            _write_atomic(ready, "\n".join(lines) + "\n")
        header = policy.scratch_header(profile)
        if lines and lines[0] == header:
            todo = [p for p in packages if p not in lines[1:]]
            if not todo:
                return folder
        else:
            shutil.rmtree(folder, ignore_errors=True)
            lines, todo = [], list(packages)
        self.check_proxy(module, version)
        log = folder + ".log"
        self.log("fetching %s@%s and its dependencies (log: %s)" % (module, version, log))
        if not os.path.isdir(folder):
            os.makedirs(folder)
        try:
            if not os.path.exists(os.path.join(folder, "go.mod")):
                self._must(["mod", "init", "xinchuang.cloud/testbed-build/" + module.replace("/", "_")],
                           folder, log)
                if policy.PROFILES[profile].staging_pins:
                    self._pin_staging(module, version, folder, log)
                if policy.PROFILES[profile].module_replaces:
                    self._copy_replaces(module, version, folder, log)
            if policy.PROFILES[profile].main_without:
                self._own_main(module, version, profile, folder, log)
            else:
                self._must(["get"] + ["%s@%s" % (p, version) for p in todo], folder, log)
            upgrades = list(policy.PROFILES[profile].upgrades)
            if upgrades:
                self._must(["get"] + upgrades, folder, log)
                self.log("%s@%s: raised %s" % (module, version, ", ".join(upgrades)))
        except BundleError:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        text = "\n".join((lines or [header]) + todo) + "\n"
        _write_atomic(ready, text)
        return folder

    def _must(self, args, cwd, log):
        out = self._go(args, cwd, log=log)
        if out.returncode != 0:
            raise BundleError("go %s failed in %s (log: %s):\n%s" % (
                " ".join(args[:2]), cwd, log, "\n".join(out.stdout.splitlines()[-20:])))
        return out.stdout

    def _downloaded(self, module, version, folder, log):
        """`go mod download -json` of module@version in the scratch module FOLDER: its Dir, GoMod, ..."""
        return json.loads(self._must(["mod", "download", "-json", "%s@%s" % (module, version)], folder, log))

    def _pin_staging(self, module, version, folder, log):
        info = self._downloaded(module, version, folder, log)
        gomod = _read(info.get("GoMod") or "")
        if not gomod:
            raise BundleError("go mod download %s@%s gave no go.mod" % (module, version))
        staged = policy.staging_modules(gomod)
        if not staged:
            raise BundleError("no staging replace directives in the go.mod of %s@%s" % (module, version))
        pin = policy.staging_version(version)
        self._must(["mod", "edit"] + ["-replace=%s=%s@%s" % (m, m, pin) for m in staged], folder, log)
        # Same GODEBUG defaults as upstream's own build.
        godebug = [line for line in gomod.splitlines() if line.startswith("godebug ")]
        if godebug:
            with open(os.path.join(folder, "go.mod"), "a") as fh:
                fh.write("".join(line + "\n" for line in godebug))
        self.log("pinned %d staging modules to %s" % (len(staged), pin))

    def _own_main(self, module, version, profile, folder, log):
        """The module's main.go as the scratch module's main package, without the imports the
        profile leaves out; the module required at VERSION with upstream's go.sum, the rest of
        the graph resolved by `go mod tidy` (a `go get` of the module's own main package would
        fetch what the left-out imports need)."""
        info = self._downloaded(module, version, folder, log)
        source = _read(os.path.join(info["Dir"], "main.go"))
        if source is None:
            raise BundleError("%s@%s has no main.go at its root: its profile %s copies one; build the "
                              "row's package instead (main_without empty)" % (module, version, profile))
        text = policy.main_without(source, policy.PROFILES[profile].main_without, "%s@%s/main.go" % (module, version))
        _write_atomic(os.path.join(folder, "main.go"), text)
        upstream_sum = _read(os.path.join(info["Dir"], "go.sum"))
        if upstream_sum:
            _write_atomic(os.path.join(folder, "go.sum"), upstream_sum)
        self._must(["mod", "edit", "-require=%s@%s" % (module, version)], folder, log)
        self._must(["mod", "tidy"], folder, log)
        self.log("%s@%s: its main.go without %s" % (module, version, ", ".join(policy.PROFILES[profile].main_without)))

    def _copy_replaces(self, module, version, folder, log):
        info = self._downloaded(module, version, folder, log)
        gomod = _read(info.get("GoMod") or "")
        if not gomod:
            raise BundleError("go mod download %s@%s gave no go.mod" % (module, version))
        replaces = policy.module_replaces(gomod)
        if replaces:
            self._must(["mod", "edit"] + replaces, folder, log)
        self.log("copied %d replace directives of %s@%s" % (len(replaces), module, version))

    def build(self, rows, goarch):
        """Build the rows of ``rows`` not current for ``goarch``; return the ones built."""
        todo = self.missing(rows, goarch)
        self.log("%s: %d of %d binaries cached under %s" % (
            goarch, len(rows) - len(todo), len(rows), self.build_dir))
        if not todo:
            return []
        # One build at a time on this machine (2 cores: parallel builds only thrash); whoever
        # waited finds part of its work done by the other.
        with exclusive(os.path.join(self.build_dir, ".lock"), self.log) as waited:
            if waited:
                todo = self.missing(rows, goarch)
            self.go_binary()
            start, built = time.time(), []
            keys = []
            for row in todo:
                if (row.module, row.version, row.profile) not in keys:
                    keys.append((row.module, row.version, row.profile))
            for module, version, profile in keys:
                mine = [r for r in todo if (r.module, r.version) == (module, version)]
                t0 = time.time()
                folder = self.prepare_scratch(module, version, profile,
                                              sorted({r.package for r in mine}))
                self.log("module %s@%s ready in %ds" % (module, version, time.time() - t0))
                for row in mine:
                    self._build_row(row, goarch, folder)
                    built.append(row)
            self.log("built %d binaries for %s in %ds" % (len(built), goarch, time.time() - start))
            return built

    def _build_row(self, row, goarch, folder):
        out = self.path(row, goarch)
        if not os.path.isdir(os.path.dirname(out)):
            os.makedirs(os.path.dirname(out))
        tmp = "%s.tmp.%d" % (out, os.getpid())
        date = datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
        env = self.env()
        env.update(CGO_ENABLED="0", GOOS="linux", GOARCH=goarch)
        self.log("building %s %s for %s (%s)" % (row.component, row.version, goarch, row.package))
        t0 = time.time()
        # A profile that copies the module's main.go builds it as the scratch module's own package.
        package = "." if policy.PROFILES[row.profile].main_without else row.package
        cmd = [self.go_binary(), "build", "-trimpath", "-tags", policy.PROFILES[row.profile].tags,
               "-ldflags", policy.ldflags(row.profile, row.version, date), "-o", tmp, package]
        proc = subprocess.run(cmd, cwd=folder, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, universal_newlines=True, check=False)
        if proc.returncode != 0:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise BundleError("go build of %s (%s %s, GOARCH=%s) failed:\n%s" % (
                row.package, row.component, row.version, goarch,
                "\n".join(proc.stdout.splitlines()[-30:])))
        os.rename(tmp, out)
        _write_atomic(out + ".recipe", policy.recipe(row.profile, row.version))
        took = time.time() - t0
        self.log("BUILD %-24s %-9s %-8s %5ds  %s" % (row.component, row.version, goarch, took, out))


# --- Debian packages ------------------------------------------------------------------------

class DebianPackages(object):
    """Debian's package of an architecture, unpacked once under
    <cache>/debian-packages/<suite>/<dpkg arch>/<package> (its version in VERSION there),
    fetched by apt-get under an apt configuration of its own (the machine's is never touched;
    the archive's signature is checked with Debian's keyring)."""

    KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
    CONTROL = "CONTROL"  # the package's control fields (dpkg-deb -f), beside VERSION

    def __init__(self, cache_dir=DEFAULT_CACHE, mirror=policy.DEFAULT_DEBIAN_MIRROR, log=_stderr_log):
        self.cache_dir, self.mirror, self.log = cache_dir, mirror, log

    def folder(self, suite, deb_arch, package):
        return os.path.join(self.cache_dir, "debian-packages", suite, deb_arch, package)

    def control(self, suite, deb_arch, package):
        """(folder, version, control text) of the package, fetched when missing; a package
        unpacked before control data was kept beside it is fetched again. None when the
        archive has no such package."""
        hit = self.cached(suite, deb_arch, package)
        if hit and not os.path.exists(os.path.join(hit[0], self.CONTROL)):
            os.unlink(os.path.join(hit[0], "VERSION"))
            hit = None
        hit = hit or self.fetch(suite, deb_arch, package)
        if not hit:
            return None
        return hit[0], hit[1], _read(os.path.join(hit[0], self.CONTROL))

    def cached(self, suite, deb_arch, package):
        return _unpacked(self.folder(suite, deb_arch, package))

    def _apt(self, suite, deb_arch, args, cwd, sources=False):
        # Source indexes are large and rarely wanted: they have an apt state of their own.
        base = os.path.join(self.cache_dir, ("apt-source-" if sources else "apt-bundle-") + suite)
        for sub in ("lists/partial", "cache/archives/partial", "sources.list.d", "preferences.d",
                    "apt.conf.d"):
            if not os.path.isdir(os.path.join(base, sub)):
                os.makedirs(os.path.join(base, sub))
        with open(os.path.join(base, "sources.list"), "w") as fh:
            fh.write("%s [signed-by=%s] %s %s main\n" % (
                "deb-src" if sources else "deb", self.KEYRING, self.mirror, suite))
        if not os.path.exists(os.path.join(base, "status")):
            open(os.path.join(base, "status"), "w").close()
        opts = {
            "Dir::Etc::Parts": "apt.conf.d", "Dir::Etc::SourceList": "sources.list",
            "Dir::Etc::SourceParts": "sources.list.d", "Dir::Etc::Preferences": "preferences",
            "Dir::Etc::PreferencesParts": "preferences.d", "Dir::State::Lists": "lists",
            "Dir::State::status": "status", "Dir::Cache": "cache",
        }
        cmd = ["apt-get", "-q"]
        for key, rel in sorted(opts.items()):
            cmd += ["-o", "%s=%s" % (key, os.path.join(base, rel))]
        cmd += ["-o", "APT::Sandbox::User=root", "-o", "Debug::NoLocking=true"]
        if deb_arch:
            cmd += ["-o", "APT::Architecture=" + deb_arch, "-o", "APT::Architectures::=" + deb_arch]
        return subprocess.run(cmd + list(args), cwd=cwd, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, universal_newlines=True, check=False)

    def fetch(self, suite, deb_arch, package):
        """(folder, version) of the unpacked package, or None when the archive has none."""
        hit = self.cached(suite, deb_arch, package)
        if hit:
            return hit
        if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
            raise BundleError("fetching Debian's %s for %s needs apt-get and dpkg-deb on the "
                              "building machine (a Debian or Ubuntu host), or leave it out" % (package, deb_arch))
        # One fetch at a time per cache: apt's state here runs without apt's own locking, and
        # two unpackings of one package into one folder clash (two image builds at once did).
        with exclusive(os.path.join(self.cache_dir, "debian-packages", ".lock"), self.log,
                       "waiting for another fetch of Debian packages to finish"):
            return self.cached(suite, deb_arch, package) or self._fetch(suite, deb_arch, package)

    def _fetch(self, suite, deb_arch, package):
        self.log("Debian %s package %s:%s" % (suite, package, deb_arch))
        update = self._apt(suite, deb_arch, ["update"], "/")
        if update.returncode != 0:
            raise BundleError("apt-get update of Debian %s (%s) from %s failed:\n%s" % (
                suite, deb_arch, self.mirror, update.stdout[-1500:]))
        tmp = tempfile.mkdtemp()
        try:
            got = self._apt(suite, deb_arch, ["download", "%s:%s" % (package, deb_arch)], tmp)
            debs = [f for f in os.listdir(tmp) if f.endswith(".deb")]
            if got.returncode != 0 or not debs:
                self.log("apt-get download %s:%s (%s) failed: %s" % (package, deb_arch, suite,
                                                                     got.stdout.strip()[-300:]))
                return None
            deb = os.path.join(tmp, debs[0])
            folder = self.folder(suite, deb_arch, package)
            shutil.rmtree(folder, ignore_errors=True)
            os.makedirs(folder)
            subprocess.run(["dpkg-deb", "-x", deb, folder], check=True)
            control = subprocess.run(["dpkg-deb", "-f", deb], check=True,
                                     stdout=subprocess.PIPE, universal_newlines=True).stdout
            # Kept for the closures of hack/images (debian_closure.py: Depends).
            _write_atomic(os.path.join(folder, self.CONTROL), control)
            version = subprocess.run(["dpkg-deb", "-f", deb, "Version"], check=True,
                                     stdout=subprocess.PIPE, universal_newlines=True).stdout.strip()
            _write_atomic(os.path.join(folder, "VERSION"), version + "\n")
            return folder, version
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def source_folder(self, suite, package):
        return os.path.join(self.cache_dir, "debian-sources", suite, package)

    def source(self, suite, package):
        """(folder, version) of Debian's source package of SUITE, unpacked once with its patches
        applied (apt-get source: the .dsc and tarballs checked against the signed Sources index),
        or None when the archive has none."""
        folder = self.source_folder(suite, package)
        hit = _unpacked(folder)
        if hit:
            return hit
        if not shutil.which("apt-get") or not shutil.which("dpkg-source"):
            raise BundleError("fetching Debian's source of %s needs apt-get and dpkg-source (dpkg-dev) "
                              "on the building machine" % package)
        with exclusive(os.path.join(self.cache_dir, "debian-sources", ".lock"), self.log,
                       "waiting for another fetch of Debian sources to finish"):
            return _unpacked(folder) or self._source(suite, package, folder)

    def _source(self, suite, package, folder):
        self.log("Debian %s source package %s" % (suite, package))
        update = self._apt(suite, None, ["update"], "/", sources=True)
        if update.returncode != 0:
            raise BundleError("apt-get update of Debian %s sources from %s failed:\n%s" % (
                suite, self.mirror, update.stdout[-1500:]))
        tmp = tempfile.mkdtemp()
        try:
            got = self._apt(suite, None, ["source", package], tmp, sources=True)
            trees = [f for f in os.listdir(tmp) if os.path.isdir(os.path.join(tmp, f))]
            dscs = [f for f in os.listdir(tmp) if f.endswith(".dsc")]
            if got.returncode != 0 or len(trees) != 1 or len(dscs) != 1:
                self.log("apt-get source %s (%s) failed: %s" % (package, suite, got.stdout.strip()[-300:]))
                return None
            version = _dsc_field(os.path.join(tmp, dscs[0]), "Version")
            shutil.rmtree(folder, ignore_errors=True)
            os.makedirs(os.path.dirname(folder), exist_ok=True)
            shutil.move(os.path.join(tmp, trees[0]), folder)
            _write_atomic(os.path.join(folder, "VERSION"), version + "\n")
            return folder, version
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _unpacked(folder):
    """(folder, version) of a package unpacked in the cache (its VERSION written last), or None."""
    version = (_read(os.path.join(folder, "VERSION")) or "").strip()
    return (folder, version) if version else None


def _dsc_field(path, field):
    """A field of a .dsc (its signature's armour around RFC 822 fields)."""
    for line in (_read(path) or "").splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    raise BundleError("%s has no %s field" % (path, field))


# --- the bundle -----------------------------------------------------------------------------

def _same_file(src, dst):
    try:
        if os.path.samefile(src, dst):
            return True
        return os.path.getsize(src) == os.path.getsize(dst) and sha256_of(src) == plain_sha256(dst)
    except OSError:
        return False


def plain_sha256(path):
    """SHA-256 of a file, read in 1 MiB blocks (nothing remembered)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _place(src, dst):
    """dst becomes src (a hard link into the cache where it can, a copy otherwise), by rename."""
    tmp = "%s.tmp.%d" % (dst, os.getpid())
    if os.path.lexists(tmp):
        os.unlink(tmp)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copy2(src, tmp)
    os.rename(tmp, dst)


class Bundle(object):
    """Plans and makes the offline bundle: ``<dest>/<version>/<goarch>/{bin,cni}`` with
    MANIFEST.tsv (component, version, source, file, sha256) and SHA256SUMS per GOARCH."""

    def __init__(self, params, check_mode=False, log=_stderr_log):
        self.p = params
        self.check_mode = check_mode
        self.log = log
        self.cache_dir = params.get("cache_dir") or DEFAULT_CACHE
        self.warnings = []

    def _inputs(self):
        p = self.p
        goarches = policy.goarches_of(p.get("goarches") or policy.default_goarches())
        full = p.get("full_goarches")
        full = ["all"] if full == ["all"] else policy.goarches_of(
            policy.DEFAULT_FULL_GOARCHES if full is None else full)
        sets = p.get("sets") or None
        if sets:
            policy.check_sets(sets)
        self.components = policy.components_of(p.get("kubernetes_version"))
        version = p.get("version") or policy.default_version(self.components)
        return goarches, full, sets, version

    def run(self):
        goarches, full, sets, version = self._inputs()  # every input checked before any work
        dest = self.p.get("dest")
        build = self.p.get("build", True)
        result = {"changed": False, "version": version, "goarches": {}, "built": [],
                  "path": os.path.join(dest, version) if dest else None, "diff": []}
        plans = []
        for goarch in goarches:
            plan = self._plan(goarch, full, sets)
            result["goarches"][goarch] = plan["report"]
            if plan.get("skip"):
                self.warnings.append(plan["skip"])
                continue
            plans.append(plan)
        # Nothing is built or placed while any GOARCH lacks a binary it may not build.
        if not build:
            missing = ["%s (%s %s, %s)" % (r.binary, r.component, r.version, pl["goarch"])
                       for pl in plans for r in pl["missing"]]
            missing += sorted({"%s (%s %s, manifests)" % (m.dest, m.module, m.version)
                               for pl in plans for m in pl["manifests"]
                               if pl["builder"].manifests(m, fetch=False) is None})
            if missing:
                raise BundleError(
                    "not built (or fetched), or built by an older recipe: %s. Let the bundle build them "
                    "(build: true; needs Go and the module proxy), or build them first; nothing "
                    "was changed" % ", ".join(missing))
        for plan in plans:
            if plan["missing"]:
                result["changed"] = True
                result["built"] += ["%s/%s" % (plan["goarch"], r.binary) for r in plan["missing"]]
                if not self.check_mode:
                    plan["builder"].build(plan["rows"], plan["goarch"])
            if dest:
                changed, diff = self._lay_out(plan, os.path.join(dest, version, plan["goarch"]))
                result["changed"] = result["changed"] or changed
                if diff:
                    result["diff"].append(diff)
        return result

    def _plan(self, goarch, full, sets):
        family = arch.lookup(goarch)
        goroot = None
        report = {"family": family.family, "sets": policy.bundle_sets(goarch, full, sets)}
        if not family.upstream_go:
            goroot = self.p.get("sw64_goroot")
            if not goroot:
                report["skipped"] = ("upstream Go cannot build for %s: give sw64_goroot, the GOROOT "
                                     "of the vendor toolchain (`go version` says linux/sw64)" % goarch)
                return {"skip": "%s skipped: %s" % (goarch, report["skipped"]), "report": report}
        rows = policy.bundle_rows(report["sets"], goarch, self.components)
        manifests = policy.bundle_manifests(report["sets"])
        if not rows and not manifests:
            raise BundleError("no component of the sets %s builds for %s: pick other sets" % (
                ", ".join(report["sets"]), goarch))
        builder = GoBuilder(self.cache_dir, go=self.p.get("go_binary") or "go", goroot=goroot,
                            log=self.log)
        missing = builder.missing(rows, goarch)
        report["missing"] = [r.binary for r in missing]
        return {"goarch": goarch, "rows": rows, "missing": missing, "goroot": goroot,
                "manifests": manifests, "builder": builder, "report": report}

    def _debian(self, goarch):
        """[(DebianBinary, folder, version, suite)] of the Debian programs this GOARCH gets."""
        suite, deb_arch = policy.debian_suite(goarch), arch.deb_arch(goarch)
        packages = DebianPackages(self.cache_dir, self.p.get("debian_mirror") or policy.DEFAULT_DEBIAN_MIRROR,
                                  log=self.log)
        out = []
        for item in policy.DEBIAN_BINARIES:
            if not self.p.get(item.switch, True):
                continue
            hit = packages.cached(suite, deb_arch, item.package)
            if not hit and self.check_mode:
                out.append((item, None, "(to fetch)", suite))
                continue
            if not hit:
                hit = packages.fetch(suite, deb_arch, item.package)
            if not hit:
                if item.required:
                    raise BundleError("Debian %s has no %s for %s: set debian_mirror to a mirror "
                                      "that has it, or %s: false" % (suite, item.package, deb_arch, item.switch))
                self.warnings.append("no %s in the %s bundle: Debian %s has no %s for %s (%s: false "
                                     "stops trying)" % (item.file, goarch, suite, item.package,
                                                        deb_arch, item.switch))
                continue
            out.append((item, hit[0], hit[1], suite))
        return out

    def _lay_out(self, plan, out):
        goarch, builder = plan["goarch"], plan["builder"]
        placements = []  # (source path, file in the bundle, manifest line)
        for row in plan["rows"]:
            src = builder.path(row, goarch)
            sha = "" if self.check_mode and row in plan["missing"] else sha256_of(src)
            placements.append((src, policy.bundle_file(row), policy.row_line(row, sha)))
        for item, folder, version, suite in self._debian(goarch):
            src = os.path.join(folder, item.path) if folder else None
            sha = sha256_of(src) if src else ""
            placements.append((src, item.file, policy.manifest_line(
                item.file.split("/", 1)[1], version, "debian-" + suite, item.file, sha)))
        for source in plan["manifests"]:
            folder = builder.manifests(source, fetch=not self.check_mode)
            if folder is None:  # check mode: the module is fetched by the real run
                placements.append((None, source.dest + "/", policy.manifest_line(
                    source.component, source.version + " (to fetch)", source.module, source.dest + "/", "")))
                continue
            for name in sorted(n for n in os.listdir(folder) if n.endswith(".yaml")):
                src = os.path.join(folder, name)
                placements.append((src, policy.manifest_file(source, name), policy.manifest_line(
                    source.component, source.version, source.module,
                    policy.manifest_file(source, name), sha256_of(src))))
        manifest_path = os.path.join(out, policy.MANIFEST)
        before = _read(manifest_path)
        fresh = set(p[1] for p in placements)
        after = policy.merge_manifest(
            [p[2] for p in placements], before,
            lambda f: f in fresh or os.path.exists(os.path.join(out, f)))
        to_place = [(p[0], p[1]) for p in placements
                    if p[0] is None or not _same_file(p[0], os.path.join(out, p[1]))]
        changed = bool(to_place) or before != after
        diff = None
        if before != after:
            diff = {"before_header": manifest_path + " (before)", "after_header": manifest_path,
                    "before": before or "", "after": after}
        if self.check_mode or not changed:
            return changed, diff
        for sub in {os.path.dirname(f) for _src, f in to_place} | {"bin", "cni"}:
            if not os.path.isdir(os.path.join(out, sub)):
                os.makedirs(os.path.join(out, sub))
        for src, f in to_place:
            _place(src, os.path.join(out, f))
        _write_atomic(os.path.join(out, policy.CHECKSUMS), policy.checksums_text(after))
        # The manifest last: it names only files that are in place.
        _write_atomic(manifest_path, after)
        self.log("bundle %s: %d files in %s" % (goarch, len(policy.parse_manifest(after)), out))
        return changed, diff


# --- the project's scripts ------------------------------------------------------------------

def _say(line):
    """A line on stdout: what the script that asked reads."""
    sys.stdout.write("%s\n" % line)


def cli(argv=None):
    """For hack/ (the test bed and the lab ask the same table and builder):

        rows SET GOARCH        tab-separated component, version, binary, cache path per row
        build SET GOARCH...    build the rows of SET for each GOARCH (progress on stderr)
        version [COMPONENT]    the bundle's default version, or a component's version
        source COMPONENT       the directory of that component's Go module, fetched when missing
        manifests COMPONENT    the cached folder of a manifest source's *.yaml (fetched once)
        goarch NAME            the GOARCH of an architecture name
        suite NAME...          "NAME SUITE" lines: the Debian suite carrying each architecture
        debian SUITE DEB_ARCH PACKAGE
                               Debian's package unpacked in the cache: its directory (exit 1
                               when the archive has none); XC_DEBIAN_MIRROR picks the mirror
        debian-source SUITE PACKAGE
                               Debian's source package unpacked (patches applied) in the cache:
                               its directory, its version in VERSION there (exit 1: none)
        bundle [OPTIONS]       the bundle, as the module offline_bundle makes it (--help)
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    cache = os.environ.get("XC_CACHE", DEFAULT_CACHE)
    builder = GoBuilder(cache, goroot=os.environ.get("XC_SW64_GOROOT") or None)
    try:
        if argv[:1] == ["rows"] and len(argv) == 3:
            for row in policy.rows(argv[1], argv[2]):
                _say("\t".join((row.component, row.version, row.binary, builder.path(row, argv[2]))))
        elif argv[:1] == ["build"] and len(argv) >= 3:
            policy.check_sets([argv[1]])
            for goarch in policy.goarches_of(argv[2:]):
                todo = policy.rows(argv[1], goarch)
                if not todo:
                    raise BundleError("no row of set %s builds for %s" % (argv[1], goarch))
                builder.build(todo, goarch)
        elif argv[:1] == ["version"] and len(argv) <= 2:
            _say(policy.component(argv[1]).version if len(argv) == 2 else policy.default_version())
        elif argv[:1] == ["source"] and len(argv) == 2:
            _say(builder.module_dir(policy.component(argv[1])))
        elif argv[:1] == ["manifests"] and len(argv) == 2:
            source = policy.component(argv[1])
            if not isinstance(source, policy.ManifestSource):
                raise BundleError("%s is a program, not a manifest source: the manifest sources are %s" % (
                    argv[1], ", ".join(m.component for m in policy.MANIFESTS)))
            _say(builder.manifests(source))
        elif argv[:1] == ["goarch"] and len(argv) == 2:
            _say(policy.goarches_of(argv[1:])[0])
        elif argv[:1] == ["suite"] and len(argv) >= 2:
            for name in argv[1:]:
                _say("%s %s" % (name, policy.debian_suite(policy.goarches_of([name])[0])))
        elif (argv[:1], len(argv)) in ((["debian"], 4), (["debian-source"], 3)):
            packages = DebianPackages(cache, os.environ.get("XC_DEBIAN_MIRROR") or policy.DEFAULT_DEBIAN_MIRROR)
            hit = (packages.fetch if argv[0] == "debian" else packages.source)(*argv[1:])
            if not hit:
                return 1
            _say(hit[0])
        elif argv[:1] == ["bundle"]:
            return _cli_bundle(argv[1:], cache)
        else:
            sys.stderr.write(cli.__doc__)
            return 2
    except BundleError as exc:
        sys.stderr.write("ERROR: %s\n" % exc)
        return 1
    return 0


def _cli_bundle(argv, cache):
    import argparse

    parser = argparse.ArgumentParser(prog="bundle", description="The offline bundle (module offline_bundle).")
    parser.add_argument("--dest", required=True)
    parser.add_argument("--goarch", action="append", dest="goarches")
    parser.add_argument("--sets", help="comma-separated")
    parser.add_argument("--full-goarches", default=",".join(policy.DEFAULT_FULL_GOARCHES),
                        help="comma-separated, or all")
    parser.add_argument("--version")
    parser.add_argument("--kubernetes-version")
    parser.add_argument("--no-build", dest="build", action="store_false")
    parser.add_argument("--no-runc", dest="runc", action="store_false")
    parser.add_argument("--no-registry", dest="registry", action="store_false")
    parser.add_argument("--debian-mirror", default=policy.DEFAULT_DEBIAN_MIRROR)
    parser.add_argument("--sw64-goroot")
    args = parser.parse_args(argv)
    params = dict(vars(args), cache_dir=cache,
                  sets=[s for s in (args.sets or "").split(",") if s] or None,
                  full_goarches=[g for g in args.full_goarches.split(",") if g])
    bundle = Bundle(params)
    result = bundle.run()
    for warning in bundle.warnings:
        _stderr_log("WARNING: " + warning)
    _say(result["path"])
    return 0
