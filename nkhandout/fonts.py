"""The handout fonts: install them from Debian's packages, describe them to CSS,
and check that they can draw a locale's text."""

import hashlib
import os
import re
import shutil
import tempfile
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import HandoutError

MANIFEST = "fonts.toml"
LICENCES = {
    "fonts-noto-core": "/usr/share/doc/fonts-noto-core/copyright",
    "fonts-noto-cjk": "/usr/share/doc/fonts-noto-cjk/copyright",
}


# Character sets a large font can be cut down to at setup (see fonts.toml).
# Small glyph numbers keep every embedded subset small: WeasyPrint keeps glyph
# ids, so a font with 65,000 glyphs costs each PDF ~150 KB of empty slots.
CHARSETS = {
    "latin": [(0x20, 0x7E), (0xA0, 0x17F), (0x2010, 0x2027), (0x2030, 0x205E), (0x20A0, 0x20BF),
              (0x2100, 0x215F), (0x2190, 0x21FF), (0x2460, 0x24FF), (0x25A0, 0x25FF)],
    "cjk-punctuation": [(0x3000, 0x303F), (0x30FB, 0x30FB), (0xFF00, 0xFFEF)],
    "hangul": [(0x1100, 0x11FF), (0x3130, 0x318F), (0xAC00, 0xD7A3)],
    "gb2312": "gb2312",  # the 6,763 hanzi of GB 2312 (and its symbols)
}


UNUSED_FEATURES = {"locl", "vert", "vrt2", "vkrn", "vpal", "vhal", "valt", "vjmo"}


def charset(names):
    """The code points of the named CHARSETS."""
    points = set()
    for name in names:
        spec = CHARSETS[name]
        if isinstance(spec, str):
            for code in range(0x2E80, 0xA000):
                try:
                    chr(code).encode(spec)
                except UnicodeEncodeError:
                    continue
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


@dataclass(frozen=True)
class Manifest:
    fonts: tuple
    stacks: dict

    def stack(self, code):
        """Font families for locale ``code``, first choice first."""
        language = code.split("_")[0]
        return self.stacks.get(code) or self.stacks.get(language) or self.stacks["default"]

    def fonts_for(self, code):
        families = self.stack(code)
        return [f for f in self.fonts if f.family in families]


def load_manifest(templates_dir):
    path = Path(templates_dir) / MANIFEST
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise HandoutError(f"cannot read the font manifest: {error}", str(path)) from None
    try:
        fonts = tuple(
            Font(f["family"], int(f["weight"]), f["file"], f["package"], f["source"],
                 f.get("face"), f.get("sha256"), tuple(f.get("subset", ())))
            for f in data.get("font", [])
        )
    except (KeyError, TypeError, ValueError) as error:
        raise HandoutError(f"each [[font]] needs family, weight, file, package and source ({error})",
                           str(path)) from None
    for font in fonts:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*\.(?:ttf|otf)", font.file):
            raise HandoutError(f"font file {font.file!r} must be a plain .ttf or .otf file name",
                               str(path), "fonts live in templates/fonts/ only")
        if not re.fullmatch(r"[A-Za-z0-9 ]+", font.family):
            raise HandoutError(f"font family {font.family!r} may hold only letters, digits and spaces",
                               str(path))
    return Manifest(fonts, data.get("stacks", {"default": []}))


def _extract(font, target):
    """Copy ``font`` from its package into ``target`` (one face of a collection)."""
    source = Path(font.source)
    if not source.exists():
        raise HandoutError(
            f"font {font.file} needs {source}, from Debian's {font.package}",
            hint="run `make setup`, or apt-get install " + font.package)
    if not font.face and not font.subset:
        shutil.copyfile(source, target)
        return
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
    face.save(str(target), reorderTables=True)


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def install(manifest, fonts_dir, log=print):
    """Put every font of ``manifest`` into ``fonts_dir``; return mismatches."""
    fonts_dir = Path(fonts_dir)
    fonts_dir.mkdir(parents=True, exist_ok=True)
    mismatches = []
    for font in manifest.fonts:
        target = fonts_dir / font.file
        if not target.exists():
            fd, temp = tempfile.mkstemp(dir=fonts_dir, prefix=".tmp-", suffix=".font")
            os.close(fd)
            try:
                _extract(font, temp)
                os.chmod(temp, 0o644)
                os.replace(temp, target)
            finally:
                if os.path.exists(temp):
                    os.unlink(temp)
            log(f"installed {font.file}")
        if font.sha256 and sha256(target) != font.sha256:
            mismatches.append(font.file)
    for package, licence in LICENCES.items():
        if Path(licence).exists():
            shutil.copyfile(licence, fonts_dir / f"LICENSE-{package}.txt")
    return mismatches


def check_installed(manifest, fonts_dir, code):
    """Raise unless every font the locale needs is in ``fonts_dir``."""
    for font in manifest.fonts_for(code):
        if not (Path(fonts_dir) / font.file).is_file():
            raise HandoutError(
                f"font {font.file} is not installed", str(fonts_dir),
                "run `make setup` (or `nkhandout fonts`)")


@lru_cache(maxsize=32)
def _cmap(path):
    from fontTools.ttLib import TTFont

    with TTFont(path, lazy=True, fontNumber=0) as font:
        return frozenset(font.getBestCmap())


def missing_glyphs(text, manifest, fonts_dir, code):
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
