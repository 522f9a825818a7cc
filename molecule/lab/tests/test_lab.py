"""What the lab scenario must leave on each host, checked over `docker exec`.

The platform name ends in the host's Debian architecture (xc-mol-<arch>), which
selects the expected values below.
"""

import json

import pytest

# Debian arch -> what the emulated kernel reports, and the facts preflight derives.
EXPECTED = {
    "amd64": {"uname": "x86_64", "goarch": "amd64", "arch_family": "c86"},
    "arm64": {"uname": "aarch64", "goarch": "arm64", "arch_family": "arm"},
    "mips64el": {"uname": "mips64", "goarch": "mips64le", "arch_family": "mips"},
    "loong64": {"uname": "loongarch64", "goarch": "loong64", "arch_family": "loongarch"},
}
FACT_FILE = "/etc/ansible/facts.d/xinchuang.fact"


@pytest.fixture(name="expected")
def fixture_expected(host):
    name = host.backend.get_hostname()
    arch = name.rsplit("-", 1)[-1]
    assert arch in EXPECTED, f"platform {name!r} does not end in one of {sorted(EXPECTED)}"
    return EXPECTED[arch]


@pytest.fixture(name="local_facts")
def fixture_local_facts(host):
    fact_file = host.file(FACT_FILE)
    assert fact_file.is_file, f"{FACT_FILE} missing: did the preflight role run?"
    return json.loads(fact_file.content_string)


def test_uname_reports_the_emulated_architecture(host, expected):
    assert host.check_output("uname -m") == expected["uname"]


def test_fact_file_records_goarch_and_family(local_facts, expected):
    assert local_facts["goarch"] == expected["goarch"]
    assert local_facts["arch_family"] == expected["arch_family"]


def test_fact_file_platform_matches_goarch(local_facts, expected):
    # linux/<goarch>, with a variant where the architecture has one (linux/arm64/v8)
    assert local_facts["oci_platform"].split("/")[:2] == ["linux", expected["goarch"]]


def test_fact_file_names_a_cpu_vendor(local_facts):
    assert isinstance(local_facts["cpu_vendor"], str) and local_facts["cpu_vendor"]
