"""Where a project's content, templates, fonts and handouts live."""

# No lazy imports: the standard library only. Every command loads the project,
# a build with nothing to do included: never import Babel, Jinja2 or WeasyPrint.
import os
import re
import stat
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import HandoutError, UsageError

MAX_SOURCE_BYTES = 256 * 1024  # a topic's handout.toml

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
# A project is marked by this file (its settings may grow), or by having both
# content/ and templates/ (the layout of a checkout of nkhandout itself).
PROJECT_FILE = "nkhandout.toml"
TOPIC_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


def find_root(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` that holds a project."""
    start = Path(start).resolve()
    for folder in (start, *start.parents):
        if (folder / PROJECT_FILE).is_file() or (
                (folder / "content").is_dir() and (folder / "templates").is_dir()):
            return folder
    return None


@dataclass(frozen=True)
class Topic:
    """One handout of the library: content/topics/<name>/."""

    name: str
    folder: Path

    @property
    def source_file(self) -> Path:
        return self.folder / "handout.toml"

    @property
    def references_file(self) -> Path:
        return self.folder / "references.json"

    @property
    def template_file(self) -> Path:
        return self.folder / "messages.pot"

    @property
    def locales_dir(self) -> Path:
        return self.folder / "locales"

    def catalog_file(self, code: str) -> Path:
        return self.locales_dir / f"{code}.po"


@dataclass(frozen=True)
class Project:
    """The folders of one nkhandout project, seen through one of its topics.

    Content is a library: content/topics/<topic>/ holds a topic's English
    source, references and catalogs; content/labels/ the catalogs of the
    template's labels, shared by every topic. ``Project.at`` sees the first
    topic; ``for_topic`` another."""

    root: Path
    fonts_dir: Path
    topic_name: str = ""

    @classmethod
    def at(cls, root: str | Path | None = None, fonts_dir: str | Path | None = None,
           topic: str | None = None) -> "Project":
        """The project at ``root`` (default: $NKHANDOUT_ROOT, else the
        nearest project at or above the current folder)."""
        given = root or os.environ.get("NKHANDOUT_ROOT")
        if given:
            found = Path(given).resolve()
            if not found.is_dir():
                raise UsageError(f"project folder {given} does not exist",
                                 hint="give --root a folder made by `nkhandout init DIR`")
        else:
            located = find_root(Path.cwd())
            if located is None:
                raise UsageError(
                    "no nkhandout project in this folder or above it (no nkhandout.toml, "
                    "no content/ and templates/)",
                    hint="start one with `nkhandout init DIR`, or give --root DIR")
            found = located
        fonts = fonts_dir or os.environ.get("NKHANDOUT_FONTS") or found / "templates" / "fonts"
        project = cls(root=found, fonts_dir=Path(fonts).resolve())
        names = project.topic_names()
        if topic is None:
            topic = names[0] if names else ""
        return project.for_topic(topic) if topic else project

    def topic_names(self) -> list[str]:
        """The topics of the library, by folder name, sorted."""
        folder = self.topics_dir
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir()
                      if TOPIC_NAME.match(p.name) and (p / "handout.toml").is_file())

    def for_topic(self, name: str) -> "Project":
        if not TOPIC_NAME.match(name or ""):
            raise UsageError(f"topic name {name[:40]!r} may hold only a-z, 0-9 and -",
                             hint="for example: nk-cells")
        return replace(self, topic_name=name)

    @property
    def topic(self) -> Topic:
        if not self.topic_name:
            raise UsageError("this project has no topic yet",
                             hint="start one with `nkhandout init-topic NAME`")
        return Topic(self.topic_name, self.topics_dir / self.topic_name)

    @property
    def content_dir(self) -> Path:
        return self.root / "content"

    @property
    def topics_dir(self) -> Path:
        return self.content_dir / "topics"

    @property
    def labels_dir(self) -> Path:
        return self.content_dir / "labels"

    @property
    def labels_template_file(self) -> Path:
        return self.labels_dir / "messages.pot"

    def labels_file(self, code: str) -> Path:
        return self.labels_dir / f"{code}.po"

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    @property
    def handouts_dir(self) -> Path:
        return self.root / "handouts"

    # The bound topic's files.
    @property
    def source_file(self) -> Path:
        return self.topic.source_file

    @property
    def references_file(self) -> Path:
        return self.topic.references_file

    @property
    def template_file(self) -> Path:
        return self.topic.template_file

    @property
    def locales_dir(self) -> Path:
        return self.topic.locales_dir

    def catalog_file(self, code: str) -> Path:
        return self.topic.catalog_file(code)

    def relative(self, path: str | Path) -> str:
        """``path`` relative to the project root, for messages."""
        try:
            return str(Path(path).resolve().relative_to(self.root))
        except ValueError:
            return str(path)


def read_limited(path: Path | str, limit: int, where: str, inside: Path | str | None = None) -> bytes:
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


def read_nonblocking(path: Path | str, most: int) -> bytes:
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


def read_utf8(path: Path | str, limit: int, where: str, inside: Path | str | None = None) -> str:
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
