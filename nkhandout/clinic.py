"""Clinic profiles: who hands the sheet out and whom to call."""

# Lazy imports: Babel (country names), PIL (PNG logos) and segno (QR codes),
# inside the functions that need them: a build with nothing to do loads the
# clinic profiles to hash them and must not import those.
import base64
import difflib
import io
import math
import os
import re
import stat
import tomllib
import unicodedata
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING
from xml.parsers import expat

from .compose import boxes
from .errors import HandoutError
from .fonts import Manifest, missing_glyphs
from .project import read_limited

if TYPE_CHECKING:
    from weasyprint import Document

MAX_PROFILE_BYTES = 64 * 1024
MAX_LOGO_BYTES = 2 * 1024 * 1024
FIELDS = {
    # key: (required, longest allowed)
    "name": (True, 60),
    "department": (False, 60),
    "phone": (True, 30),
    "address": (False, 90),
    "website": (False, 90),
    "email": (False, 70),
    "country": (False, 2),
    "logo": (False, 200),
    "note": (False, 140),
}
# Fields printed on the page (their glyphs are checked against the locale's fonts).
PRINTED = ("name", "department", "phone", "address", "website", "email", "note")
MIN_PHONE_DIGITS = 3
MAX_LOGO_PIXELS = 25_000_000
# SVG logos: limits that keep a logo quick to draw (checked before rendering).
MAX_SVG_ELEMENTS = 5000
MAX_SVG_NESTING = 64
MAX_SVG_USES = 500
MAX_SVG_USE_DEPTH = 8
MAX_SVG_DRAWN = 20000  # elements drawn once every <use> is expanded
MAX_SVG_NUMBER = 1e6
# QR code: a 4-module quiet zone and modules big enough to scan from a
# 150 dpi print; a website whose code would be wider than MAX_QR_MM is refused.
QR_BORDER = 4
QR_MODULE_MM = 0.5
MAX_QR_MM = 25.0
_BIDI = frozenset([0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])


@lru_cache(maxsize=1)
def _countries():
    from babel import Locale

    return frozenset(code for code in Locale("en").territories
                     if isinstance(code, str) and re.fullmatch(r"[A-Z]{2}", code))


_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[A-Za-z]{2,}$")
_URL = re.compile(r"^https?://[A-Za-z0-9.-]+(?::\d+)?(?:/[^\s<>\"]*)?$")
_PHONE = re.compile(r"^[0-9+() .\-/]+(?:(?:ext\.?|x)\s*\d+)?$", re.ASCII)


@dataclass(frozen=True)
class Clinic:
    """A validated clinic profile."""

    path: Path
    slug: str
    name: str
    phone: str
    department: str = ""
    address: str = ""
    website: str = ""
    email: str = ""
    country: str = ""
    logo_uri: str = ""
    note: str = ""
    qr_uri: str = ""
    qr_mm: float = 0.0
    logo_name: str = ""

    @staticmethod
    def direction(text: str) -> str:
        """The direction of ``text`` by its first strong character ("ltr", "rtl" or "").

        A clinic's own lines keep their own direction, so a Latin name on an
        Arabic page reads left to right ("Health · Recurrent" never swaps)."""
        for char in text:
            kind = unicodedata.bidirectional(char)
            if kind in ("R", "AL"):
                return "rtl"
            if kind == "L":
                return "ltr"
        return ""


def _line(text, key):
    for number, line in enumerate(text.splitlines(), 1):
        if re.match(rf"\s*{re.escape(key)}\s*=", line):
            return number
    return 1


