# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The architecture model: THE table of the five CPU families and every name each goes by.

Everything else in the collection (filters, modules, roles through the filters, the test
bed and the lab) asks this module; no other file spells ``x86_64`` or ``loong64`` as data.
Operating systems are another model (``os_model.py``): any OS may run on any family.

Sources for each name are in ``docs/references.md`` (architecture names):
containerd's own normaliser maps only x86_64 and aarch64, so automation needs this table.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import namedtuple

from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import UnknownArchitectureError
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.host_facts import fact

Family = namedtuple(
    "Family",
    [
        "family",  # the paper's name: c86, arm, loongarch, sw64, mips
        "title",  # how people write it: C86, ARM, LoongArch, SW64, MIPS
        "uname",  # `uname -m` / ansible_architecture
        "goarch",  # Go GOARCH
        "oci_arch",  # OCI platform architecture = node label kubernetes.io/arch
        "oci_variant",  # OCI platform variant, or None
        "deb_arch",  # dpkg architecture
        "rpm_arch",  # RPM architecture
        "vendors",  # typical CPU vendors, the first is the default when facts say nothing
        "upstream_go",  # whether upstream Go can build for it
        "emulator",  # QEMU user-mode binary name, or None when no upstream emulator exists
        "elf_machines",  # ELF e_machine of its programs (64-bit, little-endian), see elf.h
        "aliases",  # every other name the family goes by
    ],
)

FAMILIES = (
    Family(
        family="c86", title="C86", uname="x86_64", goarch="amd64", oci_arch="amd64",
        oci_variant=None, deb_arch="amd64", rpm_arch="x86_64",
        vendors=("hygon", "intel", "amd"), upstream_go=True, emulator=None,
        elf_machines=(62,),
        aliases=("x86-64", "x64", "amd64", "hygon", "em64t"),
    ),
    Family(
        family="arm", title="ARM", uname="aarch64", goarch="arm64", oci_arch="arm64",
        oci_variant="v8", deb_arch="arm64", rpm_arch="aarch64",
        vendors=("phytium", "kunpeng"), upstream_go=True, emulator="qemu-aarch64",
        elf_machines=(183,),
        aliases=("arm64", "armv8", "armv8l", "feiteng", "phytium", "kunpeng"),
    ),
    Family(
        family="loongarch", title="LoongArch", uname="loongarch64", goarch="loong64",
        oci_arch="loong64", oci_variant=None, deb_arch="loong64", rpm_arch="loongarch64",
        vendors=("loongson",), upstream_go=True, emulator="qemu-loongarch64",
        elf_machines=(258,),
        aliases=("loong64", "la64", "loongarch"),
    ),
    Family(
        # No upstream Go, QEMU, Kubernetes or containerd: only the vendor toolchain
        # ("go1.16.4 linux/sw64") builds for it; covered by this table and simulated nodes.
        family="sw64", title="SW64", uname="sw_64", goarch="sw64", oci_arch="sw64",
        oci_variant=None, deb_arch="sw64", rpm_arch="sw_64",
        vendors=("sunway",), upstream_go=False, emulator=None,
        # 0x9916: the vendor toolchains' EM_SW64; 268: EM_SW64 as since allocated in elf.h.
        elf_machines=(0x9916, 268),
        aliases=("sw64", "sunway", "shenwei"),
    ),
    Family(
        # `uname -m` prints mips64 for either byte order; Loongson MIPS runs little-endian.
        family="mips", title="MIPS", uname="mips64", goarch="mips64le", oci_arch="mips64le",
        oci_variant=None, deb_arch="mips64el", rpm_arch="mips64el",
        vendors=("loongson",), upstream_go=True, emulator="qemu-mips64el",
        elf_machines=(8,),
        aliases=("mips64le", "mips64el"),
    ),
)

# Big-endian MIPS is another ABI, not the MIPS family: refuse it rather than guess.
BIG_ENDIAN_MIPS = ("mips64be", "mips64eb")

_BY_FAMILY = dict((f.family, f) for f in FAMILIES)


def _build_alias_index():
    index = {}
    for fam in FAMILIES:
        names = (fam.family, fam.title, fam.uname, fam.goarch, fam.oci_arch, fam.deb_arch,
                 fam.rpm_arch) + fam.aliases
        for name in names:
            key = name.lower()
            owner = index.setdefault(key, fam.family)
            if owner != fam.family:  # pragma: no cover - guards the table itself
                raise AssertionError("alias %r belongs to %s and %s" % (name, owner, fam.family))
    return index


