"""Writing files so that nobody ever sees half of one."""

# No lazy imports: the standard library only. A build with nothing to do comes
# through here, so this module must never import Babel, Jinja2 or WeasyPrint.
import fcntl
import os
import stat
import time
from pathlib import Path

from .errors import HandoutError


def ensure_dir(path: Path | str) -> Path:
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


def write_atomic(path: Path | str, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    This is the one way nkhandout writes a file. The temporary file is made
    in the same folder with O_CREAT | O_EXCL | O_NOFOLLOW, so it is always a
    new file of our own; the rename then replaces whatever is at ``path``. A
    link planted at ``path`` is replaced, never written through.

    The temporary file is locked while it is written, so that a later build
    can tell a file left by a killed build (unlocked) from one being written
    now (see remove_stale).
    """
    path = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    for _attempt in range(100):
        temp = path.parent / f".{path.name}.{os.urandom(4).hex()}{TEMP_SUFFIX}"
        try:
            fd = os.open(temp, flags, 0o600)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(f"no free temporary name beside {path}")
    try:
        with os.fdopen(fd, "wb") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
            os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    _sync_folder(path.parent)


def _sync_folder(folder):
    """Make a rename in ``folder`` durable (where the system allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_if_changed(path: Path | str, data: bytes, mode: int = 0o644) -> bool:
    """write_atomic, unless ``path`` is already a regular file (not a link)
    holding exactly ``data``; True when it wrote."""
    if read_regular(path, len(data)) == data:
        return False
    write_atomic(path, data, mode)
    return True


def read_regular(path: Path | str, limit: int = 64 * 1024 * 1024) -> bytes | None:
    """The bytes of ``path`` if it is a regular file (not a link, a pipe or a
    device, which could block) of at most ``limit`` bytes; None otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        try:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
                return None
            data = handle.read(limit + 1)
        except OSError:
            return None
    return data if len(data) <= limit else None


def write_output(target: Path | str, data: bytes, out: Path | str, what: str) -> None:
    """Write one built file (a web page, a large-print PDF) into ``out`` or a
    clinic's folder inside it, which the build makes itself and never follows
    as a link; a write error is one line."""
    target = Path(target)
    if target.parent == Path(out):
        ensure_dir(target.parent)
    else:
        private_folder(target.parent)
    try:
        write_atomic(target, data)
    except OSError as error:
        raise HandoutError(f"cannot write the {what}: {error.strerror or error}", str(target)) from None


def private_folder(path: Path | str) -> Path:
    """Create a folder the build names itself (OUT/.nkhandout, OUT/<clinic>);
    refuse one that is a link, so that nothing is written where a link leads."""
    path = Path(path)
    if path.is_symlink():  # before mkdir, which would follow it
        raise HandoutError("is a link", str(path), "remove it; the build makes this folder itself")
    ensure_dir(path)
    try:
        info = os.lstat(path)
    except OSError as error:
        raise HandoutError(f"cannot create folder: {error.strerror}", str(path)) from None
    if not stat.S_ISDIR(info.st_mode):
        raise HandoutError("is a link or not a folder", str(path), "remove it; the build makes its own")
    return path


def remove_stale(folder: Path | str, min_age: float = 2.0) -> int:
    """Delete temporary files that killed builds left in ``folder``."""
    folder = Path(folder)
    if not folder.is_dir() or folder.is_symlink():
        return 0  # never clean up where a link leads
    removed = 0
    for temp in folder.glob(f".*{TEMP_SUFFIX}"):
        try:
            if time.time() - temp.stat().st_mtime < min_age:
                continue
            # Not through a link, and never blocking on a pipe planted here.
            fd = os.open(temp, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            with os.fdopen(fd, "rb") as handle:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    continue
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                temp.unlink()
                removed += 1
        except (BlockingIOError, FileNotFoundError):
            continue  # being written right now, or already gone
        except OSError:
            continue
    return removed