def load(path: Path | str) -> Clinic:
    """Read and validate the clinic profile at ``path``."""
    path = Path(path)
    where = str(path)
    raw = read_limited(path, MAX_PROFILE_BYTES, where)
    try:
        text = raw.decode("utf-8-sig")
        data = tomllib.loads(text)
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise HandoutError("not UTF-8", f"{where}:{line}", "save the file as UTF-8") from None
    except tomllib.TOMLDecodeError as error:
        at = re.search(r"line (\d+)", str(error))
        raise HandoutError(f"TOML syntax error: {str(error).split(' (at')[0]}",
                           f"{where}:{at.group(1) if at else 1}") from None
    except ValueError:  # an integer of thousands of digits
        long_number = re.search(r"\d{1000,}", text)
        line = text[: long_number.start()].count("\n") + 1 if long_number else 1
        raise HandoutError("a number is too long to read", f"{where}:{line}",
                           "every value is text in quotes") from None
    except RecursionError:
        raise HandoutError("values are nested too deeply to read", where,
                           "every value is text in quotes") from None
    values = {}
    for key, value in data.items():
        if key not in FIELDS:
            close = difflib.get_close_matches(key, FIELDS, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "known keys: " + ", ".join(FIELDS)
            raise HandoutError(f"unknown key '{key}'", f"{where}:{_line(text, key)}", hint)
        if not isinstance(value, str):
            raise HandoutError(f"'{key}' must be text in quotes, not {type(value).__name__}",
                               f"{where}:{_line(text, key)}")
        value = value.strip()
        limit = FIELDS[key][1]
        if key in ("name", "department") and len(value) > limit:
            raise HandoutError(
                f"'{key}' is {len(value)} characters; at most {limit} fit on the page at a readable size",
                f"{where}:{_line(text, key)}", "use a shorter form")
        if len(value) > limit:
            raise HandoutError(f"'{key}' is {len(value)} characters; the limit is {limit}",
                               f"{where}:{_line(text, key)}")
        _check_characters(key, value, f"{where}:{_line(text, key)}")
        values[key] = value
    for key, (required, _limit) in FIELDS.items():
        if required and not values.get(key):
            raise HandoutError(f"missing key '{key}'", where, f'add {key} = "..."')
    _check_phone_digits(values["phone"], f"{where}:{_line(text, 'phone')}")
    checks = {
        "website": (_URL, "'website' must be an http:// or https:// address"),
        "email": (_EMAIL, "'email' is not an e-mail address"),
        "phone": (_PHONE, "'phone' may hold digits, spaces, + ( ) . - / and an extension"),
    }
    for key, (pattern, message) in checks.items():
        if values.get(key) and not pattern.match(values[key]):
            raise HandoutError(message, f"{where}:{_line(text, key)}")
    _check_phone_count(values["phone"], f"{where}:{_line(text, 'phone')}")
    country = values.get("country", "")
    if country and country.upper() not in _countries():
        raise HandoutError(f"'country' {country!r} is not an ISO 3166 country code",
                           f"{where}:{_line(text, 'country')}", "e.g. US, GB, DE, MX")
    logo_uri = _logo(path, values["logo"], f"{where}:{_line(text, 'logo')}") if values.get("logo") else ""
    qr_uri, qr_mm = _qr(values["website"], f"{where}:{_line(text, 'website')}") if values.get("website") else ("", 0.0)
    slug = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-") or "clinic"
    return Clinic(path=path, slug=slug, name=values["name"], phone=values["phone"],
                  department=values.get("department", ""), address=values.get("address", ""),
                  website=values.get("website", ""), email=values.get("email", ""),
                  country=country.upper(), logo_uri=logo_uri, note=values.get("note", ""),
                  qr_uri=qr_uri, qr_mm=qr_mm, logo_name=values.get("logo", ""))


def _check_characters(key, value, where):
    """Refuse what would print as nothing, as boxes, or reorder the text around it."""
    for char in value:
        point = ord(char)
        name = unicodedata.name(char, "")
        shown = f"U+{point:04X}" + (f" ({name})" if name else "")
        if point in _BIDI:
            raise HandoutError(
                f"'{key}' contains {shown}, a bidirectional control that can reorder what prints",
                where, "remove it; the page sets the direction of each line itself")
        category = unicodedata.category(char)
        if category in ("Cc", "Zl", "Zp"):
            raise HandoutError(f"'{key}' contains control character {shown}", where,
                               "write the value on one line of plain text")
        if category == "Cf":
            raise HandoutError(f"'{key}' contains {shown}, an invisible character", where, "remove it")
        if category in ("Co", "Cs", "Cn"):
            raise HandoutError(f"'{key}' contains {shown}, which no font can print", where, "remove it")


def _check_phone_digits(phone, where):
    """A phone number is written with the digits 0-9 (other digits print as boxes in some fonts)."""
    foreign = [c for c in phone if unicodedata.category(c) == "Nd" and c not in "0123456789"]
    if foreign:
        shown = " ".join(f"{c} (U+{ord(c):04X})" for c in dict.fromkeys(foreign))
        raise HandoutError(f"'phone' has digits other than 0-9: {shown}", where,
                           "write the number with the digits 0-9, which every locale's fonts print")


def _check_phone_count(phone, where):
    """A number to call has at least MIN_PHONE_DIGITS digits ("+" or "- - -" is not one)."""
    digits = sum(c in "0123456789" for c in phone)
    if digits < MIN_PHONE_DIGITS:
        raise HandoutError(f"'phone' has {digits} digit(s); a number to call needs at least {MIN_PHONE_DIGITS}",
                           where, "write the number with the digits 0-9")


def check_glyphs(clinic: Clinic, manifest: Manifest, fonts_dir: Path | str, code: str) -> None:
    """Refuse clinic text that the fonts of locale ``code`` cannot draw."""
    for key in PRINTED:
        value = getattr(clinic, key)
        missing = missing_glyphs(value, manifest, fonts_dir, code) if value else []
        if missing:
            shown = " ".join(f"{c} (U+{ord(c):04X})" for c in missing[:8]) + (" ..." if len(missing) > 8 else "")
            raise HandoutError(
                f"'{key}' has characters the fonts for {code} cannot draw ({len(missing)}): {shown}", str(clinic.path),
                "write it in a script the page's fonts have (e.g. a Latin form), "
                "or add a font for it to templates/fonts.toml")


def logo_file(profile: Path, name: str, where: str | None = None) -> Path:
    """The checked path of logo ``name`` beside ``profile``: a plain name of a
    regular, non-empty file inside the profile's folder, under the size limit.
    Nothing is read here; raises HandoutError otherwise."""
    where = where or str(profile)
    folder = Path(profile).resolve().parent
    candidate = Path(name)
    if candidate.is_absolute() or ".." in candidate.parts or not candidate.parts:
        raise HandoutError("'logo' must be a file name inside the profile's folder", where)
    target = folder / candidate
    try:
        resolved = target.resolve(strict=True)
    except (OSError, RuntimeError):
        raise HandoutError(f"logo {name!r} not found next to the profile", where) from None
    if folder not in resolved.parents:
        raise HandoutError("'logo' leads outside the profile's folder", where)
    try:
        info = os.stat(resolved)
    except OSError as error:
        raise HandoutError(f"cannot read logo {name!r}: {error.strerror}", where) from None
    if not stat.S_ISREG(info.st_mode):
        raise HandoutError("'logo' is not a regular file", where)
    if info.st_size > MAX_LOGO_BYTES:
        raise HandoutError(f"logo is {info.st_size // 1024} KB; the limit is 2 MB", where)
    if info.st_size == 0:
        raise HandoutError(f"logo {name!r} is empty", where)
    return resolved


def read_logo(path: Path, where: str) -> bytes:
    """The bytes of a checked logo file, never blocking and never past the limit."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        handle = os.open(path, flags)
    except OSError as error:
        raise HandoutError(f"cannot read logo: {error.strerror}", where) from None
    try:
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            raise HandoutError("'logo' is not a regular file", where)
        data = os.read(handle, MAX_LOGO_BYTES + 1)
    except OSError as error:
        raise HandoutError(f"cannot read logo: {error.strerror}", where) from None
    finally:
        os.close(handle)
    if len(data) > MAX_LOGO_BYTES:
        raise HandoutError("logo is over the limit of 2 MB", where)
    return data


def _logo(profile, name, where):
    """The logo as a data URI, after checking where it is and what it holds."""
    resolved = logo_file(profile, name, where)
    suffix = resolved.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise HandoutError("logo must be an SVG or PNG file", where)
    data = read_logo(resolved, where)
    if suffix == ".png":
        if not data.startswith(b"\x89PNG\r\n\x1a\n"):
            raise HandoutError("logo ends in .png but is not a PNG image", where)
        _check_png(data, name, where)
        mime = "image/png"
    else:
        _check_svg(data, where, name)
        mime = "image/svg+xml"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _check_png(data, name, where):
    """Decode the whole PNG (a truncated or corrupt file is refused) after
    reading its size from the header (an image too large is refused unread)."""
    from PIL import Image

    def refuse(reason):
        raise HandoutError(f"PNG logo {name!r} {reason}", where, "export the logo again as a PNG, or use an SVG")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's own size warning: the limit is checked here
        try:
            with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
                width, height = image.size
                if width * height > MAX_LOGO_PIXELS:
                    refuse(f"is {width} x {height} pixels ({width * height / 1e6:.0f} megapixels); "
                           f"the limit is {MAX_LOGO_PIXELS / 1e6:.0f} megapixels")
                image.verify()  # checksums of every chunk
            with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
                image.load()  # every pixel
        except HandoutError:
            raise
        except Image.DecompressionBombError:
            refuse(f"is too large to decode; the limit is {MAX_LOGO_PIXELS / 1e6:.0f} megapixels")
        except (OSError, ValueError, SyntaxError, EOFError) as error:
            reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
            refuse(f"cannot be decoded: {reason}")


_SVG_REFERENCE = re.compile(
    rb"""(?:href|src)\s*=\s*["'](?!\#)|url\(\s*["']?(?!\#)|@import|<!ENTITY|<!DOCTYPE|<script|<foreignObject""",
    re.I)
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_NOT_A_NUMBER = re.compile(r"#[\w-]+|\.[A-Za-z_-][\w-]*")  # colours (#1e4000), #id, .class
_NOT_NUMERIC = frozenset(["id", "href", "class", "lang", "font-family"])


class _SvgNode:
    __slots__ = ("children", "target")

    def __init__(self):
        self.children = []
        self.target = None  # the id a <use> refers to


def _check_svg(data, where, name="logo"):
    """Refuse an SVG that points at anything outside itself or is too costly to draw.

    The SVG is parsed with expat and refused at the first document type
    declaration, so no entity is ever declared or expanded."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise HandoutError("SVG logo is not UTF-8 text", where) from None
    if "<svg" not in text:
        raise HandoutError("logo ends in .svg but holds no <svg> element", where)
    found = _SVG_REFERENCE.search(data)
    if found:
        raise HandoutError(
            f"SVG logo refers to something outside itself ({found.group(0).decode(errors='replace').strip()})",
            where, "embed everything in the SVG, or use a PNG")

    def refuse(message, hint="simplify the logo, or use a PNG"):
        raise HandoutError(f"SVG logo {name!r} {message}", where, hint)

    ids: dict[str, _SvgNode] = {}
    stack = [_SvgNode()]
    names = [""]
    counts = {"elements": 0, "uses": 0}

    def check_numbers(what, value):
        for number in _NUMBER.findall(_NOT_A_NUMBER.sub(" ", value)):
            figure = float(number)
            if not math.isfinite(figure) or abs(figure) > MAX_SVG_NUMBER:
                refuse(f"has {what}: the number {number[:20]} is out of range "
                       f"(the limit is {MAX_SVG_NUMBER:,.0f})", "use ordinary sizes and coordinates")

    def start(tag, attributes):
        local = tag.rsplit(" ", 1)[-1]
        counts["elements"] += 1
        if counts["elements"] > MAX_SVG_ELEMENTS:
            refuse(f"has more than {MAX_SVG_ELEMENTS} elements; the limit is {MAX_SVG_ELEMENTS}")
        if len(stack) > MAX_SVG_NESTING:
            refuse(f"nests elements more than {MAX_SVG_NESTING} deep; the limit is {MAX_SVG_NESTING}")
        node = _SvgNode()
        stack[-1].children.append(node)
        stack.append(node)
        for attribute, value in attributes.items():
            attribute = attribute.rsplit(" ", 1)[-1]
            if attribute == "id":
                ids.setdefault(value, node)
            elif attribute == "href" and local == "use":
                node.target = value.lstrip("#")
            if attribute not in _NOT_NUMERIC:
                check_numbers(f'{attribute}="{value[:40]}"', value)
        if local == "use":
            counts["uses"] += 1
            if counts["uses"] > MAX_SVG_USES:
                refuse(f"has more than {MAX_SVG_USES} <use> elements; the limit is {MAX_SVG_USES}")
        names.append(local)

    def end(_tag):
        stack.pop()
        names.pop()

    def character_data(data):
        if names[-1] == "style":  # a style sheet's sizes count like attributes
            check_numbers("a <style> with " + repr(data.strip()[:40]), data)

    def no_dtd(*_args):
        refuse("has a document type declaration", "remove the <!DOCTYPE ...> part")

    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = no_dtd
    parser.EntityDeclHandler = no_dtd
    parser.ExternalEntityRefHandler = no_dtd
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = character_data
    parser.buffer_text = True
    try:
        parser.Parse(data, True)
    except expat.ExpatError as error:
        raise HandoutError(f"SVG logo {name!r} is not well-formed XML: {expat.ErrorString(error.code)}",
                           f"{where} ({name} line {error.lineno})") from None
    _check_svg_drawing(stack[0], ids, refuse)


def _check_svg_drawing(root, ids, refuse):
    """Count what the SVG draws once every <use> is expanded (a <use> bomb is
    small on disk and enormous on the page) and how deep the <use> chains go."""
    done: dict[int, tuple[int, int]] = {}  # id(node) -> (elements drawn, depth of <use> references below it)
    busy = set()

    def too_deep():
        refuse(f"nests <use> references more than {MAX_SVG_USE_DEPTH} deep; the limit is {MAX_SVG_USE_DEPTH}")

    def size(node, depth):
        key = id(node)
        if key in done:
            return done[key]
        if key in busy:
            refuse("has a <use> that refers to itself")
        busy.add(key)
        total, deepest = 1, 0
        for child in node.children:
            count, below = size(child, depth)
            total, deepest = total + count, max(deepest, below)
        if node.target is not None and node.target in ids:
            if depth >= MAX_SVG_USE_DEPTH:
                too_deep()
            count, below = size(ids[node.target], depth + 1)
            total, deepest = total + count, max(deepest, below + 1)
        if deepest > MAX_SVG_USE_DEPTH:
            too_deep()
        if total > MAX_SVG_DRAWN:
            refuse(f"draws more than {MAX_SVG_DRAWN} elements once its <use> references are expanded; "
                   f"the limit is {MAX_SVG_DRAWN}")
        busy.discard(key)
        done[key] = (total, deepest)
        return done[key]

    size(root, 0)


def _qr(url, where):
    """The website as a QR code (data URI) and its printed width in mm."""
    import segno

    qr = segno.make(url, error="m", micro=False, boost_error=False)
    modules = qr.symbol_size(scale=1, border=QR_BORDER)[0]
    width = modules * QR_MODULE_MM
    if width > MAX_QR_MM:
        raise HandoutError(f"'website' is {len(url)} characters: too long to print as a QR code that scans",
                           where, f"use an address of at most {max_qr_url()} characters")
    svg = qr.svg_inline(scale=1, border=QR_BORDER, dark="#000", light="#fff", omitsize=True)
    # a standalone image (data URI) needs its namespace, or browsers do not draw it
    svg = svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii"), width


@lru_cache(maxsize=1)
def max_qr_url() -> int:
    """The longest website that still prints as a scannable QR code."""
    import segno

    length = 1
    while True:
        qr = segno.make("https://" + "a" * (length + 1 - 8), error="m", micro=False, boost_error=False)
        if qr.symbol_size(scale=1, border=QR_BORDER)[0] * QR_MODULE_MM > MAX_QR_MM:
            return length
        length += 1


def describe_uris(message: str, clinic: Clinic | None) -> str:
    """``message`` with the clinic's data URIs replaced by what they are."""
    if clinic is None:
        return message
    if clinic.logo_uri and clinic.logo_uri[:60] in message:
        message = re.sub(re.escape(clinic.logo_uri[:60]) + r"[^'\" ]*",
                         f"logo {clinic.logo_name!r} of {clinic.path}", message)
    if clinic.qr_uri and clinic.qr_uri[:60] in message:
        message = re.sub(re.escape(clinic.qr_uri[:60]) + r"[^'\" ]*", f"QR code of {clinic.path}", message)
    return re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]{20,}", "an embedded image", message)


