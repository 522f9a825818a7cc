"""The busybox applet reader (plugins/module_utils/images/busybox_applets.py) on hand-made applet
tables: the image builder reads the applets of a busybox of any architecture without running
it."""

import struct

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.images import busybox_applets


APPLETS = sorted(["[", "[[", "ash", "cat", "echo", "env", "grep", "ip", "ls", "mkdir", "mount",
                  "nslookup", "ping", "ps", "rm", "sed", "sh", "sleep", "tar", "test", "true",
                  "uname", "wget"])


def fake_busybox(names, before=b"\x7fELF\x02\x01\x01" + b"\0" * 40 + b"usage: %s\0\xae\x01 "):
    """Code, then the applet table glued to the end of other data (not aligned, no NUL before
    it, as in sid's loong64 busybox), then other strings."""
    table = b"\0".join(n.encode() for n in names) + b"\0"
    return before + table + b"\x00\x01\x02" + struct.pack("<I", 7) + b"zeta\0alpha\0beta\0"


def test_applets_are_read_from_the_table_even_glued_to_other_data():
    assert busybox_applets.applets(fake_busybox(APPLETS)) == APPLETS


def test_applets_after_a_nul_are_read_too():
    assert busybox_applets.applets(fake_busybox(APPLETS, before=b"abc\0")) == APPLETS


def test_a_binary_without_a_table_is_refused():
    with pytest.raises(ValueError, match="no applet table found"):
        busybox_applets.applets(b"\x7fELF" + b"\0".join([b"b", b"a", b"c"] * 30))


def test_a_table_without_sh_or_sleep_is_refused():
    names = [n for n in APPLETS if n not in ("sh", "sleep")]
    with pytest.raises(ValueError, match="lacks sh, sleep"):
        busybox_applets.applets(fake_busybox(names))
