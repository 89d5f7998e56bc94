"""The handout fonts: install them from Debian's packages, describe them to CSS,
and check that they can draw a locale's text."""

# Lazy imports: fontTools, only where a font is cut down (install) or its
# character map read (glyph checks): a build with nothing to do hashes the
# font files here and must not pay for importing it.
import hashlib
import io
import json
import os
import re
import stat
import time
import tomllib
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from . import files
from .errors import HandoutError
from .project import read_limited

MANIFEST = "fonts.toml"
# Beside the fonts: the SHA-256 of each font file, keyed by what the file
# system says about it (see digests).
DIGEST_CACHE = ".nkhandout-digests.json"
LICENCES = {
    "fonts-noto-core": "/usr/share/doc/fonts-noto-core/copyright",
    "fonts-noto-cjk": "/usr/share/doc/fonts-noto-cjk/copyright",
}


# Character sets a large font can be cut down to at setup (see fonts.toml).
# Small glyph numbers keep every embedded subset small: WeasyPrint keeps glyph
# ids, so a font with 65,000 glyphs costs each PDF ~150 KB of empty slots.
CHARSETS: dict[str, str | tuple[str, int, int] | list[tuple[int, int]]] = {
    "latin": [(0x20, 0x7E), (0xA0, 0x17F), (0x2010, 0x2027), (0x2030, 0x205E), (0x20A0, 0x20BF),
              (0x2100, 0x215F), (0x2190, 0x21FF), (0x2460, 0x24FF), (0x25A0, 0x25FF)],
    "cjk-punctuation": [(0x3000, 0x303F), (0x30FB, 0x30FB), (0xFF00, 0xFFEF)],
    "hangul": [(0x1100, 0x11FF), (0x3130, 0x318F), (0xAC00, 0xD7A3)],
    "gb2312": "gb2312",  # the 6,763 hanzi of GB 2312 (and its symbols)
    # JIS X 0208: kana and its 6,355 kanji (and symbols); then the four
    # jouyou kanji of 2010 that it lacks (U+5861 U+525D U+9830 U+20B9F).
    "jis0208": "iso2022_jp",
    "jouyou-2010": [(0x5861, 0x5861), (0x525D, 0x525D), (0x9830, 0x9830), (0x20B9F, 0x20B9F)],
    # Traditional Chinese: Big5's symbols and its 5,401 frequent hanzi (its
    # level 1, A440-C67E). All 13,060 would cost each PDF ~60 KB more.
    "big5-common": ("big5", 0xA140, 0xC67E),
}


UNUSED_FEATURES = {"locl", "vert", "vrt2", "vkrn", "vpal", "vhal", "valt", "vjmo"}


def charset(names: Iterable[str]) -> list[int]:
    """The code points of the named CHARSETS."""
    points = set()
    for name in names:
        spec = CHARSETS[name]
        if isinstance(spec, (str, tuple)):
            codec, first, last = (spec, 0, 0xFFFF) if isinstance(spec, str) else spec
            for code in range(0x2E80, 0xA000):
                try:
                    encoded = chr(code).encode(codec)
                except UnicodeEncodeError:
                    continue
                if first <= int.from_bytes(encoded[-2:], "big") <= last:
                    points.add(code)
        else:
            for first, last in spec:
                points.update(range(first, last + 1))
    return sorted(points)


@dataclass(frozen=True)
class Font:
    family: str
    weight: int
    file: str
    package: str
    source: str
    face: str | None
    sha256: str | None
    subset: tuple = ()


# Digits a [locale] entry may print its numbers in (CLDR numbering systems).
DIGITS = {
    "latn": "0123456789",
    "arab": "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669",
    "arabext": "\u06f0\u06f1\u06f2\u06f3\u06f4\u06f5\u06f6\u06f7\u06f8\u06f9",
    "beng": "\u09e6\u09e7\u09e8\u09e9\u09ea\u09eb\u09ec\u09ed\u09ee\u09ef",
    "deva": "\u0966\u0967\u0968\u0969\u096a\u096b\u096c\u096d\u096e\u096f",
    "guru": "\u0a66\u0a67\u0a68\u0a69\u0a6a\u0a6b\u0a6c\u0a6d\u0a6e\u0a6f",
}
# The fix `check` and `build` give for characters no font of a locale draws.
FIX_MISSING = ("use characters of the locale's script; or, for a script the project has no font "
               "for, add its [[font]] entries and a [locale.{key}] entry to templates/fonts.toml "
               "and run `nkhandout fonts` (TRANSLATING.md, 'A language in a new script')")
