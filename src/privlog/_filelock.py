"""Advisory file locks that work everywhere privlog runs.

POSIX has ``fcntl.flock`` (shared and exclusive); Windows has ``msvcrt.locking`` (exclusive
only, on a byte range: byte 0 here); anywhere else, or where neither module can be imported, a
lock file beside the locked file (``.NAME.lock``, created with ``O_EXCL``) serves, shared locks
being exclusive too. The choice is made once, at import. The JSONL store, the key store and
the data-subject tool all lock through here, so the three agree on one lock per file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

_STALE_SECONDS = 30.0
"""A lock file older than this was left by a process that died holding it: break it."""


def _try_import(name: str) -> ModuleType | None:
    try:
        return __import__(name)
    except ImportError:
        return None


_fcntl = _try_import("fcntl")
_msvcrt = None if _fcntl is not None else _try_import("msvcrt")

#: Which mechanism this platform gets: "flock", "msvcrt" or "lockfile".
METHOD = "flock" if _fcntl is not None else "msvcrt" if _msvcrt is not None else "lockfile"


def _lock_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")



def lock(fd: int, path: Path, *, shared: bool = False) -> None:
    """Take the lock of ``path`` (open as ``fd``), waiting for it; ``shared`` for readers."""
    if _fcntl is not None:
        _fcntl.flock(fd, _fcntl.LOCK_SH if shared else _fcntl.LOCK_EX)
    elif _msvcrt is not None:
        msvcrt = _msvcrt
        _at_start(fd, lambda: _msvcrt_lock(msvcrt, fd))
    else:
        _lockfile_acquire(_lock_path(path), shared)


def unlock(fd: int, path: Path) -> None:
    """Release the lock :func:`lock` took."""
    if _fcntl is not None:
        _fcntl.flock(fd, _fcntl.LOCK_UN)
    elif _msvcrt is not None:
        msvcrt = _msvcrt
        _at_start(fd, lambda: msvcrt.locking(fd, msvcrt.LK_UNLCK, 1))
    else:
        # In a read-only folder a shared lock was never taken: nothing to remove.
        with contextlib.suppress(OSError):
            _lock_path(path).unlink(missing_ok=True)


def _at_start(fd: int, call: Callable[[], None]) -> None:
    """msvcrt locks the byte at the file position: lock byte 0, keep the position."""
    position = os.lseek(fd, 0, os.SEEK_CUR)
    os.lseek(fd, 0, os.SEEK_SET)
    try:
        call()
    finally:
        os.lseek(fd, position, os.SEEK_SET)


def _msvcrt_lock(msvcrt: ModuleType, fd: int) -> None:
    delay = 0.001
    while True:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return
        except OSError:
            time.sleep(delay)
            delay = min(delay * 2, 0.05)


def _lockfile_acquire(lock_path: Path, shared: bool) -> None:
    delay = 0.001
    while True:
        try:
            os.close(os.open(lock_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            return
        except OSError as exc:
            if shared and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                return  # a read-only store: nobody can be writing it through this folder
            if not isinstance(exc, FileExistsError):
                raise
            try:
                if time.time() - lock_path.stat().st_mtime > _STALE_SECONDS:
                    lock_path.unlink(missing_ok=True)
                    continue
            except FileNotFoundError:
                continue
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
