"""The architecture model: every row, every alias, the round trips."""

import os

import pytest
import yaml
from hypothesis import given, strategies as st

from tests import paths
from ansible_collections.xinchuang.cloud.plugins.module_utils.model import arch
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import UnknownArchitectureError

# The table of architecture names in docs/references.md, row by row.
ROWS = [
    # uname, goarch, oci platform, deb, rpm, family, default vendor
    ("x86_64", "amd64", "linux/amd64", "amd64", "x86_64", "c86", "unknown"),
    ("aarch64", "arm64", "linux/arm64/v8", "arm64", "aarch64", "arm", "unknown"),
    ("loongarch64", "loong64", "linux/loong64", "loong64", "loongarch64", "loongarch", "loongson"),
    ("sw_64", "sw64", "linux/sw64", "sw64", "sw_64", "sw64", "sunway"),
    ("mips64", "mips64le", "linux/mips64le", "mips64el", "mips64el", "mips", "loongson"),
]


@pytest.mark.parametrize("uname,goarch,platform,deb,rpm,family,vendor", ROWS)
def test_every_row_maps_each_name(uname, goarch, platform, deb, rpm, family, vendor):
    assert arch.goarch(uname) == goarch
    assert arch.oci_platform(uname) == platform
    assert arch.deb_arch(uname) == deb
    assert arch.rpm_arch(uname) == rpm
    assert arch.family_of(uname) == family
    assert arch.cpu_vendor({"ansible_architecture": uname}) == vendor
    # and back: every other name of the row leads to the same row
    for other in (goarch, platform, deb, rpm, family):
        assert arch.lookup(other).uname == uname


def test_table_has_exactly_the_five_families_in_paper_order():
    assert arch.families() == ["c86", "arm", "loongarch", "sw64", "mips"]


def test_preflight_accepts_exactly_the_families_of_the_table():
    root = paths.ROOT
    with open(os.path.join(root, "roles", "preflight", "meta", "argument_specs.yml")) as fh:
        option = yaml.safe_load(fh)["argument_specs"]["main"]["options"]["preflight_allowed_families"]
    assert option["choices"] == option["default"] == arch.families()


def test_sw64_has_no_upstream_go_and_no_emulator():
    row = arch.lookup("sw_64")
    assert row.upstream_go is False
    assert row.emulator is None
    assert all(arch.lookup(f).upstream_go for f in ("c86", "arm", "loongarch", "mips"))


def test_mips64_is_little_endian_unless_told_big():
    assert arch.goarch("mips64") == "mips64le"
    assert arch.goarch("mips64", byteorder="little") == "mips64le"
    with pytest.raises(UnknownArchitectureError, match="big-endian"):
        arch.goarch("mips64", byteorder="big")
    with pytest.raises(UnknownArchitectureError, match="big-endian"):
        arch.goarch("mips64be")


def test_bad_byteorder_is_named():
    with pytest.raises(UnknownArchitectureError, match="'middle'"):
        arch.goarch("mips64", byteorder="middle")


@pytest.mark.parametrize("bad", ["ppc64le", "s390x", "riscv64", "i386", "armv7l", "", None, 3])
def test_unknown_architecture_error_names_value_and_accepted(bad):
    with pytest.raises(UnknownArchitectureError) as err:
        arch.goarch(bad)
    assert repr(bad) in str(err.value)
    assert "loongarch64" in str(err.value)  # the accepted names are listed


def test_names_are_case_insensitive():
    assert arch.goarch("X86_64") == "amd64"
    assert arch.goarch("LoongArch") == "loong64"
    assert arch.oci_platform("LINUX/ARM64") == "linux/arm64/v8"


def test_platform_without_variant_and_parse_fills_default_variant():
    assert arch.oci_platform("aarch64", with_variant=False) == "linux/arm64"
    assert arch.parse_platform("linux/arm64") == {"os": "linux", "architecture": "arm64", "variant": "v8"}
    assert arch.parse_platform("linux/arm64/v8") == arch.parse_platform("arm64")
    assert arch.parse_platform({"architecture": "loong64"}) == {"os": "linux", "architecture": "loong64"}
    assert arch.platform_string(arch.parse_platform("mips64el")) == "linux/mips64le"


