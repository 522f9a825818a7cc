"""A role's settings as its rules read them (plugins/module_utils/common/role_settings.py): the rules'
defaults for what the role left unset, and an unknown name named with the known ones."""

from ansible_collections.xinchuang.cloud.plugins.module_utils.common import role_settings

DEFAULTS = {"replicas": 1, "name": None, "port": 8080}


def test_unset_values_take_the_rules_defaults_and_set_ones_are_kept():
    settings, problems = role_settings.filled({"replicas": "", "name": "shop", "port": None}, DEFAULTS)
    assert settings == {"replicas": 1, "name": "shop", "port": 8080} and problems == []
    assert role_settings.filled(None, DEFAULTS) == (DEFAULTS, [])
    assert role_settings.filled({"replicas": 0}, DEFAULTS)[0]["replicas"] == 0


def test_an_unknown_name_is_one_problem_naming_the_known_ones():
    _settings, problems = role_settings.filled({"replica": 2, "prot": 80}, DEFAULTS, "app settings")
    assert problems == ["unknown app settings prot, replica: known are name, port, replicas"]