_ALIASES = _build_alias_index()


def known_names():
    """Every accepted architecture name, sorted (for error messages and docs)."""
    return sorted(_ALIASES)


def families():
    """The five family names, in table order."""
    return [f.family for f in FAMILIES]


def _strip_os(name):
    """`linux/arm64/v8` -> ('arm64', 'v8'); `arm64` -> ('arm64', None)."""
    parts = name.split("/")
    if len(parts) >= 2 and parts[0].lower() == "linux":
        return parts[1], (parts[2] if len(parts) > 2 and parts[2] else None)
    if len(parts) == 1:
        return parts[0], None
    raise UnknownArchitectureError(
        "architecture %r: a platform must look like 'linux/<arch>[/<variant>]' (only linux "
        "is supported); accepted architectures: %s" % (name, ", ".join(known_names())))


def lookup(name, byteorder=None):
    """Return the Family row for any name an architecture goes by.

    ``name`` may be a uname/ansible_architecture value, a GOARCH, an OCI platform
    (``linux/arm64/v8``), a dpkg or RPM architecture, or a family name; case does not matter.
    ``byteorder`` ('little' or 'big', e.g. from ``ansible_userspace_bits`` companions or
    ``sys.byteorder``) disambiguates ``mips64``, which `uname -m` prints for both.
    """
    if isinstance(name, Family):
        return name
    if not isinstance(name, str) or not name.strip():
        raise UnknownArchitectureError(
            "architecture %r is not a name; give one of: %s" % (name, ", ".join(known_names())))
    if byteorder not in (None, "little", "big"):
        raise UnknownArchitectureError(
            "byte order %r for architecture %r: use 'little' or 'big'" % (byteorder, name))
    arch, _variant = _strip_os(name.strip())
    key = arch.lower()
    if key in BIG_ENDIAN_MIPS or (key == "mips64" and byteorder == "big"):
        raise UnknownArchitectureError(
            "architecture %r with big-endian byte order is not one of the five families: only "
            "little-endian MIPS (mips64el / GOARCH mips64le, Loongson) is supported" % name)
    try:
        return _BY_FAMILY[_ALIASES[key]]
    except KeyError:
        raise UnknownArchitectureError(
            "unknown architecture %r; accepted names: %s" % (name, ", ".join(known_names())))


def family_of(name, byteorder=None):
    """Any known name -> c86 / arm / loongarch / sw64 / mips."""
    return lookup(name, byteorder).family


def goarch(name, byteorder=None):
    """Any known name -> GOARCH (amd64, arm64, loong64, sw64, mips64le)."""
    return lookup(name, byteorder).goarch


# The node label that carries a node's architecture (its value: the OCI architecture).
NODE_ARCH_LABEL = "kubernetes.io/arch"


def node_arches(names):
    """Any known names -> their node labels ``kubernetes.io/arch`` (the OCI architecture), each
    once, in the order given."""
    out = []
    for name in names or []:
        label = lookup(name).oci_arch
        if label not in out:
            out.append(label)
    return out


def node_affinity(names):
    """A required node affinity to the nodes whose ``kubernetes.io/arch`` is one of ``names``'
    (a Pod template's ``affinity``)."""
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": NODE_ARCH_LABEL, "operator": "In", "values": node_arches(names)}]}]}}}


def oci_platform(name, os_name="linux", with_variant=True):
    """Any known name -> OCI platform string, e.g. ``linux/arm64/v8`` or ``linux/loong64``."""
    fam = lookup(name)
    parts = [os_name, fam.oci_arch]
    if with_variant and fam.oci_variant:
        parts.append(fam.oci_variant)
    return "/".join(parts)


def platform_dict(name, os_name="linux"):
    """OCI descriptor ``platform`` object for a name: {'os', 'architecture'[, 'variant']}."""
    fam = lookup(name)
    out = {"os": os_name, "architecture": fam.oci_arch}
    if fam.oci_variant:
        out["variant"] = fam.oci_variant
    return out


