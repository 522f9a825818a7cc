"""Files of Debian packages of one architecture with the shared libraries they need, as the
file list of an image layer (hack/images.sh: the NFS node plugin's mount and mount.nfs).

    python3 hack/images/debian_tree.py --suite bookworm --arch arm64 \
        mount:usr/bin/mount:libc6,libmount1,libselinux1 \
        nfs-common:usr/sbin/mount.nfs,usr/sbin/mount.nfs4:libc6,libmount1,libtirpc3 \
        netbase:etc/

Each argument is PACKAGE:PATH[,PATH...][:LIBRARY[,LIBRARY...]]: the files wanted of PACKAGE
(merged-/usr paths; a trailing / takes a directory; !PATH leaves a file or directory out)
and the name prefixes of the library packages of its Depends those files link (libtirpc3
also finds sid's libtirpc3t64). Every library package those depend on follows (plugins/module_utils/images/debian_closure.py). Packages are
fetched and unpacked once under $XC_CACHE/debian-packages by bundle_build.DebianPackages (an
apt configuration of its own, the archive's signature checked; XC_DEBIAN_MIRROR picks the
mirror). Run with PYTHONPATH=$XC_ROOT/.collections.

Output, tab-separated, for oci.py's --file and --symlink (a merged-/usr tree: /bin, /sbin,
/lib ... are links into /usr):
    package  NAME  VERSION
    file     DEST  SOURCE  MODE (octal, set-id bits dropped)
    link     DEST  TARGET
"""

import argparse
import os
import sys

from ansible_collections.xinchuang.cloud.plugins.module_utils.bundle import build as bundle_build
from ansible_collections.xinchuang.cloud.plugins.module_utils.bundle import policy as bundle_policy
from ansible_collections.xinchuang.cloud.plugins.module_utils.images import debian_closure as dc

# Files dpkg-deb -x did not write: what DebianPackages keeps beside the package's tree.
_BOOKKEEPING = ("VERSION", bundle_build.DebianPackages.CONTROL)


def parse_take(text):
    try:
        return dc.parse_take(text)
    except dc.DebianClosureError as exc:
        raise SystemExit(str(exc))


def package_entries(folder, take):
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


def tree(suite, arch, take_texts, out):
    """Write the output lines (above) for the TAKE texts of Debian SUITE (ARCH) to OUT; errors
    go to stderr. Returns the exit status (hack/images/debian_apps.py plan calls it per image)."""
    takes = [parse_take(t) for t in take_texts]
    packages = bundle_build.DebianPackages(
        os.environ.get("XC_CACHE", bundle_build.DEFAULT_CACHE),
        os.environ.get("XC_DEBIAN_MIRROR") or bundle_policy.DEFAULT_DEBIAN_MIRROR)
    unpacked = {}

    def control_of(name):
        hit = packages.control(suite, arch, name)
        if not hit:
            return None
        unpacked[name] = hit[:2]
        return dc.parse_control(hit[2])

    try:
        needed = dc.closure(takes, control_of)
    except (dc.DebianClosureError, bundle_policy.BundleError) as exc:
        sys.stderr.write("ERROR: Debian %s (%s): %s\n" % (suite, arch, exc))
        return 1
    by_package = dict((t.package, t) for t in takes)
    entries, seen = [], set()
    for name, _fields in needed:
        folder, version = unpacked[name]
        out.write("package\t%s\t%s\n" % (name, version))
        for kind, dest, what, mode in package_entries(folder, by_package.get(name)):
            if dest in seen:  # a file two packages ship (dpkg allows identical ones)
                continue
            seen.add(dest)
            entries.append((kind, dest, what, mode))
    missing = [p for t in takes for p in t.paths if not p.endswith("/") and not p.startswith("!") and p not in seen]
    if missing:
        sys.stderr.write("ERROR: Debian %s (%s) packages lack %s\n" % (
            suite, arch, ", ".join(missing)))
        return 1
    for top, target in dc.merged_links(dest for _k, dest, _w, _m in entries):
        entries.append(("link", top, target, None))
    for kind, dest, what, mode in entries:
        if kind == "file":
            out.write("file\t%s\t%s\t%04o\n" % (dest, what, mode))
        else:
            out.write("link\t%s\t%s\n" % (dest, what))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--suite", required=True)
    parser.add_argument("--arch", required=True, help="dpkg architecture (arm64, mips64el, loong64)")
    parser.add_argument("take", nargs="+")
    args = parser.parse_args(argv)
    return tree(args.suite, args.arch, args.take, sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
