"""The NFS tools' Debian packages as pure rules (plugins/module_utils/images/debian_closure.py): control
fields, the library closure over Depends, and the merged-/usr tree. The packages themselves are
fetched and the layer is checked by its ELF files in tests/integration/images/."""

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.images import debian_closure as dc

# Depends of bookworm's arm64 packages (apt-cache show), trimmed to what the closure reads.
BOOKWORM = {
    "mount": "util-linux (= 2.38.1-5+deb12u3), libc6 (>= 2.34), libmount1 (>= 2.38), libselinux1 (>= 3.1~)",
    "nfs-common": ("libc6 (>= 2.34), libcap2 (>= 1:2.10), libevent-core-2.1-7 (>= 2.1.8-stable), "
                   "libmount1 (>= 2.19.1), libtirpc3 (>= 1.3.2), libxml2 (>= 2.7.4), rpcbind, adduser, "
                   "ucf, lsb-base (>= 1.3-9ubuntu3), keyutils"),
    "netbase": "",
    "libc6": "libgcc-s1",
    "libgcc-s1": "gcc-12-base (= 12.2.0-14), libc6 (>= 2.35)",
    "libmount1": "libblkid1 (>= 2.17.2), libc6 (>= 2.34), libselinux1 (>= 3.1~)",
    "libselinux1": "libc6 (>= 2.34), libpcre2-8-0 (>= 10.22)",
    "libblkid1": "libc6 (>= 2.33)",
    "libpcre2-8-0": "libc6 (>= 2.34)",
    "libtirpc3": "libc6 (>= 2.34), libgssapi-krb5-2 (>= 1.17), libtirpc-common (>= 1.3.3+ds-1)",
    "libtirpc-common": "",
    "libgssapi-krb5-2": ("libc6 (>= 2.33), libcom-err2 (>= 1.43.9), libk5crypto3 (>= 1.20), "
                         "libkrb5-3 (= 1.20.1-2+deb12u5), libkrb5support0 (>= 1.15~beta1)"),
    "libcom-err2": "libc6 (>= 2.17)",
    "libk5crypto3": "libc6 (>= 2.33), libkrb5support0 (>= 1.20)",
    "libkrb5-3": ("libc6 (>= 2.34), libcom-err2 (>= 1.43.9), libk5crypto3 (>= 1.20), "
                  "libkeyutils1 (>= 1.5.9), libkrb5support0 (= 1.20.1-2+deb12u5), libssl3 (>= 3.0.0)"),
    "libkrb5support0": "libc6 (>= 2.34)",
    "libkeyutils1": "libc6 (>= 2.17)",
    "libssl3": "libc6 (>= 2.34)",
    "util-linux": "libc6", "libxml2": "libicu72", "libicu72": "libc6", "libcap2": "libc6",
    "libevent-core-2.1-7": "libc6", "rpcbind": "libc6", "adduser": "passwd", "ucf": "debconf",
    "lsb-base": "", "keyutils": "libc6", "gcc-12-base": "",
}

TAKES = [
    dc.Take("mount", ("usr/bin/mount",), ("libc6", "libmount1", "libselinux1")),
    dc.Take("nfs-common", ("usr/sbin/mount.nfs", "usr/sbin/mount.nfs4"), ("libc6", "libmount1", "libtirpc3")),
    dc.Take("netbase", ("etc/",), ()),
]


def control_of(table):
    def lookup(name):
        if name not in table:
            return None
        return dc.parse_control("Package: %s\nVersion: 1\nDepends: %s\n" % (name, table[name]))
    return lookup


def test_control_fields_with_continuation_lines():
    fields = dc.parse_control("Package: libc6\nVersion: 2.36-9\nDescription: GNU C Library\n"
                              " Contains the standard libraries.\n .\n More.\n")
    assert fields["Package"] == "libc6" and fields["Version"] == "2.36-9"
    assert fields["Description"] == "GNU C Library\nContains the standard libraries.\n.\nMore."


