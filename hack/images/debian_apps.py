"""Application images made of Debian's packages (hack/images.sh apps): the recipes of
plugins/module_utils/images/app_images.py (what each image takes of which package, the files the
project adds, its configuration; the app store reads the same data) as the arguments of the
tools. The files of the packages and the libraries they link are gathered by debian_tree.py
(plugins/module_utils/images/debian_closure.py), and the layout is written by oci.py. Run with
PYTHONPATH=$XC_ROOT/.collections.

    python3 hack/images/debian_apps.py list                  NAME REPOSITORY VERSION-PACKAGE
    python3 hack/images/debian_apps.py oci-args NAME SUITE DEB_ARCH DIR
                                                             oci.py's arguments of the config and
                                                             the added files of the SUITE child
                                                             for DEB_ARCH (written under DIR)
    python3 hack/images/debian_apps.py recipe NAME [SUITE [DEB_ARCH]]
                                                             what makes the image, for its cache key
    python3 hack/images/debian_apps.py upstream VERSION      the tag of a Debian VERSION (1.22.1-9 -> 1.22.1)
    python3 hack/images/debian_apps.py plan GOARCH SUITE DEB_ARCH DIR
                                                             every recipe's child for GOARCH in one
                                                             process (hack/images.sh build): per
                                                             recipe NAME REPOSITORY PACKAGE VERSION
                                                             TAG, or NAME - when its families leave
                                                             GOARCH out; DIR/NAME.tools holds
                                                             debian_tree.py's output, DIR/NAME.recipe
                                                             the recipe

Every image runs as app_images.NONROOT (uid 65532, no login). The tag of each child, and its
label org.opencontainers.image.version, is the upstream version of the main package it holds
(loong64's child comes from sid: another version, another tag); hack/images.sh publishes an
index only when its children carry one version.
"""

import io
import json
import os
import sys

from ansible_collections.xinchuang.cloud.plugins.module_utils.images import app_images
from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.bundle import policy as bundle_policy

APPS = app_images.APPS
NONROOT = app_images.NONROOT


def app(name):
    if name not in APPS:
        raise SystemExit("unknown application image %r; known: %s" % (name, ", ".join(sorted(APPS))))
    return APPS[name]


def oci_args(name, suite, deb_arch, out_dir):
    """oci.py's arguments for the configuration and the project's own files of the child of
    Debian ``suite`` for ``deb_arch`` (written under ``out_dir``), one per line."""
    app(name)
    spec, args = app_images.recipe(name, suite, deb_arch), []
    for dest, text in sorted(spec.get("files", {}).items()):
        path = os.path.join(out_dir, dest.replace("/", "_"))
        with open(path, "w") as fh:
            fh.write(text)
        args += ["--file", "%s=%s:0644" % (dest, path)]
    for dest, target in sorted(spec.get("links", {}).items()):
        args += ["--symlink", "%s=%s" % (dest, target)]
    for d in spec.get("dirs", []):
        args += ["--dir", d]
    for pair in spec.get("env", []):
        args += ["--env", pair]
    args += ["--user", NONROOT, "--workdir", spec.get("workdir", "/")]
    # As JSON: the arguments may start with a dash or be empty.
    for key in ("entrypoint", "cmd"):
        if spec.get(key):
            args += ["--%s-json" % key, json.dumps(spec[key])]
    for port in spec.get("expose", []):
        args += ["--expose", port]
    return args


def recipe(name, suite=None, deb_arch=None):
    """What makes the image (its child of Debian ``suite`` for ``deb_arch``) besides the
    packages and the tools (a cache key)."""
    app(name)
    spec = app_images.recipe(name, suite or bundle_policy.DEFAULT_DEBIAN_SUITE, deb_arch)
    return json.dumps({"app": name, "spec": spec, "user": NONROOT}, sort_keys=True)


def builds(name, goarch):
    """Whether recipe NAME makes a GOARCH child (its families hold GOARCH's)."""
    app(name)
    return arch.family_of(goarch) in app_images.families_of(name)


def plan(goarch, suite, deb_arch, out_dir):
    """Every recipe's child for GOARCH, resolved in this one process (a Python start per recipe
    and step made a cached `hack/images.sh build` of the applications take 40 s). Prints one
    line per recipe; writes each child's debian_tree.py output and recipe under OUT_DIR."""
    import debian_tree  # beside this script (hack/images), on the path when run as one

    for name in sorted(APPS):
        if not builds(name, goarch):
            print("%s\t-" % name)
            continue
        try:
            spec = app_images.recipe(name, suite, deb_arch)
        except ValueError as err:
            raise SystemExit(str(err))
        tools = io.StringIO()
        if debian_tree.tree(suite, deb_arch, spec["takes"], tools) != 0:
            raise SystemExit("the files of %s of Debian %s (%s) could not be gathered (above); set "
                             "XC_IMAGES_MIRROR" % (name, suite, deb_arch))
        text = tools.getvalue()
        main_package = spec["version_of"]
        versions = [line.split("\t")[2] for line in text.splitlines()
                    if line.split("\t")[:2] == ["package", main_package]]
        if not versions:
            raise SystemExit("debian_tree.py gave no version of %s for %s (%s, %s)"
                             % (main_package, name, suite, deb_arch))
        with open(os.path.join(out_dir, name + ".tools"), "w") as fh:
            fh.write(text)
        with open(os.path.join(out_dir, name + ".recipe"), "w") as fh:
            fh.write(recipe(name, suite, deb_arch) + "\n")
        print("\t".join([name, spec["repository"], main_package, versions[0],
                         app_images.upstream_version(versions[0])]))


def main(argv):
    if not argv:
        raise SystemExit(__doc__)
    cmd, rest = argv[0], argv[1:]
    if cmd == "list":
        for name in sorted(APPS):
            print("%s\t%s\t%s" % (name, APPS[name]["repository"], app_images.main_package(name)))
    elif cmd == "oci-args" and len(rest) == 4:
        print("\n".join(oci_args(*rest)))
    elif cmd == "recipe" and len(rest) in (1, 2, 3):
        print(recipe(*rest))
    elif cmd == "upstream" and len(rest) == 1:
        print(app_images.upstream_version(rest[0]))
    elif cmd == "plan" and len(rest) == 4:
        plan(*rest)
    elif cmd == "version-args" and len(rest) == 1:
        print("\n".join(app(rest[0])["version_args"]))
    else:
        raise SystemExit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
