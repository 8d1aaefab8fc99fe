"""Files written whole or not at all: a temporary file beside the target, renamed over it.

A reader — the grader, a download, a server restarting after a crash — sees the old file or the new
one, never half of one. ``durable`` also syncs the bytes to disk before the rename, for what the
workbench stores and must not lose (submissions); exports and releases a person can write again
skip it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomically(target: Path, data: bytes, durable: bool = False) -> None:
    """Replace ``target`` with ``data`` in one rename; no temporary file is left when writing fails."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
