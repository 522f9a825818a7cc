# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The canary_weights reconciler: reads routes, Services and what verify needs; applies what
differs.

The I/O half of the module. Every decision is pure logic elsewhere: the weights and A/B
rules in ``canary_plan``, each provider's object in ``canary_providers``, the verify
arithmetic in ``canary_verify``. Reads and writes go through ``kube.py`` (discovery,
server-side apply with the module's field manager, dry run in check mode); the image check
through ``registry.py``, as image_manifest_info asks. In this order:

1. validate the options before connecting, then that the route kind is served and every
   weighted Service exists (nothing is written on any error);
2. per route: read it, compute the desired object, and when it differs run verify for the
   backends whose share rises, then apply only the fields the module sets. The apply carries
   the resourceVersion read: if the route moved meanwhile it is read again and recomputed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.xinchuang.cloud.plugins.module_utils.operations import canary_plan as plan
from ansible_collections.xinchuang.cloud.plugins.module_utils.operations import canary_providers as prov
from ansible_collections.xinchuang.cloud.plugins.module_utils.operations import canary_verify as checks
from ansible_collections.xinchuang.cloud.plugins.module_utils.cluster import kube
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import client as oci_registry
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError

CONFLICT_RETRIES = 5
# verify_image is a quick pre-check: a short budget, not the registry modules' defaults.
IMAGE_CHECK_TIMEOUT = 15
IMAGE_CHECK_RETRIES = 1


class CanaryReconciler(object):
    """One canary_weights call. ``params`` are the module's options."""

    def __init__(self, params, check_mode=False, diff=False, client=None):
        self.p = params
        self.provider = params["provider"]
        self.namespace = params["namespace"]
        self.check = check_mode
        self.diff = diff
        self.client = client
        # The sub-spec fills type=exact for cookie rules too; the policy decides what is valid.
        match = params["match"]
        if match is not None:
            match = [dict(r, type=None) if r.get("cookie") and r.get("type") == "exact" else r
                     for r in match]
        self.weights, self.match, self.weight_total = plan.validate_request(
            self.provider, params["weights"], match, params["weight_total"])
        self.annotations = params["annotations"] or None
        self.services = {}
        self.verify_report = []
        self._prefetched = {}
        self._ingresses = None

    # -- reads -------------------------------------------------------------------------------

    def connect(self):
        if self.client is None:
            self.client = kube.api_client(self.p)
        api_version, kind = prov.ROUTE_RESOURCES[self.provider]
        try:
            kube.api_resource(self.client, api_version, kind)
        except kube.KubeNotServedError:
            raise XinchuangError(
                "the API server does not serve %s %s: install the %s CRDs first (hack/crds.sh "
                "fetches them from the upstream Go module)" % (
                    api_version, kind, prov.ROUTE_CRDS[self.provider]))
        if self.weights:
            self.services = self._services()

    def _services(self):
        found, missing = {}, []
        for name in self.weights:
            svc = kube.get_object(self.client, "v1", "Service", name, self.namespace)
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

    def _list_routes(self):
        api_version, kind = prov.ROUTE_RESOURCES[self.provider]
        return kube.list_objects(self.client, api_version, kind, self.namespace)

    def prefetch(self, names):
        """One list call for a batch of routes instead of one get each."""
        items = self._list_routes()
        self._prefetched = dict((i["metadata"]["name"], i) for i in items
                                if i["metadata"]["name"] in names)
        if self.provider == "nginx":
            self._ingresses = items

    def route(self, name, fresh=False):
        if not fresh and name in self._prefetched:
            return self._prefetched.pop(name)
        api_version, kind = prov.ROUTE_RESOURCES[self.provider]
        obj = kube.get_object(self.client, api_version, kind, name, self.namespace)
        if obj is None:
            raise XinchuangError(
                "%s %s/%s does not exist; create the route first (this module sets the weights "
                "of an existing route)" % (kind, self.namespace, name))
        return obj

    def ingresses(self, fresh=False):
        if fresh or self._ingresses is None:
            self._ingresses = self._list_routes()
        return self._ingresses

    # -- writes ------------------------------------------------------------------------------

    def _apply(self, current, desired, spec_fields):
        """Apply the fields the module sets; returns comparable() of the stored object."""
        body = kube.apply_configuration(current, desired, self.p["field_manager"], spec_fields)
        written = kube.server_side_apply(self.client, body, self.p["field_manager"],
                                         dry_run=self.check, force=self.p["force_conflicts"])
        return prov.comparable(written)

    # -- verify ------------------------------------------------------------------------------

    def verify(self, previous):
        rising = plan.rising_backends(previous, self.weights)
        if not rising:
            return
        deployments = kube.list_objects(self.client, "apps/v1", "Deployment", self.namespace)
        try:
            nodes = kube.list_objects(self.client, "v1", "Node")
            pods = kube.list_objects(self.client, "v1", "Pod")
        except kube.KubeApiError as exc:
            raise XinchuangError(
                "verify: cannot read Nodes and Pods (%s); give the credentials get/list on nodes "
                "and pods cluster-wide, or set verify: false" % exc)
        failures = []

        def report(backend, check, ok, message):
            self.verify_report.append(dict(backend=backend, check=check, ok=ok, message=message))
            if not ok:
                failures.append(message)

        for name in rising:
            selector = (self.services[name].get("spec") or {}).get("selector") or {}
            mine = [d for d in deployments if plan.selector_matches(
                selector, ((d["spec"].get("template") or {}).get("metadata") or {}).get("labels"))]
            if not mine:
                report(name, "deployment", False, "Service %s selects no Deployment in %s "
                       "(selector %s)" % (name, self.namespace, selector))
                continue
            for dep in mine:
                report(name, "deployment", *checks.deployment_available(dep))
                report(name, "node_room", *checks.node_room(dep, nodes, pods))
                if self.p["verify_image"]:
                    report(name, "image_architecture", *self.image_check(dep, nodes))
        if failures:
            raise XinchuangError(
                "verify: not raising the weight of %s: %s. Nothing was changed; fix the "
                "Deployment or its nodes, or set verify: false" % (", ".join(rising), "; ".join(failures)))

    def image_check(self, deployment, nodes):
        """(ok, reason): every image of the Pods has an entry for each node architecture.

        The same question image_manifest_info answers, asked through the same client
        (module_utils/registry/client.py), for the architectures of the nodes the Pods may run on.
        """
        name = deployment["metadata"]["name"]
        pod_spec = deployment["spec"]["template"].get("spec") or {}
        platforms = checks.node_platforms(checks.eligible_nodes(deployment, nodes))
        if not platforms:
            return False, "Deployment %s: no Ready node to run on, so no architecture to check" % name
        problems, checked = [], []
        for image in checks.pod_images(pod_spec):
            host = image
            try:
                host, ref = checks.image_location(image)
                client = oci_registry.client_for_image_registry(
                    checks.registry_endpoint(host, self.p.get("registry_endpoints")),
                    self.p["registry_auth"], timeout=IMAGE_CHECK_TIMEOUT,
                    retries=IMAGE_CHECK_RETRIES)
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
            except kube.KubeModifiedError:
                time.sleep(0.2 * (attempt + 1))
        raise XinchuangError(
            "route %s/%s kept changing under this task (%d conflicts); try again"
            % (self.namespace, name, CONFLICT_RETRIES))

    def _verify_if_asked(self, previous):
        if self.p["verify"] and self.weights is not None:
            self.verify(previous)

    def _reconcile(self, name, fresh):
        if self.provider == "nginx":
            return self._reconcile_nginx(name, fresh)
        current = self.route(name, fresh)
        previous = prov.route_weights(self.provider, current, self.namespace)
        desired, weights = current, previous
        if self.weights is not None:
            weights = plan.normalise(self.provider, self.weights)
            desired = prov.route_desired(self.provider, current, self.namespace, weights,
                                         self.services, self.match)
        desired = prov.with_annotations(desired, self.annotations)
        result = dict(route=name, previous=previous, weights=weights, changed=False)
        before, after = prov.comparable(current), prov.comparable(desired)
        if before != after:
            self._verify_if_asked(previous)
            after = self._apply(current, desired, prov.SPEC_FIELDS[self.provider])
            result["changed"] = True
        result["annotations"] = after["metadata"]["annotations"]
        if self.diff:
            result["diff"] = dict(before=before, after=after)
        return result

    def _reconcile_nginx(self, name, fresh):
        main = self.route(name, fresh)
        canary_obj = prov.find_nginx_canary(main, self.ingresses(fresh))
        previous = prov.nginx_weights(main, canary_obj)
        result = dict(route=name, previous=previous, weights=previous, changed=False)
        main_desired = prov.with_annotations(main, self.annotations)
        canary_desired = canary_obj
        if self.weights is not None:
            stable, canary = prov.nginx_roles(main, self.weights)
            total = prov.nginx_total(canary_obj, self.weight_total)
            weights = plan.normalise("nginx", self.weights, total)
            canary_desired = prov.nginx_desired_canary(
                main, canary_obj, self.namespace, stable, canary, weights, total, self.services,
                self.match)
            result.update(weights=weights, stable=stable)
        c_before, c_after = prov.comparable(canary_obj), prov.comparable(canary_desired)
        m_before, m_after = prov.comparable(main), prov.comparable(main_desired)
        if c_before != c_after or m_before != m_after:
            self._verify_if_asked(previous)
        # The canary Ingress carries the split: write it first; the route's annotation (the
        # release step) last, so it never claims a step whose weights are not stored yet.
        if c_before != c_after:
            c_after = self._apply(canary_obj, canary_desired, prov.NGINX_CANARY_SPEC_FIELDS)
            result["changed"] = True
        if m_before != m_after:
            m_after = self._apply(main, main_desired, prov.SPEC_FIELDS["nginx"])
            result["changed"] = True
        result["annotations"] = m_after["metadata"]["annotations"]
        if self.diff:
            result["diff"] = dict(before={"ingress": m_before, "canary_ingress": c_before},
                                  after={"ingress": m_after, "canary_ingress": c_after})
        return result

    # -- the call ----------------------------------------------------------------------------

    def run(self):
        """The module's result: changed, the route's fields (or routes), verify, diff."""
        self.connect()
        if self.p["route"]:
            out = self.reconcile(self.p["route"])
            out.pop("route")
            diff = out.pop("diff", None)
            if diff is not None:
                out["diff"] = diff
        else:
            names = self.p["routes"]
            self.prefetch(set(names))
            results = [self.reconcile(n) for n in names]
            out = dict(changed=any(r["changed"] for r in results), routes=results)
            if self.diff:
                out["diff"] = dict(
                    before=dict((r["route"], r["diff"]["before"]) for r in results if r["changed"]),
                    after=dict((r["route"], r["diff"]["after"]) for r in results if r["changed"]))
            for r in results:
                r.pop("diff", None)
        if self.p["verify"]:
            out["verify"] = self.verify_report
        return out