# What a [locale.CODE] entry of fonts.toml may say (see the comment there).
LOCALE_KEYS = {"script", "fonts", "line_height", "heading_line_height", "hyphens", "keep_words",
               "actual_text", "digits", "sample"}


@dataclass(frozen=True)
class Typography:
    """How one locale is set: the resolved [locale] entries of fonts.toml
    (the locale's own, then its language's, then "default")."""

    script: str
    fonts: tuple
    line_height: float | None = None  # running text; None: the stylesheet's
    heading_line_height: float | None = None  # headings, boxes, labels; None: the stylesheet's
    hyphens: str | None = None  # "auto" (Pyphen) or "manual"; None: the stylesheet's
    keep_words: bool = False  # never break inside a Korean word
    actual_text: bool = False  # the PDF gives each line's text whole (nkhandout/workarounds.py)
    digits: str = "latn"  # the digits numbers are printed in (DIGITS)
    sample: str = ""  # one line of real text in the script, for the tests

    def css(self) -> str:
        """The stylesheet lines this locale adds to the page (see
        render.Renderer.stylesheets); empty when it needs none."""
        lines = []
        if self.line_height is not None:
            lines.append(f"body {{ line-height: {self.line_height}; }}")
        if self.heading_line_height is not None:
            lines.append("body h1, body h2, body .clinic, body .clinic [dir], body .ia-label, body footer "
                         f"{{ line-height: {self.heading_line_height}; }}")
        if self.hyphens is not None:
            lines.append(f"body main {{ hyphens: {self.hyphens}; }}")
        return "\n".join(lines)


@dataclass(frozen=True)
class Manifest:
    fonts: tuple
    stacks: dict
    locales: dict | None = None  # {key: {field: value}}, the [locale.KEY] tables

    def stack(self, code: str) -> list[str]:
        """Font families for locale ``code``, first choice first."""
        language = code.split("_")[0]
        return self.stacks.get(code) or self.stacks.get(language) or self.stacks["default"]

    def fonts_for(self, code: str) -> list[Font]:
        families = self.stack(code)
        return [f for f in self.fonts if f.family in families]

    def entry_keys(self) -> list[str]:
        """The keys of the [locale] table: "default", languages and locales."""
        return list((self.locales or {"default": {}}).keys())

    def typography(self, code: str) -> Typography:
        """The Typography of locale ``code`` (or of a [locale] key)."""
        tables = self.locales or {}
        language = code.split("_")[0]
        fields = {}
        for key in ("default", language, code):
            entry = dict(tables.get(key, {}))
            if key != code:
                entry.pop("sample", None)
            fields.update(entry)
        fields["fonts"] = tuple(self.stack(code))
        fields.setdefault("script", "")
        return Typography(**fields)


