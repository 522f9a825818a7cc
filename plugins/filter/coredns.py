# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the cluster DNS logic (plugins/plugin_utils/cluster/corefile.py).

Thin views for the coredns role's templates and tasks; documentation: <filter>.yml beside this.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64

from ansible.errors import AnsibleFilterError

from ansible_collections.xinchuang.cloud.plugins.plugin_utils.cluster import corefile as model
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.common.filters import (
    user_errors_as_filter_errors,
)


def corefile(options=None):
    """Corefile options (dict) -> Corefile text."""
    return model.render_corefile(options)


def coredns_root_zone(cluster_domain="cluster.local", ttl=30):
    """Cluster domain -> zone file of the empty root zone (air-gapped mode)."""
    return model.root_zone(cluster_domain, ttl)


def resolv_conf(text):
    """resolv.conf text -> {nameservers, search, options, loopback, upstream, loopback_only}."""
    return model.classify_resolv_conf(text)


def _files_from_slurp(results):
    """slurp results of a loop (``register: x`` → ``x.results``) -> {path: text or None}."""
    files = {}
    for res in results:
        path = res.get("item")
        if res.get("failed") or "content" not in res:
            files[path] = None
            continue
        files[path] = base64.b64decode(res["content"]).decode("utf-8", "replace")
    return files


def dns_resolver_plan(files, upstreams=None, air_gapped=False, resolv_conf="/etc/resolv.conf",
                      candidates=None, generated_path="/etc/kubernetes/resolv.conf", host=None):
    """Node resolv.conf files -> which file kubelet gets and where CoreDNS forwards."""
    if isinstance(files, list):
        files = _files_from_slurp(files)
    if not isinstance(files, dict):
        raise AnsibleFilterError("dns_resolver_plan expects {path: text} or the results of a "
                                 "slurp loop, got %s" % type(files).__name__)
    if candidates is None:
        candidates = model.STUB_RESOLV_CANDIDATES
    return model.resolver_plan(files, upstreams=upstreams, air_gapped=air_gapped,
                               resolv_conf=resolv_conf, candidates=candidates,
                               generated_path=generated_path, host=host)


def dns_upstreams(values):
    """Forwarders -> canonical forward-plugin texts (10.0.0.2, 10.0.0.3:5353, tls://...)."""
    return model.normalize_upstreams(values)


def loopback_upstreams(values):
    """Forwarders -> those that point at the host (or the Pod) itself."""
    return model.loopback_upstreams(values)


class FilterModule(object):
    def filters(self):
        return {
            "corefile": user_errors_as_filter_errors(corefile),
            "coredns_root_zone": user_errors_as_filter_errors(coredns_root_zone),
            "resolv_conf": user_errors_as_filter_errors(resolv_conf),
            "dns_resolver_plan": user_errors_as_filter_errors(dns_resolver_plan),
            "dns_upstreams": user_errors_as_filter_errors(dns_upstreams),
            "loopback_upstreams": user_errors_as_filter_errors(loopback_upstreams),
        }
