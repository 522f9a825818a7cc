# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the gray-release plan and checks (plugins/module_utils/operations/canary_plan.py and
canary_verify.py), for the canary_release role.

Thin views: the steps, rollback weights, release id, resume index, annotations, backends of
the cross-architecture preset, release window, the metric verdict and the data plane's
checks are computed in module_utils, the same code the canary_weights module runs; the role
never re-derives them in Jinja. Documentation: <filter>.yml beside this.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.xinchuang.cloud.plugins.module_utils.operations import canary_plan as plan
from ansible_collections.xinchuang.cloud.plugins.module_utils.operations import canary_verify as verify
from ansible_collections.xinchuang.cloud.plugins.plugin_utils.common.filters import (
    user_errors_as_filter_errors,
)


def canary_steps(steps):
    """The steps as validated percentages (strictly increasing, 1..100)."""
    return plan.validate_steps(steps)


def canary_plan(stable, canary, steps):
    """The release plan of moving traffic from Service ``stable`` to ``canary``."""
    return plan.release_plan(stable, canary, steps)


def canary_resume_index(annotations, release, resume=True):
    """Index into ``release.plan`` to start from, given the route's annotations."""
    return plan.resume_index(annotations, release["stable"], release["canary"], release["steps"],
                             resume=resume)


def canary_annotations(release, step, state):
    """The route annotations that record ``release`` at step ``step`` in ``state``."""
    return plan.release_annotations(release["release"], step, state)


def canary_backends(deployments, services, app, from_arch, to_arch, version=""):
    """Stable and canary {service, deployment} of the cross_arch preset."""
    return plan.cross_arch_backends(deployments, services, app, from_arch, to_arch, version)


def canary_window(now, start="", end="", days=None):
    """{open, now, message}: whether a release may start at ``now`` (UTC)."""
    return plan.window_state(now, start, end, days)


def canary_query_url(base_url, query):
    """The Prometheus HTTP API URL of an instant query."""
    return verify.prometheus_query_url(base_url, query)


def canary_metric_verdict(response, query, threshold, pass_when="below"):
    """{ok, value, message}: Prometheus's answer against the threshold."""
    return verify.metric_verdict(response, query, threshold, pass_when)


def canary_data_plane_window(window, pause_seconds=0):
    """The PromQL range a step's data plane check covers (``window``, else the pause)."""
    return verify.data_plane_window(window, pause_seconds)


def canary_data_plane_checks(route, weights, data_plane, window="", pause_seconds=0, quantile=0.95):
    """[{backend, measure, query}]: the instant queries judging each backend with traffic."""
    return verify.data_plane_checks(route, weights, data_plane, window, pause_seconds, quantile)


def canary_data_plane_report(results, max_error_ratio, max_latency_seconds=0, min_requests=1):
    """{ok, backends, message}: the data plane's counters per backend against the limits."""
    return verify.data_plane_report(results, max_error_ratio, max_latency_seconds, min_requests)


class FilterModule(object):
    def filters(self):
        return dict((f.__name__, user_errors_as_filter_errors(f)) for f in (
            canary_steps, canary_plan, canary_resume_index, canary_annotations, canary_backends,
            canary_window, canary_query_url, canary_metric_verdict, canary_data_plane_window,
            canary_data_plane_checks, canary_data_plane_report))
