"""The image builder's own logic (plugins/module_utils/images/builder.py) on hand-made inputs: the
cache (one recipe, one directory; a failed build leaves the image it would replace), the GOARCHes
asked, and the Debian tree of an image over hand-made packages. The builds themselves (compilers,
Go, Debian's archive) are proved by tests/integration/images on the real parts."""

import hashlib
import json
import os

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.images import builder
from ansible_collections.xinchuang.cloud.plugins.module_utils.images import debian_closure as dc
from ansible_collections.xinchuang.cloud.plugins.module_utils.images import recipes


def maker(calls, fail=False):
    def make(out):
        calls.append(out)
        if fail:
            raise recipes.ImagesError("the compiler said no")
        os.makedirs(os.path.join(out, "oci"))
        with open(os.path.join(out, "oci", "index.json"), "w") as fh:
            fh.write("{}")
    return make


def test_the_store_makes_an_image_once_and_prunes_the_images_of_other_recipes(tmp_path):
    said, calls = [], []
    store = builder.Store(str(tmp_path), log=said.append)
    first = store.get("library/pause", "3.10.2", "arm64", "recipe one", maker(calls))
    assert first == str(tmp_path / "library/pause/3.10.2/arm64" / recipes.recipe_id("recipe one"))
    assert open(os.path.join(first, "recipe")).read() == "recipe one\n"
    assert len(said) == 1 and said[0].startswith("IMAGE library/pause ")
    assert store.get("library/pause", "3.10.2", "arm64", "recipe one", maker(calls)) == first
    assert len(calls) == 1 and len(said) == 1
    second = store.get("library/pause", "3.10.2", "arm64", "recipe two", maker(calls))
    assert sorted(os.listdir(os.path.dirname(second))) == [".lock", os.path.basename(second)]


def test_a_failed_build_names_the_image_and_keeps_the_one_it_would_replace(tmp_path):
    store, calls = builder.Store(str(tmp_path), log=lambda m: None), []
    kept = store.get("library/busybox", "1.37.0", "loong64", "old", maker(calls))
    with pytest.raises(recipes.ImagesError, match=r"making the library/busybox:1.37.0 image for loong64 failed: "
                                                  r"the compiler said no"):
        store.get("library/busybox", "1.37.0", "loong64", "new", maker(calls, fail=True))
    assert sorted(os.listdir(os.path.dirname(kept))) == [".lock", os.path.basename(kept)]


def test_the_goarches_are_the_models_and_sw64_is_skipped_with_a_word():
    said = []
    assert builder.image_goarches([], said.append) == ["amd64", "arm64", "loong64", "mips64le"]
    assert builder.image_goarches(["aarch64", "arm64", "loongarch64", "sw_64"], said.append) == ["arm64", "loong64"]
    assert said == ["skipping sw64: neither upstream Go (CoreDNS, the CSI programs) nor a Debian cross gcc "
                    "(pause) targets it"]
    with pytest.raises(recipes.ImagesError, match="'sparc' is not an architecture the model knows; give one of amd64"):
        builder.image_goarches(["amd64", "sparc"], said.append)
    with pytest.raises(recipes.ImagesError, match="no GOARCH left"):
        builder.image_goarches(["sw64"], said.append)


def test_an_unknown_image_set_is_named_before_any_work(tmp_path):
    with pytest.raises(recipes.ImagesError, match="image set 'foo': give one of cluster, apps"):
        builder.Images({"image_set": "foo", "cache_dir": str(tmp_path)})
    assert os.listdir(str(tmp_path)) == []


def test_the_gnu_triplets_are_dpkgs():
    chains = builder.Toolchains("/nonexistent", "trixie", "http://deb.debian.org/debian")
    assert chains.triplet("loong64") == "loongarch64-linux-gnu"
    assert chains.triplet("mips64le") == "mips64el-linux-gnuabi64"
    assert chains.argv("/tc", ["gcc", "-v"]) == ["chroot", "/tc", "gcc", "-v"] and chains.argv(None, ["gcc"]) == ["gcc"]


