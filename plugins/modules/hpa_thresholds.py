#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: hpa_thresholds
short_description: Per-architecture autoscaling thresholds as HorizontalPodAutoscalers
version_added: "0.1.0"
description:
  - Reconciles C(autoscaling/v2) HorizontalPodAutoscalers for many Deployments or
    StatefulSets in one call, with scale-out and scale-in thresholds chosen by the CPU family
    the workload's Pods run on (the paper's Table 3 by default).
  - The family of a workload comes from its Pod template (C(nodeSelector) or required node
    affinity on C(kubernetes.io/arch), the legacy beta label or C(xinchuang.cloud/arch-family)),
    from the workload annotation C(xinchuang.cloud/hpa-thresholds), or from O(family).
  - "The band: when the API server serves C(behavior.scaleUp.tolerance) and
    C(behavior.scaleDown.tolerance) (HPAConfigurableTolerance, beta since Kubernetes 1.35),
    each metric gets a target T and the HPA shared tolerances u and d with
    T*(1+u) = scale_out and T*(1-d) = scale_in (mode C(tolerance))."
  - "Tolerances are per direction and shared by CPU and memory. When the two metrics need
    different scale_in/scale_out ratios, scale-out stays exact for both, scale-in is exact for
    the metric with the lower ratio and the other metric scales in later than asked (never
    earlier); each result lists what was approximated in RV(workloads[].approximated)."
  - On servers without the field the target is scale_out, the scale-in is slowed by a
    scale-down stabilisation window, and the result says C(mode=fallback).
  - Everything is validated before the first write (thresholds 1-100, scale_in below
    scale_out, min_replicas <= max_replicas, known families, annotations, that the named
    workloads exist); on any error nothing is applied.
  - Reads with one list call per namespace (not one GET per workload), then server-side
    applies, in parallel, only the HPAs whose desired spec differs from the stored one.
    Check mode applies with server-side dry-run.
author:
  - xinchuang.cloud developers (@xinchuang-cloud)
extends_documentation_fragment:
  - xinchuang.cloud.kube_auth
  - xinchuang.cloud.attributes
