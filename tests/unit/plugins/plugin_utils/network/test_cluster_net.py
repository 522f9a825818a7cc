# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cluster network arithmetic: pure functions, checked against the standard library."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

import pytest
from hypothesis import given, strategies as st

from ansible_collections.xinchuang.cloud.plugins.plugin_utils.network import cluster_net


def test_service_ip_of_the_default_range():
    assert cluster_net.cidr_host("10.96.0.0/12") == "10.96.0.1"
    assert cluster_net.cidr_host("10.96.0.0/12", 10) == "10.96.0.10"
    assert cluster_net.cidr_host("10.96.0.0/24", -1) == "10.96.0.255"


def test_host_bits_set_is_refused_with_the_fix():
    with pytest.raises(cluster_net.NetworkValueError, match="10.96.0.1/12.*host bits zero"):
        cluster_net.cidr_host("10.96.0.1/12")


def test_index_outside_the_network():
    with pytest.raises(cluster_net.NetworkValueError, match="does not exist"):
        cluster_net.cidr_host("192.0.2.0/30", 4)


def test_overlaps_are_named():
    assert cluster_net.cidrs_overlap(["10.244.0.0/16", "10.96.0.0/12"]) == []
    assert cluster_net.cidrs_overlap(["10.0.0.0/8", "10.96.0.0/12"]) == ["10.0.0.0/8 overlaps 10.96.0.0/12"]


def test_contains_and_subnets():
    assert cluster_net.cidr_contains("10.96.0.0/12", "10.96.0.10")
    assert not cluster_net.cidr_contains("10.96.0.0/12", "10.244.0.1")
    assert cluster_net.node_subnet_count("10.244.0.0/16", 24) == 256
    assert cluster_net.node_subnet_count("10.244.0.0/16", 8) == 0


@given(st.integers(min_value=0, max_value=2 ** 32 - 1), st.integers(min_value=8, max_value=30),
       st.integers(min_value=0, max_value=3))
def test_cidr_host_agrees_with_ipaddress(addr, prefix, index):
    net = ipaddress.ip_network((addr, prefix), strict=False)
    assert cluster_net.cidr_host(str(net), index) == str(net.network_address + index)
