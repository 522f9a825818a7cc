#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: canary_weights
short_description: Set the traffic split of a route among backend Services
version_added: 0.1.0
author:
  - xinchuang.cloud developers (@xinchuang-cloud)
description:
  - Sets how the requests of one route are shared among N backend Services, for canary and
    cross-architecture releases (for example C86 and ARM Deployments of the same version).
  - C(gateway) (default) writes Gateway API C(HTTPRoute) C(spec.rules[].backendRefs[].weight)
    on every rule that routes to one of the weighted Services.
  - C(istio) writes Istio C(VirtualService) C(spec.http[].route[].weight), normalised to add up
    to 100 by largest-remainder rounding.
  - C(nginx) writes the ingress-nginx canary annotations on the one canary Ingress of the main
    Ingress O(route) (created as C(<route>-canary) when none exists), normalised to
    C(canary-weight-total). Only two backends; more is an error.
  - Validates every input before the first write - weights are non-negative integers with a
    positive total, every weighted Service exists in O(namespace), and with O(verify) the
    backends whose weight rises are ready to take the traffic.
  - Reads the route, computes the desired object, and writes only when it differs, by
    server-side apply of the fields it sets (the weighted rules, its annotations, the canary
    Ingress) as O(field_manager); the apply carries the resourceVersion read, and is computed
    again from a fresh read when the route changed meanwhile. Check mode sends the same apply
    as a server-side dry run, so the API server validates it without storing it.
extends_documentation_fragment:
  - xinchuang.cloud.kube_auth
  - xinchuang.cloud.attributes
options:
  provider:
    description: Which object carries the split.
    type: str
    choices: [gateway, istio, nginx]
    default: gateway
  namespace:
    description: Namespace of the route and of the backend Services.
    type: str
    required: true
  route:
    description:
      - Name of the C(HTTPRoute), C(VirtualService), or main C(Ingress) (nginx).
      - Exactly one of O(route) and O(routes) is required.
    type: str
  routes:
    description:
      - Names of several routes of the same O(provider) and O(namespace) that get the same
        O(weights) in one task (one discovery, one Service lookup, one list of the routes).
      - The result then has one entry per route in RV(routes).
    type: list
    elements: str
  weights:
    description:
      - Mapping of backend Service name to weight (non-negative integer; total above 0).
      - C(gateway) stores the weights as given (they are proportions); C(istio) normalises them
        to 100; C(nginx) to O(weight_total) and needs exactly two Services, the main Ingress's
        backend (stable) and the canary.
      - On C(gateway) and C(istio) the mapping is the whole split - references to other
        Services in the weighted rules are removed; weight 0 keeps a backend listed but idle.
      - Omit it to only read the current weights and annotations.
    type: dict
  match:
    description:
      - A/B rules that send matching requests to one backend whatever the weights.
      - Omitted, the route's current A/B rules stay; V([]) removes them.
      - On C(gateway) and C(istio) each rule becomes a route rule named C(xc-canary-ab-<n>) placed
        before the weighted rule, with its path matches; on C(nginx) at most one header rule
        and one cookie rule, both for the canary backend.
    type: list
    elements: dict
    suboptions:
      backend:
        description: The weighted Service that receives matching requests.
        type: str
        required: true
      header:
        description: Request header name. Without O(match[].value) it must equal C(always).
        type: str
      value:
        description: Header value (O(match[].type=exact)) or pattern (O(match[].type=regex)).
        type: str
      type:
        description: How O(match[].value) is compared.
        type: str
        choices: [exact, regex]
        default: exact
      cookie:
        description: Cookie name; requests whose cookie is C(always) match.
        type: str
  weight_total:
    description:
      - C(nginx) only - the C(canary-weight-total) to normalise to. Defaults to the canary
        Ingress's current value, else 100.
    type: int
  annotations:
    description:
      - Annotations to set on the route object in the same write.
      - A null value removes an annotation this module's O(field_manager) set; one set by
        another tool is refused before anything is written (a server-side apply removes only
        its own fields).
      - The C(canary_release) role keeps the step it reached here, so a release resumes.
    type: dict
  verify:
    description:
      - Before raising a backend's weight, check that the Deployment behind its Service is
        available, and that the Ready nodes matching its C(nodeSelector) have room (pods, CPU,
        memory requests) for its replicas. Needs read access to Deployments, Nodes and Pods.
      - With O(verify_image), also that every image of its Pods has an entry in its image index
        for the architecture (C(kubernetes.io/arch)) of each of those nodes, asked of the
        registry as M(xinchuang.cloud.image_manifest_info) does.
    type: bool
    default: false
  verify_image:
    description:
      - Include the image-index architecture check in O(verify).
    type: bool
    default: true
  field_manager:
    description:
      - Field manager of the server-side apply; the fields it sets are recorded under it.
    type: str
    default: xinchuang.cloud.canary_weights
  force_conflicts:
    description:
      - Take over the fields the split lives in (C(spec.rules), C(spec.http), the canary
        Ingress and the annotations given) when another field manager owns them, as the
        route's author does after C(kubectl apply). V(false) refuses instead, naming the
        managers and fields.
    type: bool
    default: true
  registry_endpoints:
    description:
      - Where the controller reaches a registry of the Pods' images, for O(verify_image), when it
        cannot resolve the name the nodes pull by, as a dict from the registry's name in the
        Pods' images to the host[:port] the controller reaches it at, for example
        C(registry.local:5000) to C(10.20.0.5:5000). A registry not named is read by its own name.
    type: dict
    default: {}
  registry_auth:
    description:
      - Credentials for the registry of the Pods' images, for O(verify_image).
    type: dict
    suboptions:
      username:
        description: Registry user.
        type: str
      password:
        description: Its password. Never logged.
        type: str
      ca_path:
        description: CA bundle that signed the registry's certificate.
        type: path
      validate_certs:
        description: Verify the registry's TLS certificate.
        type: bool
        default: true
