"""What the framework adapters share: a privlog built from a framework setting, and the few
facts about a policy that decide how much work the request path does.

Framework-free, so Flask's and Django's adapters can both use it without importing each other.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ._errors import PolicyError
from ._policy.model import Policy
from ._privacylog import PrivacyLog


def privlog_from_setting(value: Any, name: str) -> PrivacyLog:
    """A :class:`PrivacyLog` from a framework setting such as ``settings.PRIVLOG``.

    The setting may be a dict (the TOML schema as Python values), a path to a TOML file, a
    :class:`Policy` or a ready :class:`PrivacyLog` (to pick sinks or a LoggerProvider yourself).
    A mistake raises :class:`PolicyError` naming the key as the user wrote it, e.g.
    ``settings.PRIVLOG['streams']['access']['fields']['client_ipp']``.
    """
    if isinstance(value, PrivacyLog):
        return value
    return PrivacyLog(policy_from_setting(value, name))


def policy_from_setting(value: Any, name: str) -> Policy:
    """Validate a framework setting into a :class:`Policy` (see :func:`privlog_from_setting`)."""
    if isinstance(value, Policy):
        return value
    if isinstance(value, PrivacyLog):
        return value.policy
    if isinstance(value, Mapping):
        try:
            return Policy.from_dict(value)
        except PolicyError as err:
            raise PolicyError(name + _subscripts(err.setting), err.problem, err.fix) from None
    if isinstance(value, (str, os.PathLike)):
        path = os.fspath(value)
        try:
            return Policy.from_toml(path)
        except PolicyError as err:
            where = f"{name} = {path!r}" if err.setting == path else f"{err.setting} in {path} ({name})"
            raise PolicyError(where, err.problem, err.fix) from None
    if value is None:
        raise PolicyError(
            name,
            "is not set",
            f"set {name} to a policy dict (the TOML schema) or the path of a policy TOML file",
        )
    raise PolicyError(
        name,
        f"must be a dict, a TOML file path, a Policy or a PrivacyLog, got {type(value).__name__}",
        f"set {name} to a policy dict (the TOML schema) or the path of a policy TOML file",
    )


def _subscripts(setting: str) -> str:
    """``streams.access.fields.x`` -> ``['streams']['access']['fields']['x']``."""
    note = ""
    if " (" in setting:  # e.g. "secret.env (PRIVLOG_SECRET)"
        setting, _, rest = setting.partition(" (")
        note = " (" + rest
    if setting == "policy":
        return note
    return "".join(f"[{part!r}]" for part in setting.removeprefix("policy.").split(".")) + note
