"""The OS model: classification of each supported system, the corrections to Ansible's facts,
and the places that must agree with the model (the os_family filter, the preflight role)."""

import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from tests import paths
from ansible_collections.xinchuang.cloud.plugins.filter import os_model as os_filters
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.model import os_model
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import UnsupportedOSError

ROOT = paths.ROOT

# os-release samples as Ansible reports them (docs/references.md, operating systems).
OS_SAMPLES = [
    ({"distribution": "Kylin Linux Advanced Server", "distribution_version": "V10",
      "distribution_major_version": "V10", "distribution_release": "Sword", "os_family": "RedHat"},
     "kylin", "rpm", "dnf"),
    ({"distribution": "Kylin Linux Advanced Server", "distribution_major_version": "V10",
      "distribution_release": "Lance", "os_family": "RedHat"}, "kylin", "rpm", "dnf"),
    ({"distribution": "openEuler", "distribution_major_version": "22",
      "distribution_release": "LTS-SP2", "os_family": "RedHat"}, "openeuler", "rpm", "dnf"),
    ({"distribution": "openEuler", "distribution_major_version": "24",
      "distribution_release": "LTS", "os_family": "RedHat"}, "openeuler", "rpm", "dnf"),
    ({"distribution": "Uos", "distribution_major_version": "20", "distribution_release": "fuyu",
      "os_family": "Debian"}, "uos_server", "rpm", "dnf"),
    ({"distribution": "UnionTech", "distribution_major_version": "20",
      "distribution_release": "kongzi", "os_family": "UnionTech"}, "uos_server", "rpm", "dnf"),
    ({"distribution": "Uos", "distribution_major_version": "20", "distribution_release": "eagle",
      "os_family": "Debian", "pkg_mgr": "apt"}, "uos_desktop", "deb", "apt"),
    ({"distribution": "Anolis", "distribution_major_version": "8", "distribution_release": "NA",
      "os_family": "Anolis"}, "anolis", "rpm", "dnf"),
    ({"distribution": "Anolis", "distribution_major_version": "7", "os_family": "Anolis"},
     "anolis", "rpm", "yum"),
    ({"distribution": "Debian", "distribution_major_version": "12", "os_family": "Debian"},
     "debian", "deb", "apt"),
    ({"distribution": "Ubuntu", "distribution_major_version": "22", "os_family": "Debian"},
     "ubuntu", "deb", "apt"),
    ({"distribution": "Rocky", "distribution_major_version": "9", "os_family": "RedHat"},
     "redhat", "rpm", "dnf"),
    ({"distribution": "CentOS", "distribution_major_version": "7", "os_family": "RedHat"},
     "redhat", "rpm", "yum"),
]


@pytest.mark.parametrize("facts,name,package_family,pkg_mgr", OS_SAMPLES)
def test_os_classification_of_fact_sheet_samples(facts, name, package_family, pkg_mgr):
    result = os_model.classify_os(facts)
    assert (result.name, result.package_family, result.pkg_mgr) == (name, package_family, pkg_mgr)
    assert result.service_mgr == "systemd"


def test_kylin_major_version_string_is_never_compared_as_int():
    # "V10" would break int(); the classifier must take it as it is.
    assert os_model.classify_os({"ansible_distribution": "Kylin Linux Advanced Server",
                                 "ansible_distribution_major_version": "V10",
                                 "ansible_os_family": "RedHat"}).pkg_mgr == "dnf"


def test_unsupported_os_names_it_and_the_fix():
    with pytest.raises(UnsupportedOSError) as err:
        os_model.classify_os({"distribution": "FreeBSD", "os_family": "FreeBSD"})
    assert "'FreeBSD'" in str(err.value) and "Kylin" in str(err.value)
    assert "plugins/plugin_utils/model/os_model.py" in str(err.value)  # where the fix goes


def test_hostvars_and_ansible_facts_shapes_classify_alike():
    bare = {"distribution": "Uos", "distribution_release": "fuyu", "os_family": "Debian"}
    prefixed = dict(("ansible_" + key, value) for key, value in bare.items())
    assert os_model.classify_os(bare) == os_model.classify_os(prefixed)
    assert os_model.classify_os(prefixed).name == "uos_server"


@pytest.mark.parametrize("bad,words", [
    ("Kylin", "expects host facts"),
    ({"os_family": "RedHat"}, "gather facts"),
])
def test_not_facts_or_facts_without_distribution_are_named(bad, words):
    with pytest.raises(UnsupportedOSError, match=words):
        os_model.classify_os(bad)


def test_every_class_is_reachable_from_some_sample():
    reached = {os_model.classify_os(facts).name for facts, _n, _p, _m in OS_SAMPLES}
    reached.add(os_model.classify_os({"distribution": "Kylin", "os_family": "Debian"}).name)
    reached.add(os_model.classify_os({"distribution": "Deepin", "os_family": "Debian"}).name)
    assert reached == set(os_model.supported_os())


# --- the filter -----------------------------------------------------------------------------

def test_os_family_filter_is_the_classification_as_a_dict():
    os_family = os_filters.FilterModule().filters()["os_family"]
    facts = OS_SAMPLES[0][0]
    assert os_family(facts) == dict(os_model.classify_os(facts)._asdict())
    assert os_family(facts)["vars_name"] == "kylin"


def test_os_family_filter_reports_the_models_message_as_a_filter_error():
    os_family = os_filters.FilterModule().filters()["os_family"]
    with pytest.raises(AnsibleFilterError, match="'FreeBSD'"):
        os_family({"distribution": "FreeBSD", "os_family": "FreeBSD"})


# --- the preflight role ---------------------------------------------------------------------

def _load(*path):
    with open(os.path.join(ROOT, *path)) as fh:
        return yaml.safe_load(fh)


def test_preflight_accepts_exactly_the_classes_of_the_model():
    # A class added to the model but not to the role could never pass preflight; a choice
    # the model does not know could never match.
    option = _load("roles", "preflight", "meta", "argument_specs.yml")[
        "argument_specs"]["main"]["options"]["preflight_allowed_os"]
    default = _load("roles", "preflight", "defaults", "main.yml")["preflight_allowed_os"]
    assert sorted(option["choices"]) == os_model.supported_os()
    assert sorted(default) == os_model.supported_os()
