# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes' rules for object names, the one copy in the collection. No I/O.

The same rules as the API server's (k8s.io/apimachinery/pkg/util/validation):
- an RFC 1123 label (Namespaces, most names): lower-case letters, digits and ``-``, starting
  and ending with a letter or digit, at most 63 characters;
- an RFC 1035 label (Services, and names that become one or a DNS host name): the same, but
  starting with a letter;
- an RFC 1123 subdomain (PersistentVolumes, StorageClasses, Secrets): labels joined by ``.``,
  at most 253 characters;
- a label value: empty, or letters, digits, ``-``, ``_`` and ``.``, starting and ending with a
  letter or digit, at most 63 characters.

A role that adds a suffix to a name passes a smaller ``max_length``, so that the longest name
it makes still fits: the check runs before anything is changed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

LABEL_MAX = 63
SUBDOMAIN_MAX = 253

_RFC1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_RFC1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


def is_rfc1123_label(value, max_length=LABEL_MAX):
    """Whether value is an RFC 1123 label (a Namespace's name) of at most max_length characters."""
    return isinstance(value, str) and len(value) <= max_length and bool(_RFC1123_LABEL.fullmatch(value))


def is_rfc1035_label(value, max_length=LABEL_MAX):
    """Whether value is an RFC 1035 label (a Service's name) of at most max_length characters."""
    return isinstance(value, str) and len(value) <= max_length and bool(_RFC1035_LABEL.fullmatch(value))


def is_rfc1123_subdomain(value, max_length=SUBDOMAIN_MAX):
    """Whether value is an RFC 1123 subdomain (a PersistentVolume's or StorageClass's name)."""
    return (isinstance(value, str) and 0 < len(value) <= max_length
            and all(_RFC1123_LABEL.fullmatch(part) for part in value.split(".")))


def is_label_value(value):
    """Whether value may be the value of a label (``app.kubernetes.io/version``: an image's tag)."""
    return isinstance(value, str) and len(value) <= LABEL_MAX and bool(_LABEL_VALUE.fullmatch(value))