options:
  namespace:
    description:
      - Namespace of the workloads. Give this or O(all_namespaces).
    type: str
  all_namespaces:
    description:
      - Look for the workloads in every namespace (one cluster-wide list).
    type: bool
    default: false
  names:
    description:
      - Names of the workloads. With O(all_namespaces) an entry may be C(namespace/name); a
        bare name matches that name in every namespace.
      - Every name must exist when O(state=present); the error lists the missing ones.
      - Give this or O(label_selectors).
    type: list
    elements: str
  label_selectors:
    description:
      - Label selectors (C(app=web,tier!=db), C(env in (prod))); workloads matching any of
        them are targeted. Give this or O(names).
    type: list
    elements: str
  kind:
    description:
      - Kind of the workloads.
    type: str
    choices: [Deployment, StatefulSet]
    default: Deployment
  family:
    description:
      - CPU family of every targeted workload, overriding what the Pod templates say. Any name
        the architecture model knows (C(c86), C(arm64), C(loongarch64) ...).
    type: str
  thresholds:
    description:
      - "Per-family overrides of the paper's Table 3, as C({family: {cpu_scale_out, cpu_scale_in,
        memory_scale_out, memory_scale_in}}), percent of the Pods' requests, 1-100, scale_in
        below scale_out. Partial dictionaries keep the other numbers."
      - "Defaults (Table 3): c86 90/45 CPU, 95/50 memory; arm 90/45, 90/40; loongarch 80/40,
        80/35; sw64 75/35, 80/35; mips 70/30, 70/30."
      - "Per workload, the annotation C(xinchuang.cloud/hpa-thresholds) on the Deployment or
        StatefulSet overrides both, as a JSON object with any of the four numbers and
        optionally C(family), C(min_replicas), C(max_replicas), for example
        C({\"cpu_scale_out\": 85, \"family\": \"arm\"})."
    type: dict
    default: {}
  metrics:
    description:
      - Resource metrics the HPAs scale on.
    type: list
    elements: str
    choices: [cpu, memory]
    default: [cpu, memory]
  min_replicas:
    description:
      - Lower bound of replicas (the annotation may override it per workload).
    type: int
    default: 1
  max_replicas:
    description:
      - Upper bound of replicas (the annotation may override it per workload). Required with
        O(state=present).
    type: int
  scale_up:
    description:
      - Optional scale-up rate rules, C(behavior.scaleUp) apart from the tolerance.
    type: dict
    suboptions:
      stabilization_window_seconds:
        description: Seconds of past recommendations considered (0-3600).
        type: int
      select_policy:
        description: Which policy wins when several allow different changes.
        type: str
        choices: [Max, Min, Disabled]
      policies:
        description: "Rate limits, for example C({type: Pods, value: 4, period_seconds: 60})."
        type: list
        elements: dict
        suboptions:
          type:
            description: Pods (absolute) or Percent (of current replicas).
            type: str
            choices: [Pods, Percent]
            required: true
          value:
            description: How many Pods or what percentage per period.
            type: int
            required: true
          period_seconds:
            description: Length of the period (1-1800).
            type: int
            required: true
  scale_down:
    description:
      - Optional scale-down rate rules, C(behavior.scaleDown) apart from the tolerance.
    type: dict
    suboptions:
      stabilization_window_seconds:
        description: Seconds of past recommendations considered (0-3600).
        type: int
      select_policy:
        description: Which policy wins when several allow different changes.
        type: str
        choices: [Max, Min, Disabled]
      policies:
        description: "Rate limits, for example C({type: Pods, value: 4, period_seconds: 60})."
        type: list
        elements: dict
        suboptions:
          type:
            description: Pods (absolute) or Percent (of current replicas).
            type: str
            choices: [Pods, Percent]
            required: true
          value:
            description: How many Pods or what percentage per period.
            type: int
            required: true
          period_seconds:
            description: Length of the period (1-1800).
            type: int
            required: true
  band_mode:
    description:
      - C(auto) detects whether the server keeps C(behavior.*.tolerance) (an HPA already
        stored with it, else one server-side dry-run apply) and uses C(tolerance) or
        C(fallback). The other two force a mode.
    type: str
    choices: [auto, tolerance, fallback]
    default: auto
  fallback_stabilization_window:
    description:
      - Scale-down stabilisation window in seconds in C(fallback) mode, unless O(scale_down)
        sets one.
    type: int
    default: 600
  strict:
    description:
      - Fail, before any write, for a workload whose Pods may run on several CPU families.
        Without it such a workload gets a warning and the thresholds safe for all its
        families (earliest scale-out, latest scale-in).
    type: bool
    default: false
  state:
    description:
      - C(absent) deletes the HPAs this module manages for the targeted workloads (an HPA of
        the same name managed by someone else is left alone, with a warning).
    type: str
    choices: [present, absent]
    default: present
  field_manager:
    description:
      - Field manager of the server-side apply.
    type: str
    default: xinchuang.cloud.hpa_thresholds
  force_conflicts:
    description:
      - Take over fields another field manager owns (for example an HPA made by
        C(kubectl autoscale)) instead of failing with the conflict.
    type: bool
    default: false
  parallel:
    description:
      - Concurrent apply requests.
    type: int
    default: 8
notes:
  - The HPA is named after its workload and labelled C(app.kubernetes.io/managed-by=xinchuang.cloud.hpa_thresholds)
    and C(xinchuang.cloud/arch-family).
  - The controller compares integer utilisation percentages with the band in float64. Strictly
    inside the band it holds, one point beyond it acts, exactly on a threshold either may happen.
seealso:
  - name: HPA configurable tolerance
    description: KEP-4951, behavior.scaleUp/scaleDown.tolerance.
    link: https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#tolerance
"""

EXAMPLES = r"""
- name: Thresholds of Table 3 for every Deployment labelled tier=web
  xinchuang.cloud.hpa_thresholds:
    kubeconfig: /etc/kubernetes/admin.conf
    namespace: shop
    label_selectors: [tier=web]
    min_replicas: 2
    max_replicas: 20

- name: Named StatefulSets, MIPS scale out earlier, fail on mixed-architecture workloads
  xinchuang.cloud.hpa_thresholds:
    namespace: data
    kind: StatefulSet
    names: [kafka-mips, redis-mips]
    thresholds:
      mips: {cpu_scale_out: 65}
    strict: true
    max_replicas: 6
    scale_down:
      stabilization_window_seconds: 120
      policies:
        - {type: Pods, value: 1, period_seconds: 60}

- name: Remove the HPAs again
  xinchuang.cloud.hpa_thresholds:
    namespace: shop
    label_selectors: [tier=web]
    state: absent
"""

RETURN = r"""
mode:
  description: Band mode used for this call (tolerance or fallback); null with state=absent.
  returned: always
  type: str
  sample: tolerance
workloads:
  description: One entry per targeted workload.
  returned: always
  type: list
  elements: dict
  contains:
    namespace: {description: Namespace., type: str, returned: always, sample: shop}
    name: {description: Workload name., type: str, returned: always, sample: web-arm}
    kind: {description: Workload kind., type: str, returned: always, sample: Deployment}
    hpa: {description: Name of the HPA., type: str, returned: always, sample: web-arm}
    family:
      description: CPU family whose thresholds apply; null for a multi-family workload.
      type: str
      returned: state=present
      sample: c86
    families:
      description: Families the Pod template allows.
      type: list
      elements: str
      returned: state=present
      sample: [c86]
    mode: {description: tolerance or fallback., type: str, returned: state=present, sample: tolerance}
    thresholds:
      description: The four percentages used (Table 3, option and annotation merged).
      type: dict
      returned: state=present
      sample: {cpu_scale_out: 90, cpu_scale_in: 45, memory_scale_out: 95, memory_scale_in: 50}
    target:
      description: averageUtilization per metric.
      type: dict
      returned: state=present
      sample: {cpu: 72, memory: 76}
    tolerances:
      description: behavior.scaleUp/scaleDown.tolerance sent (null in fallback mode).
      type: dict
      returned: state=present
      sample: {scale_up: "0.25", scale_down: "0.375"}
    effective:
      description: Where the controller will act, T*(1+u) and T*(1-d), per metric.
      type: dict
      returned: state=present
      sample: {cpu_scale_out: 90.0, cpu_scale_in: 45.0, memory_scale_out: 95.0, memory_scale_in: 47.5}
    approximated:
      description: What could not be expressed exactly, in words.
      type: list
      elements: str
      returned: state=present
      sample: ["memory_scale_in: 50% asked, scales in below 47.50% ..."]
    replicas:
      description: min and max replicas used (option or annotation).
      type: dict
      returned: state=present
      sample: {min: 1, max: 10}
    thresholds_source:
      description: C(table) (Table 3 with the thresholds option) or C(annotation).
      type: str
      returned: state=present
      sample: table
    action:
      description: create, update, delete or none.
      type: str
      returned: always
      sample: none
    changed: {description: Whether this workload's HPA changed (or would)., type: bool, returned: always}
diff:
  description: Before and after of each changed HPA, keyed by namespace/name (with --diff).
  returned: when diff mode is on
  type: dict
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.xinchuang.cloud.plugins.module_utils.operations import hpa_policy as hp
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError
from ansible_collections.xinchuang.cloud.plugins.module_utils.operations.hpa_reconcile import (
    BAND_MODES,
    HpaReconciler,
    scaling_rules_argument_spec,
)
from ansible_collections.xinchuang.cloud.plugins.module_utils.cluster.kube import (
    apply_argument_spec,
    kube_auth_argument_spec,
)


def argument_spec():
    spec = kube_auth_argument_spec()
    spec.update(
        namespace=dict(type="str"),
        all_namespaces=dict(type="bool", default=False),
        names=dict(type="list", elements="str"),
        label_selectors=dict(type="list", elements="str"),
        kind=dict(type="str", default="Deployment", choices=["Deployment", "StatefulSet"]),
        family=dict(type="str"),
        thresholds=dict(type="dict", default={}),
        metrics=dict(type="list", elements="str", choices=list(hp.METRICS),
                     default=list(hp.METRICS)),
        min_replicas=dict(type="int", default=1),
        max_replicas=dict(type="int"),
        scale_up=dict(type="dict", options=scaling_rules_argument_spec()),
        scale_down=dict(type="dict", options=scaling_rules_argument_spec()),
        band_mode=dict(type="str", default="auto", choices=list(BAND_MODES)),
        fallback_stabilization_window=dict(type="int", default=600),
        strict=dict(type="bool", default=False),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        parallel=dict(type="int", default=8),
    )
    # An HPA another tool made (kubectl autoscale) is its decision: not taken over by default.
    spec.update(apply_argument_spec(hp.MANAGED_BY, force_conflicts=False))
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    reconciler = HpaReconciler(module.params, check_mode=module.check_mode, diff=module._diff)
    try:
        result = reconciler.run()
    except XinchuangError as exc:
        for warning in reconciler.warnings:
            module.warn(warning)
        module.fail_json(msg=str(exc))
    except Exception as exc:  # pragma: no cover - unexpected: keep the trace for a bug report
        module.fail_json(msg="hpa_thresholds: unexpected error: %s" % exc,
                         exception=traceback.format_exc())
    for warning in reconciler.warnings:
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