def load_many(paths: Iterable[Path | str]) -> list[Path]:
    """Profiles from files and folders (a folder gives every *.toml in it)."""
    found = []
    for item in paths:
        item = Path(item)
        if item.is_dir():
            found.extend(sorted(item.glob("*.toml")))
        else:
            found.append(item)
    return found


PT_PER_MM = 72 / 25.4
FIT_TOLERANCE_MM = 0.05


def _field_of(box):
    element = getattr(box, "element", None)
    return element.get("data-field") if element is not None else None


class BoxError(HandoutError):
    """A clinic field that does not fit its box: a problem of the profile
    with this locale (check lists it), not of the project."""


def check_box(document: "Document", clinic: Clinic | None, code: str) -> None:
    """Refuse a laid-out page whose clinic box does not hold every field.

    Nothing in the box is clipped, so a word wider than the box (a long
    e-mail address, an unbreakable name, a phone number with a long label)
    would run past its border or under the logo or QR code: each text
    fragment of each field is measured against the box and the images."""
    if clinic is None:
        return
    for page in document.pages:
        for box in boxes(page._page_box):
            element = getattr(box, "element", None)
            if getattr(box, "element_tag", None) != "aside" or element is None \
                    or "clinic" not in element.get("class", "").split():
                continue
            left = box.content_box_x()
            right = left + box.width
            images = [(b.position_x, b.position_y, b.position_x + b.margin_width(), b.position_y + b.margin_height())
                      for b in boxes(box) if getattr(b, "element_tag", None) == "img"]
            worst: dict[str, float] = {}
            _measure(box, None, left, right, images, worst)
            for key, excess in sorted(worst.items(), key=lambda item: -item[1]):
                mm = excess / PT_PER_MM
                if mm > FIT_TOLERANCE_MM:
                    raise BoxError(
                        f"the clinic's '{key}' does not fit its box in {code}: it runs {mm:.1f} mm too wide",
                        str(clinic.path), f"shorten '{key}' or give it spaces where it may break")


def _measure(box, field, left, right, images, worst):
    field = _field_of(box) or field
    if type(box).__name__ == "TextBox" and field and box.width > 0:
        x0, x1 = box.position_x, box.position_x + box.width
        y0, y1 = box.position_y, box.position_y + box.height
        excess = max(x1 - right, left - x0, 0.0)
        for ix0, iy0, ix1, iy1 in images:
            if x0 < ix1 and ix0 < x1 and y0 < iy1 and iy0 < y1:  # under the logo or the QR code
                excess = max(excess, min(x1 - ix0, ix1 - x0))
        if excess > 0:
            worst[field] = max(worst.get(field, 0.0), excess)
        return
    for child in getattr(box, "children", ()):
        _measure(child, field, left, right, images, worst)