@pytest.mark.parametrize("bad", ["windows/amd64", {"os": "linux"}, "", "darwin/arm64"])
def test_parse_platform_rejects_non_linux_and_empty(bad):
    with pytest.raises(UnknownArchitectureError):
        arch.parse_platform(bad)


HYGON = {"ansible_architecture": "x86_64",
         "ansible_processor": ["0", "HygonGenuine", "Hygon C86 7285 32-core Processor"]}
INTEL = {"ansible_architecture": "x86_64",
         "ansible_processor": ["0", "GenuineIntel", "Intel(R) Xeon(R) Gold 6248"]}
AMD = {"ansible_architecture": "x86_64",
       "ansible_processor": ["0", "AuthenticAMD", "AMD EPYC 7742 64-Core Processor"]}
PHYTIUM = {"ansible_architecture": "aarch64", "ansible_processor": ["0", "Phytium", "FT-2000+/64"]}
KUNPENG = {"ansible_architecture": "aarch64", "ansible_processor": ["0", "HiSilicon", "Kunpeng-920"],
           "ansible_system_vendor": "Huawei"}


@pytest.mark.parametrize("facts,vendor", [
    (HYGON, "hygon"), (INTEL, "intel"), (AMD, "amd"), (PHYTIUM, "phytium"), (KUNPENG, "kunpeng"),
    ({"architecture": "x86_64", "processor": ["0", "HygonGenuine"]}, "hygon"),  # ansible_facts form
    ({"ansible_architecture": "aarch64", "ansible_processor": ["0", "1"]}, "unknown"),
    ("loongarch64", "loongson"),
])
def test_cpu_vendor_from_facts(facts, vendor):
    assert arch.cpu_vendor(facts) == vendor


def test_hygon_is_not_taken_for_amd():
    # Most tools treat Hygon as AMD; the model must not.
    assert arch.cpu_vendor(HYGON) == "hygon"


def test_cpu_vendor_needs_architecture_fact():
    with pytest.raises(UnknownArchitectureError, match="gather facts"):
        arch.cpu_vendor({"ansible_processor": ["HygonGenuine"]})


# --- properties -------------------------------------------------------------------------

ALL_NAMES = arch.known_names()


@given(st.sampled_from(ALL_NAMES))
def test_every_alias_maps_to_exactly_one_family(name):
    def names_of(row):
        return {n.lower() for n in (row.family, row.title, row.uname, row.goarch, row.oci_arch,
                                    row.deb_arch, row.rpm_arch) + row.aliases}

    owners = {row.family for row in arch.FAMILIES if name in names_of(row)}
    assert owners == {arch.family_of(name)}


VIEWS = ["goarch", "oci_platform", "deb_arch", "rpm_arch", "uname_arch", "family_of"]


@given(st.sampled_from(ALL_NAMES), st.sampled_from(VIEWS))
def test_maps_round_trip(name, view):
    converted = getattr(arch, view)(name)
    assert arch.family_of(converted) == arch.family_of(name)
    assert getattr(arch, view)(converted) == converted


@given(st.sampled_from(ALL_NAMES), st.sampled_from([str.upper, str.lower, str.title]))
def test_case_never_changes_the_answer(name, case):
    assert arch.goarch(case(name)) == arch.goarch(name)


def _not_a_known_name(text):
    return text.strip().lower() not in ALL_NAMES and "/" not in text


@given(st.text(min_size=1, max_size=12).filter(_not_a_known_name))
def test_anything_else_is_refused(name):
    with pytest.raises(UnknownArchitectureError):
        arch.goarch(name)


def test_node_arches_and_affinity_name_each_kubernetes_arch_once_in_order():
    # Any name of the model; two names of one architecture give one label.
    assert arch.node_arches(["mips", "kunpeng", "aarch64", "c86"]) == ["mips64le", "arm64", "amd64"]
    term = arch.node_affinity(["loongarch", "x86_64"])["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert term == [{"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In",
                                           "values": ["loong64", "amd64"]}]}]