attributes:
  check_mode:
    support: full
    description: Sends the write as a server-side dry run; nothing is stored.
notes:
  - The routes must exist; this module changes weights, it does not create routes (except the
    canary Ingress of the C(nginx) provider).
  - In the C(kubernetes) action group, so O(kubeconfig) and friends can be set once through
    C(module_defaults).
seealso:
  - name: Gateway API HTTPRoute weights
    description: Traffic splitting with backendRefs.
    link: https://gateway-api.sigs.k8s.io/guides/traffic-splitting/
  - name: ingress-nginx canary annotations
    description: canary, canary-weight, canary-weight-total, canary-by-header, canary-by-cookie.
    link: https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#canary
"""

EXAMPLES = r"""
- name: Send 10% of the shop's traffic to the ARM Deployment
  xinchuang.cloud.canary_weights:
    kubeconfig: /etc/kubernetes/admin.conf
    namespace: shop
    route: shop
    weights:
      shop-c86: 90
      shop-arm: 10
    verify: true

- name: Same on Istio, testers (header x-canary=always) always reach the canary
  xinchuang.cloud.canary_weights:
    provider: istio
    namespace: shop
    route: shop
    weights: {shop-c86: 2, shop-arm: 1}   # stored as 67 / 33
    match:
      - backend: shop-arm
        header: x-canary

- name: ingress-nginx canary Ingress at 25 per mille
  xinchuang.cloud.canary_weights:
    provider: nginx
    namespace: shop
    route: shop             # the main Ingress; shop-canary is created beside it
    weights: {shop-c86: 975, shop-arm: 25}
    weight_total: 1000

- name: Read the current split and annotations only
  xinchuang.cloud.canary_weights:
    namespace: shop
    route: shop
  register: split

- name: One task for many routes
  xinchuang.cloud.canary_weights:
    namespace: shop
    routes: [shop-web, shop-api, shop-admin]
    weights: {shop-c86: 50, shop-arm: 50}
"""

RETURN = r"""
previous:
  description: Weights before the task, as the provider stored them (single route).
  returned: success, with O(route)
  type: dict
  sample: {shop-c86: 100}
weights:
  description: Weights after the task (in check mode, what they would be), normalised.
  returned: success, with O(route)
  type: dict
  sample: {shop-c86: 90, shop-arm: 10}
annotations:
  description: Annotations of the route object after the task.
  returned: success, with O(route)
  type: dict
  sample: {"xinchuang.cloud/canary-step": "1"}
stable:
  description: C(nginx) only - the main Ingress's Service; the other weighted one is the canary.
  returned: success, provider nginx, with O(route)
  type: str
  sample: shop-c86
verify:
  description: What O(verify) checked, per backend whose weight rises.
  returned: when O(verify=true)
  type: list
  elements: dict
  sample: [{backend: shop-arm, check: deployment, ok: true, message: "Deployment shop-arm: 3/3 replicas available"}]
routes:
  description: With O(routes), one entry per route with route, changed, previous, weights.
  returned: success, with O(routes)
  type: list
  elements: dict
  sample: [{route: shop-web, changed: true, previous: {shop-c86: 1}, weights: {shop-c86: 50, shop-arm: 50}}]
diff:
  description: Before and after of the objects written (spec and annotations).
  returned: when run with C(--diff)
  type: dict
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.xinchuang.cloud.plugins.module_utils.operations import canary_plan as plan
from ansible_collections.xinchuang.cloud.plugins.module_utils.cluster import kube
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import client as oci_registry
from ansible_collections.xinchuang.cloud.plugins.module_utils.operations.canary_providers import MANAGED_BY
from ansible_collections.xinchuang.cloud.plugins.module_utils.operations.canary_reconcile import (
    CanaryReconciler,
)
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError


def argument_spec():
    spec = kube.kube_auth_argument_spec()
    spec.update(
        provider=dict(type="str", choices=list(plan.PROVIDERS), default="gateway"),
        namespace=dict(type="str", required=True),
        route=dict(type="str"),
        routes=dict(type="list", elements="str"),
        weights=dict(type="dict"),
        match=dict(type="list", elements="dict", options=dict(
            backend=dict(type="str", required=True),
            header=dict(type="str"),
            value=dict(type="str"),
            type=dict(type="str", choices=["exact", "regex"], default="exact"),
            cookie=dict(type="str"),
        )),
        weight_total=dict(type="int"),
        annotations=dict(type="dict"),
        verify=dict(type="bool", default=False),
        verify_image=dict(type="bool", default=True),
        registry_endpoints=dict(type="dict", default={}),
        registry_auth=dict(type="dict", options=oci_registry.registry_credentials_argument_spec()),
    )
    # Moving the split of a route its authors wrote is what this module is asked to do, so it
    # takes spec.rules / spec.http over unless told not to (docs/development.md, conflicts).
    spec.update(kube.apply_argument_spec(MANAGED_BY, force_conflicts=True))
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           mutually_exclusive=[("route", "routes")],
                           required_one_of=[("route", "routes")])
    try:
        reconciler = CanaryReconciler(module.params, check_mode=module.check_mode,
                                      diff=module._diff)
        result = reconciler.run()
    except XinchuangError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # pragma: no cover - unexpected: keep the trace for a bug report
        module.fail_json(msg="canary_weights: unexpected error: %s" % exc,
                         exception=traceback.format_exc())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
