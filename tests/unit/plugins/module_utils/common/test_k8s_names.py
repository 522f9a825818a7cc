"""Kubernetes' name rules, kept once (plugins/module_utils/common/k8s_names.py) for every role that
names objects. The cases are those of the API machinery's own tests
(k8s.io/apimachinery/pkg/util/validation/validation_test.go: TestIsDNS1123Label,
TestIsDNS1123Subdomain, TestIsDNS1035Label), so a name refused here is one the API server
would refuse too, and the other way round."""

import pytest

from ansible_collections.xinchuang.cloud.plugins.module_utils.common import k8s_names

LABELS = ["a", "ab", "abc", "a1", "a-1", "a--1--2--b", "0", "01", "012", "1a", "1-a", "1--a--b--2", "a" * 63]
NOT_LABELS = ["", "A", "ABC", "aBc", "A1", "A-1", "1-A", "-", "a-", "-a", "1-", "-1", "_", "a_", "_a", "a_b",
              "1_", "_1", "1_2", ".", "a.", ".a", "a.b", "1.", ".1", "1.2", " ", "a ", " a", "a b", "1 ",
              " 1", "1 2", "a" * 64, "a\n", "a.b\n", None, 7, ["a"]]


@pytest.mark.parametrize("value", LABELS)
def test_rfc1123_labels_the_api_accepts(value):
    assert k8s_names.is_rfc1123_label(value)


@pytest.mark.parametrize("value", NOT_LABELS)
def test_rfc1123_labels_the_api_refuses(value):
    assert not k8s_names.is_rfc1123_label(value)


def test_a_label_for_a_name_with_a_suffix_leaves_room_for_it():
    assert k8s_names.is_rfc1123_label("a" * 53, 63 - len("-loongarch"))
    assert not k8s_names.is_rfc1123_label("a" * 54, 63 - len("-loongarch"))


@pytest.mark.parametrize("value", ["a", "ab", "abc", "a1", "a-1", "a--1--2--b", "a" * 63])
def test_rfc1035_labels_the_api_accepts(value):
    assert k8s_names.is_rfc1035_label(value)


@pytest.mark.parametrize("value", ["0", "01", "1a", "1-a", "a" * 64] + NOT_LABELS)
def test_rfc1035_labels_start_with_a_letter(value):
    assert not k8s_names.is_rfc1035_label(value)


@pytest.mark.parametrize("value", LABELS + ["a.a", "ab.ab", "a-1.a-1", "a--1--2--b.a--1--2--b", "0.0", "01.01",
                                            "1-a.1-a", "a.b.c.d.e", "aa.bb.cc.dd.ee", "1.2.3.4.5", "11.22.33.44.55",
                                            "a" * 253, ("a" * 63 + ".") * 3 + "a" * 61])
def test_rfc1123_subdomains_the_api_accepts(value):
    assert k8s_names.is_rfc1123_subdomain(value)


@pytest.mark.parametrize("value", ["", "A", "ABC", "aBc", "A1", "A-1", "1-A", "-", "a-", "-a", "1-", "-1", "_", "a_",
                                   "_a", "a_b", "1_", "_1", "1_2", ".", "a.", ".a", "a..b", "1.", ".1", "1..2", " ",
                                   "a ", " a", "a b", "1 ", " 1", "1 2", "A.a", "aB.a", "ab.A", "A1.a", "a1.A", "A.1",
                                   "aB.1", "A1.1", "1A.1", "0.A", "01.A", "012.A", "1A.a", "1a.A", "A.B.C.D.E",
                                   "AA.BB.CC.DD.EE", "a.B.c.d.e", "aa.bB.cc.dd.ee", "a@b", "a,b", "a_b", "a;b", "a:b",
                                   "a%b", "a?b", "a$b", "a" * 254, "a.b\n", None, 7])
def test_rfc1123_subdomains_the_api_refuses(value):
    assert not k8s_names.is_rfc1123_subdomain(value)
