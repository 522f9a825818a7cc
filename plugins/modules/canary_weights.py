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
  - Reads the route, computes the desired object, and writes only when it differs (HTTP PUT
    with the object's resourceVersion, retried on conflict). Check mode sends the same write as
    a server-side dry run, so the API server validates it without storing it.
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
      - Annotations to set on the route object in the same write (a null value removes one).
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

import copy
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.xinchuang.cloud.plugins.module_utils import canary_policy as policy
from ansible_collections.xinchuang.cloud.plugins.module_utils.errors import XinchuangError
from ansible_collections.xinchuang.cloud.plugins.module_utils.kube import (
    dynamic_client,
    kube_auth_argument_spec,
)

try:
    from kubernetes.dynamic.exceptions import ConflictError, DynamicApiError, NotFoundError
except ImportError:  # reported by dynamic_client with the fix
    ConflictError = DynamicApiError = NotFoundError = Exception

from ansible_collections.xinchuang.cloud.plugins.module_utils import manifest_index
from ansible_collections.xinchuang.cloud.plugins.module_utils import registry as oci_registry

FIELD_MANAGER = "xinchuang.cloud.canary_weights"
CONFLICT_RETRIES = 5


def _api_message(exc):
    try:
        return exc.summary()
    except Exception:
        return str(exc)


class Canary(object):
    """One task's connection, caches and mode; one ``reconcile`` per route."""

    def __init__(self, module):
        self.module = module
        p = module.params
        self.provider = p["provider"]
        self.namespace = p["namespace"]
        self.check = module.check_mode
        self.want_diff = module._diff
        self.weights = (policy.validate_weights(p["weights"], self.provider)
                        if p["weights"] is not None else None)
        self.match = (policy.validate_match(p["match"], self.weights or {}, self.provider)
                      if p["match"] is not None else None)
        if self.match is not None and self.weights is None:
            raise policy.CanaryPolicyError("match needs weights: give the weights of the backends too")
        if p["weight_total"] is not None and self.provider != "nginx":
            raise policy.CanaryPolicyError(
                "weight_total is the canary-weight-total of the nginx provider; drop it for "
                "provider %s" % self.provider)
        if p["weight_total"] is not None and p["weight_total"] <= 0:
            raise policy.CanaryPolicyError(
                "weight_total must be a positive integer, got %d" % p["weight_total"])
        self.annotations = p["annotations"] or None
        self.client = dynamic_client(p)
        api_version, kind = policy.ROUTE_RESOURCES[self.provider]
        try:
            self.routes_api = self.client.resources.get(api_version=api_version, kind=kind)
        except Exception:
            raise XinchuangError(
                "the API server does not serve %s %s: install the %s CRDs first (hack/crds.sh "
                "fetches them from the upstream Go module)" % (
                    api_version, kind, {"gateway": "Gateway API", "istio": "Istio"}.get(
                        self.provider, "networking.k8s.io")))
        self.services_api = self.client.resources.get(api_version="v1", kind="Service")
        self.services = self._services() if self.weights else {}
        self.verify_report = []

    # -- reads -------------------------------------------------------------------------------

    def _get(self, api, name):
        try:
            return api.get(name=name, namespace=self.namespace).to_dict()
        except NotFoundError:
            return None

    def _services(self):
        found, missing = {}, []
        for name in self.weights:
            svc = self._get(self.services_api, name)
            if svc is None:
                missing.append(name)
            else:
                found[name] = svc
        if missing:
            raise XinchuangError(
                "weights name Services that do not exist in namespace %s: %s; create them (one "
                "per backend Deployment) or fix the names. Nothing was changed"
                % (self.namespace, ", ".join(missing)))
        return found

    def prefetch(self, names):
        """One list call for a batch of routes instead of one get each."""
        items = self.routes_api.get(namespace=self.namespace).to_dict().get("items") or []
        self._prefetched = dict((i["metadata"]["name"], i) for i in items if i["metadata"]["name"] in names)
        if self.provider == "nginx":
            self._ingresses = items

    def route(self, name, fresh=False):
        cached = getattr(self, "_prefetched", {})
        if not fresh and name in cached:
            obj = cached.pop(name)
        else:
            obj = self._get(self.routes_api, name)
        if obj is None:
            _api, kind = policy.ROUTE_RESOURCES[self.provider]
            raise XinchuangError(
                "%s %s/%s does not exist; create the route first (this module sets the weights "
                "of an existing route)" % (kind, self.namespace, name))
        for key in ("apiVersion", "kind"):
            obj.setdefault(key, dict(zip(("apiVersion", "kind"), policy.ROUTE_RESOURCES[self.provider]))[key])
        return obj

    def ingresses(self, fresh=False):
        if fresh or not hasattr(self, "_ingresses"):
            self._ingresses = self.routes_api.get(namespace=self.namespace).to_dict().get("items") or []
        return self._ingresses

    # -- writes ------------------------------------------------------------------------------

    def _write(self, obj, create=False):
        kwargs = {"namespace": self.namespace, "field_manager": FIELD_MANAGER}
        if self.check:
            kwargs["dry_run"] = "All"
        obj = copy.deepcopy(obj)
        obj.pop("status", None)
        try:
            if create:
                return self.routes_api.create(body=obj, **kwargs).to_dict()
            return self.routes_api.replace(body=obj, **kwargs).to_dict()
        except DynamicApiError as exc:
            if isinstance(exc, ConflictError):
                raise  # reconcile() reads the route again and retries
            raise XinchuangError(
                "the API server refused %s %s/%s: %s; nothing was changed" % (
                    obj.get("kind"), self.namespace, obj["metadata"]["name"], _api_message(exc)))

    # -- verify ------------------------------------------------------------------------------

    def verify(self, previous):
        rising = policy.rising_backends(previous, self.weights)
        if not rising:
            return
        apps = self.client.resources.get(api_version="apps/v1", kind="Deployment")
        deployments = apps.get(namespace=self.namespace).to_dict().get("items") or []
        try:
            nodes = self.client.resources.get(api_version="v1", kind="Node").get().to_dict()["items"]
            pods = self.client.resources.get(api_version="v1", kind="Pod").get().to_dict()["items"]
        except DynamicApiError as exc:
            raise XinchuangError(
                "verify: cannot read Nodes and Pods (%s); give the credentials get/list on nodes "
                "and pods cluster-wide, or set verify: false" % _api_message(exc))
        failures = []
        for name in rising:
            selector = (self.services[name].get("spec") or {}).get("selector") or {}
            mine = [d for d in deployments if policy.selector_matches(
                selector, ((d["spec"].get("template") or {}).get("metadata") or {}).get("labels"))]
            if not mine:
                failures.append("Service %s selects no Deployment in %s (selector %s)" % (
                    name, self.namespace, selector))
                self.verify_report.append(dict(backend=name, check="deployment", ok=False,
                                               message=failures[-1]))
                continue
            for dep in mine:
                for check, (ok, msg) in (("deployment", policy.deployment_available(dep)),
                                         ("node_room", policy.node_room(dep, nodes, pods))):
                    self.verify_report.append(dict(backend=name, check=check, ok=ok, message=msg))
                    if not ok:
                        failures.append(msg)
                if self.module.params["verify_image"]:
                    ok, msg = self.image_check(dep, nodes)
                    self.verify_report.append(dict(backend=name, check="image_architecture",
                                                   ok=ok, message=msg))
                    if not ok:
                        failures.append(msg)
        if failures:
            raise XinchuangError(
                "verify: not raising the weight of %s: %s. Nothing was changed; fix the "
                "Deployment or its nodes, or set verify: false" % (", ".join(rising), "; ".join(failures)))

    def image_check(self, deployment, nodes):
        """(ok, reason): every image of the Pods has an entry for each node architecture.

        The same question image_manifest_info answers, asked through the same client
        (module_utils/registry.py), for the architectures of the nodes the Pods may run on.
        """
        name = deployment["metadata"]["name"]
        pod_spec = deployment["spec"]["template"].get("spec") or {}
        platforms = policy.node_platforms(policy.eligible_nodes(deployment, nodes))
        if not platforms:
            return False, "Deployment %s: no Ready node to run on, so no architecture to check" % name
        auth = self.module.params["registry_auth"]
        problems, checked = [], []
        for image in policy.pod_images(pod_spec):
            host, rest = policy.split_image(image)
            try:
                # A quick pre-check: a short budget, not the registry modules' defaults.
                client = oci_registry.client_for_image_registry(host, auth, timeout=15, retries=1)
                ref = manifest_index.parse_reference(rest)
                client.add_scope(ref.repository, "pull")
                info = oci_registry.inspect_reference(client, ref, platforms)
            except XinchuangError as exc:
                problems.append("cannot inspect image %s (%s); give registry_auth for its registry, "
                                "or set verify_image: false" % (image, exc))
                continue
            if not info["exists"]:
                problems.append("image %s does not exist in %s" % (image, host))
            elif info["missing_platforms"]:
                problems.append("image %s has no entry for %s (it has %s) but the Pods of %s run "
                                "on nodes of that architecture" % (
                                    image, ", ".join(info["missing_platforms"]),
                                    ", ".join(info["platforms"]) or "none", name))
            else:
                checked.append(image)
        if problems:
            return False, "Deployment %s: %s" % (name, "; ".join(problems))
        return True, "Deployment %s: %s has %s" % (name, ", ".join(checked), ", ".join(platforms))

    # -- one route ---------------------------------------------------------------------------

    def reconcile(self, name):
        for attempt in range(CONFLICT_RETRIES):
            try:
                return self._reconcile(name, fresh=attempt > 0)
            except ConflictError:
                time.sleep(0.2 * (attempt + 1))
        raise XinchuangError(
            "route %s/%s kept changing under this task (%d conflicts); try again"
            % (self.namespace, name, CONFLICT_RETRIES))

    def _reconcile(self, name, fresh):
        if self.provider == "nginx":
            return self._reconcile_nginx(name, fresh)
        current = self.route(name, fresh)
        if self.provider == "gateway":
            previous = policy.gateway_weights(current, self.namespace)
        else:
            previous = policy.istio_weights(current, self.namespace)
        desired, weights = current, previous
        if self.weights is not None:
            weights = policy.normalise(self.provider, self.weights)
            build = policy.gateway_desired if self.provider == "gateway" else policy.istio_desired
            desired = build(current, self.namespace, weights, self.services, self.match)
        desired = policy.with_annotations(desired, self.annotations)
        result = dict(route=name, previous=previous, weights=weights, changed=False)
        before, after = policy.comparable(current), policy.comparable(desired)
        if before != after:
            if self.module.params["verify"] and self.weights is not None:
                self.verify(previous)
            written = self._write(desired)
            after = policy.comparable(written)
            result["changed"] = True
        result["annotations"] = after["metadata"]["annotations"]
        if self.want_diff:
            result["diff"] = dict(before=before, after=after)
        return result

    def _reconcile_nginx(self, name, fresh):
        main = self.route(name, fresh)
        canary_obj = policy.find_nginx_canary(main, self.ingresses(fresh))
        previous = policy.nginx_weights(main, canary_obj)
        result = dict(route=name, previous=previous, weights=previous, changed=False)
        main_desired = policy.with_annotations(main, self.annotations)
        canary_desired = canary_obj
        if self.weights is not None:
            stable, canary = policy.nginx_roles(main, self.weights)
            total = policy.nginx_total(canary_obj, self.module.params["weight_total"])
            weights = policy.normalise("nginx", self.weights, total)
            canary_desired = policy.nginx_desired_canary(
                main, canary_obj, self.namespace, stable, canary, weights, total, self.services,
                self.match)
            result.update(weights=weights, stable=stable)
        c_before, c_after = policy.comparable(canary_obj), policy.comparable(canary_desired)
        m_before, m_after = policy.comparable(main), policy.comparable(main_desired)
        if (c_before != c_after or m_before != m_after) and self.module.params["verify"] \
                and self.weights is not None:
            self.verify(previous)
        # The canary Ingress carries the split: write it first; the route's annotation (the
        # release step) last, so it never claims a step whose weights are not stored yet.
        if c_before != c_after:
            written = self._write(canary_desired, create=canary_obj is None)
            c_after = policy.comparable(written)
            result["changed"] = True
        if m_before != m_after:
            written = self._write(main_desired)
            m_after = policy.comparable(written)
            result["changed"] = True
        result["annotations"] = m_after["metadata"]["annotations"]
        if self.want_diff:
            result["diff"] = dict(before={"ingress": m_before, "canary_ingress": c_before},
                                  after={"ingress": m_after, "canary_ingress": c_after})
        return result


def main():
    argument_spec = dict(
        provider=dict(type="str", choices=list(policy.PROVIDERS), default="gateway"),
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
        registry_auth=dict(type="dict", options=oci_registry.registry_credentials_argument_spec()),
    )
    argument_spec.update(kube_auth_argument_spec())
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[("route", "routes")],
        required_one_of=[("route", "routes")],
    )
    # The sub-spec fills type=exact for cookie rules too; the policy decides what is valid.
    for rule in module.params["match"] or []:
        if rule.get("cookie") and rule.get("type") == "exact":
            rule["type"] = None
    try:
        canary = Canary(module)
        if module.params["route"]:
            result = canary.reconcile(module.params["route"])
            diff = result.pop("diff", None)
            result.pop("route")
            out = dict(result, changed=result["changed"])
            if diff is not None:
                out["diff"] = diff
        else:
            names = module.params["routes"]
            canary.prefetch(set(names))
            results = [canary.reconcile(n) for n in names]
            out = dict(changed=any(r["changed"] for r in results), routes=results)
            if module._diff:
                out["diff"] = dict(
                    before=dict((r["route"], r["diff"]["before"]) for r in results if r["changed"]),
                    after=dict((r["route"], r["diff"]["after"]) for r in results if r["changed"]))
                for r in results:
                    r.pop("diff", None)
        if module.params["verify"]:
            out["verify"] = canary.verify_report
        module.exit_json(**out)
    except XinchuangError as exc:
        module.fail_json(msg=str(exc))
    except DynamicApiError as exc:
        module.fail_json(msg="Kubernetes API error: %s" % _api_message(exc))


if __name__ == "__main__":
    main()
