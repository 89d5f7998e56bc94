"""Clinic profiles: who hands the sheet out and whom to call."""

import base64
import difflib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from babel import Locale

from .errors import HandoutError

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
_COUNTRIES = frozenset(code for code in Locale("en").territories if re.fullmatch(r"[A-Z]{2}", code))
_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[A-Za-z]{2,}$")
_URL = re.compile(r"^https?://[A-Za-z0-9.-]+(?::\d+)?(?:/[^\s<>\"]*)?$")
_PHONE = re.compile(r"^[0-9+() .\-/]+(?:(?:ext\.?|x)\s*\d+)?$")


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


def _line(text, key):
    for number, line in enumerate(text.splitlines(), 1):
        if re.match(rf"\s*{re.escape(key)}\s*=", line):
            return number
    return 1


def load(path):
    """Read and validate the clinic profile at ``path``."""
    from .project import read_limited

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
        line = re.search(r"line (\d+)", str(error))
        raise HandoutError(f"TOML syntax error: {str(error).split(' (at')[0]}",
                           f"{where}:{line.group(1) if line else 1}") from None
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
        if any(ord(c) < 32 for c in value):
            raise HandoutError(f"'{key}' contains control characters", f"{where}:{_line(text, key)}")
        values[key] = value
    for key, (required, _limit) in FIELDS.items():
        if required and not values.get(key):
            raise HandoutError(f"missing key '{key}'", where, f'add {key} = "..."')
    checks = {
        "website": (_URL, "'website' must be an http:// or https:// address"),
        "email": (_EMAIL, "'email' is not an e-mail address"),
        "phone": (_PHONE, "'phone' may hold digits, spaces, + ( ) . - / and an extension"),
    }
    for key, (pattern, message) in checks.items():
        if values.get(key) and not pattern.match(values[key]):
            raise HandoutError(message, f"{where}:{_line(text, key)}")
    country = values.get("country", "")
    if country and country.upper() not in _COUNTRIES:
        raise HandoutError(f"'country' {country!r} is not an ISO 3166 country code",
                           f"{where}:{_line(text, 'country')}", "e.g. US, GB, DE, MX")
    logo_uri = _logo(path, values["logo"], f"{where}:{_line(text, 'logo')}") if values.get("logo") else ""
    qr_uri = _qr(values["website"]) if values.get("website") else ""
    slug = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-") or "clinic"
    return Clinic(path=path, slug=slug, name=values["name"], phone=values["phone"],
                  department=values.get("department", ""), address=values.get("address", ""),
                  website=values.get("website", ""), email=values.get("email", ""),
                  country=country.upper(), logo_uri=logo_uri, note=values.get("note", ""),
                  qr_uri=qr_uri)


def _logo(profile, name, where):
    """The logo as a data URI, after checking where it is and what it holds."""
    folder = profile.resolve().parent
    candidate = Path(name)
    if candidate.is_absolute() or ".." in candidate.parts:
        raise HandoutError("'logo' must be a file name inside the profile's folder", where)
    target = folder / candidate
    try:
        resolved = target.resolve(strict=True)
    except (OSError, RuntimeError):
        raise HandoutError(f"logo {name!r} not found next to the profile", where) from None
    if folder not in resolved.parents:
        raise HandoutError("'logo' leads outside the profile's folder", where)
    if not resolved.is_file():
        raise HandoutError("'logo' is not a regular file", where)
    size = resolved.stat().st_size
    if size > MAX_LOGO_BYTES:
        raise HandoutError(f"logo is {size // 1024} KB; the limit is 2 MB", where)
    data = resolved.read_bytes()
    suffix = resolved.suffix.lower()
    if suffix == ".png":
        if not data.startswith(b"\x89PNG\r\n\x1a\n"):
            raise HandoutError("logo ends in .png but is not a PNG image", where)
        mime = "image/png"
    elif suffix == ".svg":
        _check_svg(data, where)
        mime = "image/svg+xml"
    else:
        raise HandoutError("logo must be an SVG or PNG file", where)
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


_SVG_REFERENCE = re.compile(
    rb"""(?:href|src)\s*=\s*["'](?!\#)|url\(\s*["']?(?!\#)|@import|<!ENTITY|<!DOCTYPE|<script|<foreignObject""",
    re.I)


def _check_svg(data, where):
    """Refuse an SVG that points at anything outside itself."""
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


def _qr(url):
    import segno

    qr = segno.make(url, error="m", micro=False)
    svg = qr.svg_inline(scale=1, border=2, dark="#000", light="#fff", omitsize=True)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def load_many(paths):
    """Profiles from files and folders (a folder gives every *.toml in it)."""
    found = []
    for item in paths:
        item = Path(item)
        if item.is_dir():
            found.extend(sorted(item.glob("*.toml")))
        else:
            found.append(item)
    return found
