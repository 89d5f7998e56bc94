"""Where a project's content, templates, fonts and handouts live."""

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from .errors import HandoutError

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Project:
    """The folders of one nkhandout project."""

    root: Path
    fonts_dir: Path

    @classmethod
    def at(cls, root=None, fonts_dir=None):
        """The project at ``root`` (default: $NKHANDOUT_ROOT or the checkout)."""
        root = Path(root or os.environ.get("NKHANDOUT_ROOT") or PACKAGE_ROOT).resolve()
        fonts = fonts_dir or os.environ.get("NKHANDOUT_FONTS") or root / "templates" / "fonts"
        return cls(root=root, fonts_dir=Path(fonts).resolve())

    @property
    def content_dir(self):
        return self.root / "content"

    @property
    def templates_dir(self):
        return self.root / "templates"

    @property
    def locales_dir(self):
        return self.content_dir / "locales"

    @property
    def source_file(self):
        return self.content_dir / "handout.toml"

    @property
    def references_file(self):
        return self.content_dir / "references.json"

    @property
    def template_file(self):
        return self.content_dir / "messages.pot"

    @property
    def handouts_dir(self):
        return self.root / "handouts"

    def catalog_file(self, code):
        return self.locales_dir / f"{code}.po"

    def relative(self, path):
        """``path`` relative to the project root, for messages."""
        try:
            return str(Path(path).resolve().relative_to(self.root))
        except ValueError:
            return str(path)


def read_limited(path, limit, where, inside=None):
    """The bytes of ``path``, refusing what a content file must never be.

    A link that leads outside ``inside``, anything but a regular file (a
    device such as /dev/urandom, a pipe, a folder), or more than ``limit``
    bytes: each is one clear error, before more than ``limit`` bytes are read.
    """
    path = Path(path)
    try:
        resolved = path.resolve(strict=True)
    except FileNotFoundError:
        raise HandoutError("file not found", where) from None
    except (OSError, RuntimeError) as error:
        raise HandoutError(f"cannot read: {getattr(error, 'strerror', None) or error}", where) from None
    if inside is not None:
        root = Path(inside).resolve()
        if resolved != root and root not in resolved.parents:
            raise HandoutError(f"leads outside {root.name}/ (a link to {resolved})", where,
                               "replace the link with the file itself")
    try:
        info = os.stat(resolved)
    except OSError as error:
        raise HandoutError(f"cannot read: {error.strerror}", where) from None
    if not stat.S_ISREG(info.st_mode):
        raise HandoutError("not a regular file", where)
    if info.st_size > limit:
        raise HandoutError(f"file is {info.st_size} bytes; the limit is {limit}", where)
    try:  # never blocks: /proc/kmsg is a "regular" file that waits for data
        data = read_nonblocking(resolved, limit + 1)
    except OSError as error:
        raise HandoutError(f"cannot read: {error.strerror}", where) from None
    if len(data) > limit:
        raise HandoutError(f"file is over the limit of {limit} bytes", where)
    return data


def read_nonblocking(path, most):
    """Up to ``most`` bytes of ``path``; a file that would block raises OSError."""
    handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        chunks, size = [], 0
        while size < most:
            chunk = os.read(handle, min(1 << 20, most - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(handle)


def read_utf8(path, limit, where, inside=None):
    """read_limited, then UTF-8 without a byte order mark, as text."""
    raw = read_limited(path, limit, where, inside)
    if raw.startswith(b"\xef\xbb\xbf"):
        raise HandoutError("file starts with a byte order mark (BOM)", f"{where}:1",
                           "save it as UTF-8 without BOM")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise HandoutError("not valid UTF-8", f"{where}:{line}", "save the file as UTF-8") from None