def test_bad_control_data_is_named():
    with pytest.raises(dc.DebianClosureError, match="continuation"):
        dc.parse_control(" orphan\nPackage: x\n")
    with pytest.raises(dc.DebianClosureError, match="without a field name"):
        dc.parse_control("Package: x\nnot a field\n")


def test_depends_takes_the_first_alternative_without_versions_or_architectures():
    fields = {"Package": "x", "Pre-Depends": "libc6 (>= 2.34)",
              "Depends": "libssl3t64 (>= 3) | libssl3, libgcc-s1:any,\n libzstd1 [amd64], libc6"}
    assert dc.depends(fields) == ["libc6", "libssl3t64", "libgcc-s1", "libzstd1"]
    assert dc.depends({"Package": "netbase"}) == []
    with pytest.raises(dc.DebianClosureError, match="cannot read the dependency 'Bad Name' of x"):
        dc.depends({"Package": "x", "Depends": "Bad Name"})


def test_the_nfs_tools_closure_is_the_libraries_the_programs_link_and_theirs():
    names = [name for name, _fields in dc.closure(TAKES, control_of(BOOKWORM))]
    assert names[:3] == ["mount", "nfs-common", "netbase"]
    assert sorted(names[3:]) == sorted([
        "libc6", "libgcc-s1", "libmount1", "libselinux1", "libblkid1", "libpcre2-8-0", "libtirpc3",
        "libtirpc-common", "libgssapi-krb5-2", "libcom-err2", "libk5crypto3", "libkrb5-3",
        "libkrb5support0", "libkeyutils1", "libssl3"])
    # What nfs-common needs for its daemons is left out: mount.nfs does not link it.
    assert not {"libxml2", "libicu72", "libcap2", "rpcbind", "adduser", "ucf", "util-linux",
                "gcc-12-base"} & set(names)


def test_zlib_is_a_library_though_not_named_lib():
    assert dc.is_library("zlib1g") and dc.is_library("libssl3t64")
    assert not dc.is_library("gcc-12-base") and not dc.is_library("debconf")
    sid = dict(BOOKWORM, libssl3="libc6 (>= 2.38), libzstd1 (>= 1.5.5), zlib1g (>= 1:1.1.4)",
               libzstd1="libc6", zlib1g="libc6")
    names = [name for name, _f in dc.closure(TAKES, control_of(sid))]
    assert {"zlib1g", "libzstd1"} <= set(names)


def test_the_closure_is_breadth_first_and_stable():
    first = dc.closure(TAKES, control_of(BOOKWORM))
    assert first == dc.closure(TAKES, control_of(BOOKWORM))
    names = [name for name, _f in first]
    assert names.index("libtirpc3") < names.index("libgssapi-krb5-2") < names.index("libkrb5-3")
    assert len(names) == len(set(names))  # libc6 <-> libgcc-s1 is a cycle: each once


def test_a_followed_prefix_finds_the_renamed_library_of_sid():
    sid = dict(BOOKWORM)
    sid["nfs-common"] = sid["nfs-common"].replace("libtirpc3 ", "libtirpc3t64 ")
    sid["libtirpc3t64"] = sid.pop("libtirpc3")
    names = [name for name, _f in dc.closure(TAKES, control_of(sid))]
    assert "libtirpc3t64" in names and "libtirpc3" not in names


def test_a_followed_library_no_longer_depended_on_is_named_with_the_dependencies():
    changed = dict(BOOKWORM, mount="libc6 (>= 2.34), libmount1 (>= 2.38)")
    with pytest.raises(dc.DebianClosureError) as err:
        dc.closure(TAKES, control_of(changed))
    assert "mount depends on no package named libselinux1*" in str(err.value)
    assert "libc6, libmount1" in str(err.value)


def test_a_package_the_archive_lacks_is_named_with_who_needs_it():
    gone = dict(BOOKWORM)
    del gone["libkeyutils1"]
    with pytest.raises(dc.DebianClosureError, match="no package libkeyutils1 .a library of libkrb5-3."):
        dc.closure(TAKES, control_of(gone))
    with pytest.raises(dc.DebianClosureError, match="no package nfs-utils .taken for usr/sbin/mount.nfs."):
        dc.closure([dc.Take("nfs-utils", ("usr/sbin/mount.nfs",), ())], control_of(BOOKWORM))


