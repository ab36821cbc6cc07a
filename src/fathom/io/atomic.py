"""Atomic file replacement, the one place every Fathom writer goes through (checkpoints,
downloads, run configs, plots): a crash leaves the old file or the new one, never a mix."""
from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def atomic_path(path):
    """Yield a fresh temporary path in `path`'s folder to write to; on success fsync it,
    rename it over `path` and fsync the folder (so the rename itself is durable). On any
    exception (KeyboardInterrupt included) the temporary file goes and `path` is untouched.

        with atomic_path("config.json") as tmp:
            with open(tmp, "w") as f: json.dump(cfg, f)
    """
    path = os.fspath(path)
    folder, base = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, f".{base}.{os.urandom(4).hex()}.tmp")
    # O_EXCL: never write through someone else's file; a missing folder fails here, plainly.
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield tmp
        _fsync(tmp, os.O_RDONLY)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if sys.platform != "win32":
        with contextlib.suppress(OSError):  # not possible on every file system
            _fsync(folder, os.O_RDONLY)


def _fsync(path, flags) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
