"""tests/proof/elf.py on hand-made ELF headers: each family's machine, the byte order and
class that rule a machine number out, and what is not ELF at all."""

import io
import struct
import tarfile

import pytest

from tests.proof import elf


def header(machine, bits=64, byteorder="little", tail=b"\0" * 44):
    """An ELF header as a linker writes it, up to e_machine, padded like a real file."""
    ident = b"\x7fELF" + bytes([{32: 1, 64: 2}[bits], {"little": 1, "big": 2}[byteorder], 1, 0])
    ident += b"\0" * 8
    e_type = 2  # ET_EXEC
    fmt = "<HH" if byteorder == "little" else ">HH"
    return ident + struct.pack(fmt, e_type, machine) + tail


# Typed from elf.h, not from the model, so a wrong row of the model fails here.
MACHINES = [(62, "amd64"), (183, "arm64"), (258, "loong64"), (8, "mips64le"),
            (0x9916, "sw64"), (268, "sw64")]


@pytest.mark.parametrize("machine,goarch", MACHINES)
def test_each_family_is_named_by_its_elf_machine(machine, goarch):
    assert elf.goarch_of_bytes(header(machine)) == goarch


@pytest.mark.parametrize("machine,goarch", MACHINES)
def test_a_program_of_its_goarch_matches_and_of_another_does_not(machine, goarch):
    assert elf.machine_mismatch(header(machine), goarch) is None
    others = [g for _m, g in MACHINES if g != goarch]
    for other in others:
        why = elf.machine_mismatch(header(machine), other, "bin/kubelet")
        assert why == "bin/kubelet is a program of %s (ELF machine), not of %s" % (goarch, other)


def test_model_names_are_accepted_for_the_wanted_architecture():
    assert elf.machine_mismatch(header(8), "mips64el") is None
    assert elf.machine_mismatch(header(183), "linux/arm64/v8") is None
    assert elf.machine_mismatch(header(62), "x86_64") is None


def test_big_endian_mips_is_no_family():
    with pytest.raises(elf.UnknownMachineError, match="64-bit big-endian ELF program of e_machine 8"):
        elf.goarch_of_bytes(header(8, byteorder="big"))
    assert "not a program of mips64le" in elf.machine_mismatch(header(8, byteorder="big"), "mips64le")


def test_32_bit_programs_are_no_family():
    # EM_386 is 3; a 32-bit ARM program (EM_ARM 40) and a 32-bit x86-64 ABI file are not arm64/amd64.
    for machine in (3, 40, 62):
        with pytest.raises(elf.UnknownMachineError, match="32-bit"):
            elf.goarch_of_bytes(header(machine, bits=32))


def test_unknown_machine_names_the_number_and_the_known_ones():
    with pytest.raises(elf.UnknownMachineError) as err:
        elf.goarch_of_bytes(header(243), "riscv-prog")  # EM_RISCV
    text = str(err.value)
    assert "riscv-prog" in text and "e_machine 243" in text and "amd64 62" in text


def test_header_fields_are_read_in_the_file_byte_order():
    # 258 = 0x0102: read with the wrong byte order it would be 513.
    assert elf.read_header(header(258)) == elf.ElfHeader(64, "little", 258)
    assert elf.read_header(header(258, byteorder="big")) == elf.ElfHeader(64, "big", 258)


@pytest.mark.parametrize("data", [
    b"#!/bin/sh\nexec kubelet \"$@\"\n",
    b"",
    b"\x7fEL",
    b"MZ\x90\x00" + b"\0" * 60,  # a PE file
    b"\x00asm\x01\x00\x00\x00",  # WebAssembly
])
def test_non_elf_input_is_refused(data):
    with pytest.raises(elf.NotElfError, match="not an ELF file"):
        elf.goarch_of_bytes(data, "cni/bridge")
    assert "not an ELF file" in elf.machine_mismatch(data, "amd64", "cni/bridge")


def test_a_header_cut_before_e_machine_is_refused():
    with pytest.raises(elf.NotElfError, match="cut short"):
        elf.goarch_of_bytes(header(62)[:19])


def test_invalid_class_or_byte_order_is_refused():
    data = bytearray(header(62))
    data[4] = 7
    with pytest.raises(elf.NotElfError, match="invalid ELF class"):
        elf.goarch_of_bytes(bytes(data))


def test_a_file_on_disk(tmp_path):
    path = tmp_path / "kubelet"
    path.write_bytes(header(183) + b"\0" * 4096)
    assert elf.goarch_of_path(str(path)) == "arm64"


def test_a_file_of_an_image_layer_through_a_symlink():
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        data = header(258) + b"\0" * 100
        info = tarfile.TarInfo("bin/busybox")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("bin/sh")
        link.type, link.linkname = tarfile.SYMTYPE, "busybox"
        tar.addfile(link)
        folder = tarfile.TarInfo("etc")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
    raw.seek(0)
    with tarfile.open(fileobj=raw, mode="r") as tar:
        assert elf.goarch_of_member(tar, "bin/busybox") == "loong64"
        assert elf.goarch_of_member(tar, tar.getmember("bin/sh")) == "loong64"
        with pytest.raises(elf.NotElfError, match="etc in the layer is not a file"):
            elf.goarch_of_member(tar, "etc")
