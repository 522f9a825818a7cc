# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Harbor's REST API v2.0 over the collection's registry client.

The HTTP layer is ``registry.RegistryClient``, the one image_manifest and image_sync use:
the CA file per request, retries with backoff on 429/5xx and dropped connections (never for
a POST, which could create twice), HTTP basic credentials sent up front, no cookies (Harbor
refuses writes of a client that returns its session cookie without a CSRF token). This file
adds JSON, paging and the translation of Harbor's error answers (``harbor_policy``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

try:
    from urllib.parse import quote, urlencode
except ImportError:  # pragma: no cover - Python 2 has no target here
    from urllib import quote, urlencode

from ansible_collections.xinchuang.cloud.plugins.module_utils.harbor import policy as hp
from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import client as reg
from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError

API = "/api/v2.0"
PAGE_SIZE = 100  # Harbor's maximum


def harbor_argument_spec():
    """Connection options of every Harbor module (doc fragment ``harbor_auth``; set them once
    with ``module_defaults: {group/xinchuang.cloud.harbor: ...}``): the registry modules'
    options, Harbor's address called ``url``."""
    spec = reg.registry_argument_spec()
    spec["url"] = spec.pop("registry")
    return spec


HARBOR_REQUIRED_TOGETHER = [["username", "password"]]


def connect(module):
    """The HarborApi of a module's connection options (fails the module when the Python
    library ``requests`` is missing)."""
    if not reg.HAS_REQUESTS:
        from ansible.module_utils.basic import missing_required_lib
        module.fail_json(msg=missing_required_lib("requests"),
                         exception=str(reg.REQUESTS_IMPORT_ERROR))
    return HarborApi(module.params)


def run_module(options, reconcile, **module_kwargs):
    """What every Harbor module's main() does: the connection options plus ``options``,
    check mode, then ``reconcile(api, module)`` -> the result; a collection error becomes
    fail_json with the request counts so far."""
    from ansible.module_utils.basic import AnsibleModule
    spec = harbor_argument_spec()
    spec.update(options)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True,
                           required_together=HARBOR_REQUIRED_TOGETHER, **module_kwargs)
    api = connect(module)
    try:
        result = reconcile(api, module)
    except XinchuangError as err:
        module.fail_json(msg=str(err), requests=api.requests, writes=api.writes)
    module.exit_json(**result)


def path_segment(value):
    """A name inside a URL path (robot and project names are safe; this keeps them so)."""
    return quote(str(value), safe="")


class HarborApi(object):
    """One Harbor; ``call`` and ``list`` send JSON requests and judge the answers."""

    def __init__(self, params, client=None):
        url = params["url"].strip().rstrip("/")
        if not (url.startswith("https://") or url.startswith("http://")):
            url = "https://" + url
        self.url = url
        self.username = params.get("username")
        self.client = client or reg.RegistryClient(
            url, username=params.get("username"), password=params.get("password"),
            ca_path=params.get("ca_path"), validate_certs=params.get("validate_certs", True),
            timeout=params.get("timeout", 30.0), retries=params.get("retries", 3))

    @property
    def requests(self):
        return self.client.requests

    @property
    def writes(self):
        return self.client.writes

    def call(self, method, path, doing, body=None, query=None, ok=(200,), absent=(),
             fixes=None, write=None):
        """Send one request. Returns (status, decoded JSON body or None, headers); a status in
        ``absent`` returns (status, None, headers); any other status outside ``ok`` raises
        HarborError with the message of harbor_policy.error_message (``fixes``: status -> the
        fix to name; ``write``: whether it counts as a write, default all but GET)."""
        full = API + path
        if query:
            full += "?" + urlencode(query)
        headers = {"Accept": "application/json",
                   # A project named "123" is a name, not the project with id 123.
                   "X-Is-Resource-Name": "true"}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        resp = self.client.request(method, full, doing, headers=headers, data=data,
                                   write=method not in ("GET", "HEAD") if write is None
                                   else write,
                                   replayable=method != "POST", passthrough=(401, 403))
        try:
            decoded = resp.json() if resp.content else None
        except ValueError:
            decoded = resp.text
        if resp.status_code in ok:
            return resp.status_code, decoded, resp.headers
        if resp.status_code in absent:
            return resp.status_code, None, resp.headers
        raise hp.HarborError(hp.error_message(resp.status_code, decoded, doing, self.url,
                                              self.username, (fixes or {}).get(resp.status_code)))

    def get(self, path, doing, query=None, fixes=None):
        """GET an object; None when Harbor answers 404."""
        _status, data, _headers = self.call("GET", path, doing, query=query, absent=(404,),
                                            fixes=fixes)
        return data

    def list(self, path, doing, query=None, fixes=None):
        """Every item of a paged list (``page_size`` 100, Harbor's maximum)."""
        items, page = [], 1
        while True:
            q = dict(query or {}, page=page, page_size=PAGE_SIZE)
            _status, data, headers = self.call("GET", path, doing, query=q, fixes=fixes)
            data = data or []
            items += data
            total = headers.get("X-Total-Count")
            if len(data) < PAGE_SIZE or (total is not None and len(items) >= int(total)):
                return items
            page += 1

    @staticmethod
    def created_id(headers):
        """The id at the end of a 201's Location (``/api/v2.0/projects/7`` -> 7)."""
        location = (headers or {}).get("Location") or ""
        tail = location.rstrip("/").rsplit("/", 1)[-1]
        return int(tail) if tail.isdigit() else None