def load_manifest(templates_dir: Path | str) -> Manifest:
    path = Path(templates_dir) / MANIFEST
    raw = read_limited(path, 64 * 1024, str(path), inside=templates_dir)
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError, RecursionError) as error:
        raise HandoutError(f"cannot read the font manifest: {error}", str(path)) from None
    try:
        fonts = tuple(
            Font(f["family"], int(f["weight"]), f["file"], f["package"], f["source"],
                 f.get("face"), f.get("sha256"), tuple(f.get("subset", ())))
            for f in data.get("font", [])
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise HandoutError(f"each [[font]] needs family, weight, file, package and source ({error})",
                           str(path)) from None
    for font in fonts:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*\.(?:ttf|otf)", font.file):
            raise HandoutError(f"font file {font.file!r} must be a plain .ttf or .otf file name",
                               str(path), "fonts live in templates/fonts/ only")
        if not re.fullmatch(r"[A-Za-z0-9 ]+", font.family):
            raise HandoutError(f"font family {font.family!r} may hold only letters, digits and spaces",
                               str(path))
        if not isinstance(font.sha256, str) or not re.fullmatch(r"[0-9a-f]{64}", font.sha256):
            raise HandoutError(f"font {font.file} has no sha256 (64 lower-case hex digits)", str(path),
                               "every [[font]] pins its file's SHA-256; sha256sum prints it")
    tables = data.get("locale", {"default": {"fonts": []}})
    if not isinstance(tables, dict) or not all(isinstance(v, dict) for v in tables.values()):
        raise HandoutError("[locale.CODE] entries must be tables", str(path))
    families = {font.family for font in fonts}
    locales = {}
    for key, entry in tables.items():
        locales[key] = _locale_entry(key, entry, families, str(path))
    locales.setdefault("default", {})
    stacks = {key: list(entry["fonts"]) for key, entry in locales.items() if "fonts" in entry}
    stacks.setdefault("default", [])
    return Manifest(fonts, stacks, locales)


def _locale_entry(key, entry, families, where):
    """The checked fields of [locale.KEY]; one line for the first mistake."""
    def bad(message, hint=None):
        return HandoutError(f"[locale.{key}]: {message}", where,
                            hint or "see the comment above the [locale] entries in templates/fonts.toml")

    unknown = sorted(set(entry) - LOCALE_KEYS)
    if unknown:
        raise bad(f"unknown key {unknown[0]!r}", "keys: " + ", ".join(sorted(LOCALE_KEYS)))
    fields = dict(entry)
    if "fonts" in fields:
        stack = fields["fonts"]
        if not isinstance(stack, list) or not all(isinstance(f, str) for f in stack):
            raise bad("fonts must be a list of font families")
        for family in stack:
            if family not in families:
                raise bad(f"font family {family!r} has no [[font]] entry",
                          "add its [[font]] entries (regular and bold), or fix the name")
        fields["fonts"] = tuple(stack)
    for name in ("line_height", "heading_line_height"):
        if name in fields:
            value = fields[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1.0 <= value <= 3.0:
                raise bad(f"{name} must be a number from 1.0 to 3.0 (times the font size)")
            fields[name] = float(value)
    if "hyphens" in fields and fields["hyphens"] not in ("auto", "manual"):
        raise bad('hyphens must be "auto" (hyphenate with Pyphen) or "manual" (only at soft hyphens)')
    for name in ("keep_words", "actual_text"):
        if name in fields and not isinstance(fields[name], bool):
            raise bad(f"{name} must be true or false")
    if "digits" in fields and fields["digits"] not in DIGITS:
        raise bad(f"digits must be one of {', '.join(DIGITS)}")
    for name in ("script", "sample"):
        if name in fields and not isinstance(fields[name], str):
            raise bad(f"{name} must be text")
    return fields


def _extract(font):
    """The bytes of ``font``, taken from its package (one face of a
    collection, cut down to its character sets)."""
    source = Path(font.source)
    if not source.exists():
        raise HandoutError(
            f"font {font.file} needs {source}, from Debian's {font.package}",
            hint="run `make setup`, or apt-get install " + font.package)
    if not font.face and not font.subset:
        return source.read_bytes()
    from fontTools.ttLib import TTCollection, TTFont

    if font.face:
        faces = [f for f in TTCollection(str(source), lazy=False).fonts
                 if f["name"].getDebugName(4) == font.face]
        if not faces:
            raise HandoutError(f"no face {font.face!r} in {source}")
        face = faces[0]
    else:
        face = TTFont(str(source))
    face.recalcTimestamp = False
    if font.subset:
        from fontTools import subset

        options = subset.Options()
        options.retain_gids = False
        # The usual features, less vertical forms and other locales' glyphs
        # (locl), which would pull thousands of glyphs this face never draws.
        options.layout_features = [f for f in options.layout_features if f not in UNUSED_FEATURES]
        options.name_IDs = ["*"]
        options.notdef_outline = True
        options.hinting = True
        options.desubroutinize = False
        options.drop_tables += ["vmtx", "vhea", "VORG"]
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=charset(font.subset))
        subsetter.subset(face)
    buffer = io.BytesIO()
    face.save(buffer, reorderTables=True)
    return buffer.getvalue()


def sha256(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def install(manifest: Manifest, fonts_dir: Path | str, log: Callable[[str], object] = print) -> list[str]:
    """Put every font of ``manifest`` into ``fonts_dir``; return mismatches.

    A font already there with the pinned SHA-256, and a licence file already
    holding the package's text, are left alone (not even touched), so that
    running this again changes nothing."""
    fonts_dir = Path(fonts_dir)
    try:
        fonts_dir.mkdir(parents=True, exist_ok=True)
        mismatches = []
        installed = digests(fonts_dir, [font.file for font in manifest.fonts], lstat=True)
        for font in manifest.fonts:
            if installed.get(font.file) == font.sha256:
                continue
            data = _extract(font)
            if files.write_if_changed(fonts_dir / font.file, data):
                log(f"installed {font.file}")
            if hashlib.sha256(data).hexdigest() != font.sha256:
                mismatches.append(font.file)
        for package, licence in LICENCES.items():
            if Path(licence).exists():
                files.write_if_changed(fonts_dir / f"LICENSE-{package}.txt", Path(licence).read_bytes())
    except OSError as error:
        raise HandoutError(f"cannot install the fonts: {error.strerror or error}", str(fonts_dir),
                           "NKHANDOUT_FONTS chooses another folder") from None
    return mismatches


def _identity(info):
    """What must stay the same for a cached digest to hold. The change time
    (ctime) is in it: any write, rename or utime() sets it to now, and no
    user can set it back, so a file replaced by other bytes of the same size
    and modification time is still hashed again."""
    return [info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]


def _read_cache(path):
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size > 1 << 20:
            return {}
        data = json.loads(Path(path).read_bytes())
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def digests(fonts_dir: Path | str, names: Iterable[str] | None = None, lstat: bool = False) -> dict[str, str | None]:
    """{file name: SHA-256} of the files in ``fonts_dir`` (``names``, or every
    file not starting with a dot); None for one that is missing or not a
    regular file (with ``lstat``, a link counts as not a regular file).

    Hashing is cached in DIGEST_CACHE, keyed by _identity(); a file changed
    less than two seconds ago is not cached, since a change within the same
    clock tick could leave its identity as it was (as Git does for its index).
    """
    fonts_dir = Path(fonts_dir)
    if names is None:
        try:
            names = sorted(p.name for p in fonts_dir.iterdir() if not p.name.startswith("."))
        except OSError:
            return {}
    cache_path = fonts_dir / DIGEST_CACHE
    cache = _read_cache(cache_path)
    found: dict[str, str | None] = {}
    changed = False
    for name in names:
        path = fonts_dir / name
        try:
            info = os.lstat(path) if lstat else os.stat(path)
        except OSError:
            found[name] = None
            continue
        if not stat.S_ISREG(info.st_mode):
            found[name] = None
            continue
        identity = _identity(info)
        entry = cache.get(name)
        if isinstance(entry, dict) and entry.get("stat") == identity and isinstance(entry.get("sha256"), str):
            found[name] = entry["sha256"]
            continue
        digest = hashlib.sha256()
        try:
            with open(path, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
                after = _identity(os.fstat(handle.fileno()))
        except OSError:
            found[name] = None
            continue
        found[name] = digest.hexdigest()
        if after == identity and time.time_ns() - info.st_ctime_ns > 2_000_000_000:
            cache[name] = {"stat": identity, "sha256": found[name]}
            changed = True
    if changed:
        try:
            files.write_atomic(cache_path, json.dumps(cache, sort_keys=True).encode())
        except OSError:
            pass  # a read-only fonts folder: hash again next time
    return found


def check_installed(manifest: Manifest, fonts_dir: Path | str, code: str) -> None:
    """Raise unless every font the locale needs is in ``fonts_dir``, with
    the SHA-256 that templates/fonts.toml pins."""
    needed = manifest.fonts_for(code)
    found = digests(fonts_dir, [font.file for font in needed])
    for font in needed:
        if found.get(font.file) is None:
            raise HandoutError(
                f"font {font.file} is not installed", str(fonts_dir),
                "run `make setup` (or `nkhandout fonts`)")
        if found[font.file] != font.sha256:
            raise HandoutError(
                f"font {font.file} is not the pinned one (its SHA-256 differs from templates/fonts.toml)",
                str(Path(fonts_dir) / font.file), "run `nkhandout fonts` to reinstall it")


@lru_cache(maxsize=32)
def _cmap(path):
    from fontTools.ttLib import TTFont

    with TTFont(path, lazy=True, fontNumber=0) as font:
        return frozenset(font.getBestCmap())


def missing_glyphs(text: str, manifest: Manifest, fonts_dir: Path | str, code: str) -> list[str]:
    """Characters of ``text`` that no font of locale ``code`` can draw."""
    covered = set()
    for font in manifest.fonts_for(code):
        covered |= _cmap(str(Path(fonts_dir) / font.file))
    missing = []
    for char in sorted(set(text)):
        if ord(char) in covered or char in "\n\t" or unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            continue
        missing.append(char)
    return missing
