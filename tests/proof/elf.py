"""The architecture of a program, read from its ELF header and named by the architecture model.

binfmt_misc runs the binaries of every architecture in every container of this machine, so a
program that ran proves nothing about which machine it was built for; its header does:

    e_ident[EI_CLASS] (byte 4)  1 = 32-bit, 2 = 64-bit
    e_ident[EI_DATA]  (byte 5)  1 = little-endian, 2 = big-endian
    e_machine (bytes 18-19, in the file's byte order)   62 x86-64, 183 AArch64,
                                                        258 LoongArch, 8 MIPS, ...

The e_machine numbers of each family are the model's (``elf_machines`` in
plugins/module_utils/model/arch.py); every family is a 64-bit little-endian ABI (the model refuses
big-endian MIPS), so a 32-bit or big-endian program belongs to none of them, whatever its
machine number. One function per source of bytes:

    goarch_of_bytes(data)             the first bytes of a file (``docker exec host cat FILE``)
    goarch_of_path(path)              a file on this machine
    goarch_of_member(tar, member)     a file of an image layer (tarfile; links followed)
    machine_mismatch(data, goarch)    None, or why data is not a program of goarch
"""

import collections
import struct

from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch

MAGIC = b"\x7fELF"
HEADER_SIZE = 20  # through e_machine
CLASSES = {1: 32, 2: 64}
BYTE_ORDERS = {1: "little", 2: "big"}

ElfHeader = collections.namedtuple("ElfHeader", ["bits", "byteorder", "machine"])


class NotElfError(ValueError):
    """The bytes are not the start of an ELF file (a script, a text file, truncated)."""


class UnknownMachineError(ValueError):
    """An ELF file of no family the architecture model knows."""


def read_header(data, what="data"):
    """The first HEADER_SIZE bytes (or more) of a file -> ElfHeader."""
    data = bytes(data[:HEADER_SIZE])
    if data[:4] != MAGIC:
        raise NotElfError("%s is not an ELF file (starts with %r)" % (what, data[:4]))
    if len(data) < HEADER_SIZE:
        raise NotElfError("%s is an ELF header cut short: %d bytes, e_machine ends at byte %d"
                          % (what, len(data), HEADER_SIZE))
    if data[4] not in CLASSES or data[5] not in BYTE_ORDERS:
        raise NotElfError("%s has an invalid ELF class %d or byte order %d" % (what, data[4], data[5]))
    byteorder = BYTE_ORDERS[data[5]]
    (machine,) = struct.unpack("<H" if byteorder == "little" else ">H", data[18:20])
    return ElfHeader(CLASSES[data[4]], byteorder, machine)


def goarch_of_header(header, what="the program"):
    """ElfHeader -> the GOARCH of the model's family whose programs carry that header."""
    if (header.bits, header.byteorder) == (64, "little"):
        for fam in arch.FAMILIES:
            if header.machine in fam.elf_machines:
                return fam.goarch
    raise UnknownMachineError(
        "%s is a %d-bit %s-endian ELF program of e_machine %d, a machine of none of the "
        "families of plugins/module_utils/model/arch.py (%s)"
        % (what, header.bits, header.byteorder, header.machine,
           ", ".join("%s %s" % (f.goarch, "/".join(str(m) for m in f.elf_machines))
                     for f in arch.FAMILIES)))


def goarch_of_bytes(data, what="data"):
    """The first bytes of a file (at least HEADER_SIZE) -> GOARCH; raises NotElfError or
    UnknownMachineError."""
    return goarch_of_header(read_header(data, what), what)


def goarch_of_path(path):
    with open(path, "rb") as fh:
        return goarch_of_bytes(fh.read(HEADER_SIZE), path)


def goarch_of_member(tar, member):
    """A regular file, or a link to one, in an open tarfile (an image layer) -> GOARCH."""
    name = member if isinstance(member, str) else member.name
    fh = tar.extractfile(member)
    if fh is None:
        raise NotElfError("%s in the layer is not a file" % name)
    return goarch_of_bytes(fh.read(HEADER_SIZE), name)


def machine_mismatch(data, goarch, what="data"):
    """None when data starts a program of GOARCH (any name the model knows), else why not."""
    want = arch.lookup(goarch).goarch
    try:
        got = goarch_of_bytes(data, what)
    except (NotElfError, UnknownMachineError) as exc:
        return "%s, not a program of %s" % (exc, want)
    if got != want:
        return "%s is a program of %s (ELF machine), not of %s" % (what, got, want)
    return None
