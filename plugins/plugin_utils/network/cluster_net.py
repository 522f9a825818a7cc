# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Address arithmetic of a cluster's networks (Service range, Pod range, node subnets).

Pure functions over the standard library's ipaddress, so that roles need no netaddr on the
controller. Errors name the value and the fix.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError


class NetworkValueError(XinchuangError, ValueError):
    """A CIDR or address that cannot serve the cluster."""


def network(cidr, what="CIDR"):
    """Parse a CIDR strictly: 10.96.0.0/12, not 10.96.0.1/12."""
    try:
        return ipaddress.ip_network(u"%s" % (cidr,), strict=True)
    except ValueError as err:
        raise NetworkValueError(
            "%s %r is not a network in CIDR form (%s); write it as ADDRESS/PREFIX with the host "
            "bits zero, e.g. 10.96.0.0/12" % (what, cidr, err))


def cidr_host(cidr, index=1):
    """The index-th address of a network: cidr_host('10.96.0.0/12') -> '10.96.0.1'."""
    net = network(cidr)
    index = int(index)
    if index < 0:
        index = net.num_addresses + index
    if not 0 <= index < net.num_addresses:
        raise NetworkValueError("address %d does not exist in %s (%d addresses)"
                                % (index, cidr, net.num_addresses))
    return str(net[index])


def cidrs_overlap(cidrs):
    """The pairs of networks among cidrs that overlap, as 'A overlaps B' strings."""
    nets = [(c, network(c)) for c in cidrs]
    found = []
    for i, (name_a, net_a) in enumerate(nets):
        for name_b, net_b in nets[i + 1:]:
            if net_a.version == net_b.version and net_a.overlaps(net_b):
                found.append("%s overlaps %s" % (name_a, name_b))
    return found


def cidr_contains(cidr, address):
    """Whether address lies in cidr."""
    net = network(cidr)
    try:
        return ipaddress.ip_address(u"%s" % (address,)) in net
    except ValueError:
        raise NetworkValueError("%r is not an IP address" % (address,))


def node_subnet_count(cidr, mask_size):
    """How many node subnets of /mask_size the Pod range holds (0 if the mask is too short)."""
    net = network(cidr)
    mask_size = int(mask_size)
    if mask_size < net.prefixlen or mask_size > net.max_prefixlen:
        return 0
    return 2 ** (mask_size - net.prefixlen)
