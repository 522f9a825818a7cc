# -*- coding: utf-8 -*-
# Copyright: xinchuang.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared by the collection's filter plugins (controller side only)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools

from ansible.errors import AnsibleFilterError

from ansible_collections.xinchuang.cloud.plugins.module_utils.common.errors import XinchuangError


def user_errors_as_filter_errors(func):
    """Report module_utils' XinchuangError (a message that names the input and the fix) as
    AnsibleFilterError, so the task fails with that message instead of a traceback."""

    @functools.wraps(func)
    def filter_(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except XinchuangError as exc:
            raise AnsibleFilterError(str(exc))

    return filter_
