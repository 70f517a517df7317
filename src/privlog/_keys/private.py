"""Refuse key material that others can read, as ssh refuses an unprotected private key."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .._errors import ConfigurationError


def check_private(path: Path, setting: str, *, folder: bool = False) -> None:
    """Raise if ``path`` can be read (or, for a folder, listed) by its group or by others.

    The error says which ``chmod`` fixes it. Where modes do not exist (Windows) nothing is checked.
    """
    if os.name != "posix":
        return
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return  # a missing file is reported by whoever opens it
    if mode & 0o077:
        wanted = "700" if folder else "600"
        raise ConfigurationError(
            setting,
            f"{path} is accessible by its group or by others (mode {mode:04o}), so the key in it "
            "is not private; it was not used",
            f"chmod {wanted} {path}",
        )