@pytest.mark.parametrize("path,merged", [
    ("sbin/mount.nfs", "usr/sbin/mount.nfs"),
    ("bin/mount", "usr/bin/mount"),
    ("lib/ld-linux-aarch64.so.1", "usr/lib/ld-linux-aarch64.so.1"),
    ("lib64/ld-linux-loongarch-lp64d.so.1", "usr/lib64/ld-linux-loongarch-lp64d.so.1"),
    ("./usr/sbin/mount.nfs", "usr/sbin/mount.nfs"),
    ("etc/netconfig", "etc/netconfig"),
    ("library/x", "library/x"),
])
def test_paths_of_a_merged_usr_tree(path, merged):
    assert dc.merged_path(path) == merged


def test_links_keep_pointing_at_their_file_once_moved():
    assert dc.merged_link_target("sbin/mount.nfs4", "mount.nfs") == "mount.nfs"
    assert dc.merged_link_target("lib/ld-linux-aarch64.so.1",
                                 "aarch64-linux-gnu/ld-linux-aarch64.so.1") == "aarch64-linux-gnu/ld-linux-aarch64.so.1"
    # lib64/ld.so -> ../lib/x: both move under usr/, the relative link still works.
    assert dc.merged_link_target("lib64/ld.so", "../lib/x/ld.so") == "../lib/x/ld.so"
    # a link from lib/ into usr/lib/ becomes a link inside usr/lib/.
    assert dc.merged_link_target("lib/x/libz.so.1", "../../usr/lib/x/libz.so.1.3") == "libz.so.1.3"
    assert dc.merged_link_target("usr/bin/x", "/bin/y") == "/bin/y"
    with pytest.raises(dc.DebianClosureError, match="leaves the package's tree"):
        dc.merged_link_target("lib/x", "../../y")


def test_the_top_level_links_are_those_of_directories_in_use():
    paths = ["usr/sbin/mount.nfs", "usr/lib/x/libc.so.6", "usr/lib/ld.so", "etc/netconfig", "usr/share/a"]
    assert dc.merged_links(paths) == [("lib", "usr/lib"), ("sbin", "usr/sbin")]


def test_wanted_files_of_a_take_and_of_a_library():
    take = TAKES[1]
    assert dc.wanted("usr/sbin/mount.nfs", take) and not dc.wanted("usr/sbin/rpc.statd", take)
    assert dc.wanted("etc/services", TAKES[2]) and not dc.wanted("usr/share/doc/netbase/copyright", TAKES[2])
    assert dc.wanted("usr/lib/aarch64-linux-gnu/libc.so.6", None)
    assert not dc.wanted("usr/share/doc/libc6/copyright", None)
    assert not dc.wanted("usr/share/lintian/overrides/libc6", None)


def test_a_take_leaves_out_what_its_bang_paths_name():
    take = dc.parse_take("postgresql-15:usr/lib/postgresql/15/lib/,!usr/lib/postgresql/15/lib/llvmjit.so,"
                         "!usr/lib/postgresql/15/lib/bitcode/:libc6")
    assert take.follow == ("libc6",)
    assert dc.wanted("usr/lib/postgresql/15/lib/plpgsql.so", take)
    assert not dc.wanted("usr/lib/postgresql/15/lib/llvmjit.so", take)
    assert not dc.wanted("usr/lib/postgresql/15/lib/bitcode/postgres/main.bc", take)
    assert not dc.wanted("usr/lib/postgresql/15/bin/postgres", take)


@pytest.mark.parametrize("text", ["postgresql-15", ":usr/bin/x", "p::libc6", "p:a:b:c"])
def test_a_bad_take_is_named(text):
    with pytest.raises(dc.DebianClosureError, match="give PACKAGE:PATH"):
        dc.parse_take(text)
