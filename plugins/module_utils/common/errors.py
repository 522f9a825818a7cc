# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exceptions shared by the collection's module_utils.

module_utils raise these; modules turn them into ``fail_json(msg=str(err))``.
Every message names the offending input and the way to fix it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class XinchuangError(Exception):
    """Base class: a problem the user can fix, with a message that says how."""


class UnknownArchitectureError(XinchuangError, ValueError):
    """An architecture name that no row of the architecture table knows."""


class UnsupportedOSError(XinchuangError, ValueError):
    """An operating system the collection has no package/service mapping for."""