def parse_platform(value):
    """Normalise a user's platform (``linux/arm64``, ``arm64``, or a dict) to a descriptor dict.

    The variant an image declares is kept; the family's default variant is filled in when
    none is given, so ``linux/arm64`` and ``linux/arm64/v8`` compare equal, as containerd does.
    """
    if isinstance(value, dict):
        os_name = value.get("os") or "linux"
        arch = value.get("architecture")
        variant = value.get("variant")
        if not arch:
            raise UnknownArchitectureError(
                "platform %r has no 'architecture'; give e.g. {architecture: arm64}" % (value,))
    else:
        if not isinstance(value, str) or not value.strip():
            raise UnknownArchitectureError(
                "platform %r is empty; give e.g. 'linux/arm64/v8'" % (value,))
        parts = value.strip().split("/")
        if len(parts) == 1:
            os_name, arch, variant = "linux", parts[0], None
        else:
            os_name, arch = parts[0], parts[1]
            variant = parts[2] if len(parts) > 2 and parts[2] else None
    if os_name != "linux":
        raise UnknownArchitectureError(
            "platform %r: os %r is not supported, only 'linux'" % (value, os_name))
    fam = lookup(arch)
    out = {"os": "linux", "architecture": fam.oci_arch}
    chosen = variant or fam.oci_variant
    if chosen:
        out["variant"] = chosen
    return out


def platform_string(platform):
    """Descriptor dict -> ``linux/arm64/v8``."""
    parts = [platform.get("os", "linux"), platform["architecture"]]
    if platform.get("variant"):
        parts.append(platform["variant"])
    return "/".join(parts)


def deb_arch(name):
    return lookup(name).deb_arch


def rpm_arch(name):
    return lookup(name).rpm_arch


def uname_arch(name):
    return lookup(name).uname


# CPU vendor detection: substrings of /proc/cpuinfo values as Ansible reports them
# (ansible_processor), of DMI facts, or ARM implementer codes. Order matters: the
# first vendor whose marker appears wins.
_VENDOR_MARKERS = (
    ("hygon", ("hygongenuine", "hygon")),
    ("intel", ("genuineintel", "intel")),
    ("amd", ("authenticamd", "amd ")),
    ("phytium", ("phytium", "feiteng", "ft-2000", "ft-1500", "d2000", "s2500", "0x70")),
    ("kunpeng", ("kunpeng", "hisilicon", "huawei", "0x48")),
    ("loongson", ("loongson", "3a5000", "3c5000", "3a6000", "3c6000", "3a4000", "3a3000")),
    ("sunway", ("sunway", "shenwei", "sw3231", "sw831", "sw1621")),
)
VENDORS = tuple(vendor for vendor, _markers in _VENDOR_MARKERS) + ("unknown",)


def cpu_vendor(facts):
    """Host facts -> hygon / intel / amd / phytium / kunpeng / loongson / sunway / unknown.

    ``facts`` is a host's facts (``ansible_facts`` or hostvars), or a plain architecture
    name when nothing else is known. LoongArch, SW64 and MIPS have one vendor each, so their
    vendor follows from the architecture; x86_64 and aarch64 need the processor strings.
    """
    if isinstance(facts, str):
        facts = {"ansible_architecture": facts}
    if not isinstance(facts, dict):
        raise UnknownArchitectureError(
            "cpu_vendor expects host facts (a dict such as ansible_facts or hostvars[host]), "
            "got %r" % (type(facts).__name__,))
    arch = fact(facts, "ansible_architecture")
    if not arch:
        raise UnknownArchitectureError(
            "cpu_vendor: the facts have no ansible_architecture; gather facts "
            "(gather_facts: true or ansible.builtin.setup) before asking for the CPU vendor")
    fam = lookup(arch)
    if len(fam.vendors) == 1:
        return fam.vendors[0]
    texts = []
    for key in ("ansible_processor", "ansible_system_vendor", "ansible_product_name",
                "ansible_board_vendor", "ansible_board_name"):
        value = fact(facts, key)
        if isinstance(value, (list, tuple)):
            texts.extend(str(v) for v in value)
        elif value:
            texts.append(str(value))
    haystack = " ".join(texts).lower() + " "
    for vendor, markers in _VENDOR_MARKERS:
        if vendor in fam.vendors and any(m in haystack for m in markers):
            return vendor
    return "unknown"