class Packages(object):
    """DebianPackages over hand-made unpacked trees: {name: (version, depends, {path: bytes or ('->', target)})}."""

    def __init__(self, root, table):
        self.root, self.table, self.asked = root, table, []

    def control(self, suite, deb_arch, name):
        self.asked.append((suite, deb_arch, name))
        if name not in self.table:
            return None
        version, depends, files = self.table[name]
        folder = os.path.join(self.root, name)
        for path, content in files.items():
            full = os.path.join(folder, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            if isinstance(content, tuple):
                if not os.path.lexists(full):
                    os.symlink(content[1], full)
            else:
                with open(full, "wb") as fh:
                    fh.write(content)
                os.chmod(full, 0o755 if path.startswith(("sbin", "usr/bin")) else 0o644)
        control = "Package: %s\nVersion: %s\nDepends: %s\n" % (name, version, depends)
        return folder, version, control


TABLE = {
    "nfs-common": ("1:2.6.2-4", "libc6 (>= 2.34), libtirpc3 (>= 1.3), adduser, python3",
                   {"sbin/mount.nfs": b"\x7fELF nfs", "sbin/mount.nfs4": ("->", "mount.nfs"),
                    "usr/share/doc/nfs-common/copyright": b"text"}),
    "libtirpc3": ("1.3.3+ds-1", "libc6, libgssapi-krb5-2", {"lib/x86_64-linux-gnu/libtirpc.so.3": b"\x7fELF t"}),
    "libgssapi-krb5-2": ("1.20.1-2", "libc6", {"usr/lib/x86_64-linux-gnu/libgssapi_krb5.so.2": b"\x7fELF g"}),
    "libc6": ("2.36-9", "", {"lib/x86_64-linux-gnu/libc.so.6": b"\x7fELF c", "usr/share/doc/libc6/changelog": b"x"}),
}
TAKES = ("nfs-common:usr/sbin/mount.nfs,usr/sbin/mount.nfs4:libc6,libtirpc3",)

# recipes.TOOL_IDS['debian_tree.py'] -> what debian_tree gives for TABLE and TAKES (paths under
# the package folders). When that changes, give the tool a new word and record it here.
GOLDEN_TREE = {
    "sha256:926093eeb5092c139e7c6d2792db62f7a07fd302ab10dd52e29446d9b1892afa":
        "a6e4ef3fe9dae96dc6273c2f66cae6df6cdb40543178da5349839be75646e963",
}


def tree(tmp_path, takes=TAKES):
    packages = Packages(str(tmp_path), TABLE)
    names, entries = builder.debian_tree(packages, "bookworm", "amd64", [dc.parse_take(t) for t in takes])
    relative = [(k, d, os.path.relpath(w, str(tmp_path)) if k == "file" else w, m) for k, d, w, m in entries]
    return names, relative


def test_a_tree_is_the_files_taken_with_every_library_they_link_in_a_merged_usr(tmp_path):
    names, entries = tree(tmp_path)
    assert names == [("nfs-common", "1:2.6.2-4"), ("libc6", "2.36-9"), ("libtirpc3", "1.3.3+ds-1"),
                     ("libgssapi-krb5-2", "1.20.1-2")]
    assert ("file", "/usr/sbin/mount.nfs", "nfs-common/sbin/mount.nfs", 0o755) in entries
    assert ("link", "/usr/sbin/mount.nfs4", "mount.nfs", None) in entries
    assert ("file", "/usr/lib/x86_64-linux-gnu/libtirpc.so.3", "libtirpc3/lib/x86_64-linux-gnu/libtirpc.so.3", 0o644) in entries
    assert ("link", "/sbin", "usr/sbin", None) in entries and ("link", "/lib", "usr/lib", None) in entries
    assert not any("/doc/" in dest for _k, dest, _w, _m in entries)
    text = json.dumps([names, entries], sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()
    assert GOLDEN_TREE.get(recipes.TOOL_IDS["debian_tree.py"]) == digest, (
        "the tree changed (%s) but recipes.TOOL_IDS['debian_tree.py'] did not: give it a new word and "
        "record the digest in GOLDEN_TREE" % digest)


def test_a_file_the_packages_lack_is_named(tmp_path):
    with pytest.raises(recipes.ImagesError, match=r"Debian bookworm \(amd64\) packages lack usr/sbin/showmount"):
        tree(tmp_path, ["nfs-common:usr/sbin/mount.nfs,usr/sbin/showmount:libc6"])


def elf_file(tmp_path, name, machine, bits=b"\x02\x01"):
    path = tmp_path / name
    path.write_bytes(b"\x7fELF" + bits + b"\x01" + b"\0" * 11 + bytes([machine & 0xff, machine >> 8]) + b"\0" * 40)
    return str(path)


def test_the_machine_of_a_program_is_read_from_its_header(tmp_path):
    assert builder.elf_goarch(elf_file(tmp_path, "a", 183)) == "arm64"
    assert builder.elf_goarch(elf_file(tmp_path, "l", 258)) == "loong64"
    assert builder.elf_goarch(elf_file(tmp_path, "m", 8)) == "mips64le"
    assert builder.elf_goarch(elf_file(tmp_path, "b", 8, bits=b"\x02\x02")) == "not a 64-bit little-endian program"
    assert builder.elf_goarch(elf_file(tmp_path, "s", 3)) == "ELF machine 3"
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\nexec true\n" + " " * 40)
    assert builder.elf_goarch(str(script)) == "not an ELF program"


def test_a_child_whose_program_is_of_another_machine_is_refused_and_not_stored(tmp_path):
    """The wrong-architecture seed: a compiler that gave the host's program for arm64."""
    images = builder.Images({"cache_dir": str(tmp_path), "images_dir": str(tmp_path / "images")}, log=lambda m: None)

    def make(out):
        program = elf_file(tmp_path, "pause", 62)  # EM_X86_64
        builder._write_image(out, "arm64", "3.10.2", builder.oci_layout.layer(files=[("/pause", program, 0o755)]),
                             builder.oci_layout.image_config(entrypoint=["/pause"]))

    with pytest.raises(recipes.ImagesError, match=r"the library/pause:3.10.2 child for arm64 runs .*/pause, which is a "
                                                  r"program of amd64 .*refused"):
        images._image("library/pause", "3.10.2", "arm64", "recipe", make, lambda folder: str(tmp_path / "pause"))
    assert os.listdir(str(tmp_path / "images/library/pause/3.10.2/arm64")) == [".lock"]


def test_check_mode_builds_nothing_and_says_so(tmp_path):
    images = builder.Images({"cache_dir": str(tmp_path), "images_dir": str(tmp_path / "images")},
                            log=lambda m: None, check_mode=True)
    entry = images._image("library/pause", "3.10.2", "arm64", "recipe", lambda out: pytest.fail("made in check mode"),
                          lambda folder: pytest.fail("read in check mode"))
    assert entry["state"] == "to build" and entry["recipe"] == recipes.recipe_id("recipe") and entry["dir"] is None
    assert not os.path.exists(str(tmp_path / "images"))


def test_the_program_of_an_entrypoint_is_found_through_the_trees_links():
    entries = [("file", "/usr/lib/jvm/java-17/bin/java", "/cache/jre/java", 0o755),
               ("link", "/usr/bin/java", "../lib/jvm/java-17/bin/java", None),
               ("link", "/usr/lib/jvm/default", "/usr/lib/jvm/java-17", None),
               ("link", "/bin", "usr/bin", None),
               ("file", "/usr/bin/busybox", "/cache/busybox", 0o755), ("link", "/usr/bin/sh", "busybox", None)]
    assert builder.tree_program(entries, "/usr/bin/java") == "/cache/jre/java"
    assert builder.tree_program(entries, "/bin/java") == "/cache/jre/java"
    assert builder.tree_program(entries, "/usr/lib/jvm/default/bin/java") == "/cache/jre/java"
    assert builder.tree_program(entries, "/usr/bin/sh") == "/cache/busybox"
    assert builder.tree_program(entries, "/usr/bin/python3") is None
    assert builder.tree_program(entries + [("link", "/loop", "/loop", None)], "/loop") is None
