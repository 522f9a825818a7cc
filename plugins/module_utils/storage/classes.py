# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""StorageClasses the storage roles make, against those a cluster already has: the fields
Kubernetes never lets an apply change, and the clash a role must refuse before applying."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

# Fields of a StorageClass that an update cannot change, with the API server's defaults.
IMMUTABLE = (("provisioner", None), ("parameters", {}), ("reclaimPolicy", "Delete"),
             ("volumeBindingMode", "Immediate"))


def clashes(wanted, existing, how_to_rename):
    """One message per class of ``existing`` (k8s_info resources) that holds the name of one of
    ``wanted`` but is another class. ``how_to_rename(ours)`` says which setting names ours."""
    ours_by_name = dict((c["metadata"]["name"], c) for c in wanted or [])
    problems = []
    for current in existing or []:
        name = (current.get("metadata") or {}).get("name")
        ours = ours_by_name.get(name)
        if ours is None:
            continue
        diffs = []
        for field, default in IMMUTABLE:
            have, want = current.get(field) or default, ours.get(field) or default
            if have != want:
                diffs.append("%s %s (ours: %s)" % (field, json.dumps(have, sort_keys=True),
                                                   json.dumps(want, sort_keys=True)))
        if diffs:
            problems.append("StorageClass %s already exists and is another class: %s; Kubernetes "
                            "cannot change those fields, so %s, or delete that class (kubectl delete "
                            "storageclass %s) when no volume uses it"
                            % (name, "; ".join(diffs), how_to_rename(ours), name))
    return problems
