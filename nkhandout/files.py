"""Writing files so that nobody ever sees half of one."""

import os
import tempfile
from pathlib import Path

from .errors import HandoutError


def ensure_dir(path):
    """Create the output folder ``path`` if needed; refuse one we cannot write."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise HandoutError(f"cannot create output folder: {error.strerror}", str(path)) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise HandoutError("output folder is not writable", str(path), "choose another with --out")
    return path

TEMP_SUFFIX = ".nkhandout-tmp"


def write_atomic(path, data):
    """Write ``data`` to ``path`` through a temporary file and a rename.

    The temporary file is locked while it is written, so that a later build
    can tell a file left by a killed build (unlocked) from one being written
    now (see remove_stale).
    """
    import fcntl

    path = Path(path)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            os.chmod(temp, 0o644)
            os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def remove_stale(folder, min_age=2.0):
    """Delete temporary files that killed builds left in ``folder``."""
    import fcntl
    import time

    folder = Path(folder)
    if not folder.is_dir():
        return 0
    removed = 0
    for temp in folder.glob(f".*{TEMP_SUFFIX}"):
        try:
            if time.time() - temp.stat().st_mtime < min_age:
                continue
            with open(temp, "rb") as handle:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                temp.unlink()
                removed += 1
        except (BlockingIOError, FileNotFoundError):
            continue  # being written right now, or already gone
        except OSError:
            continue
    return removed
