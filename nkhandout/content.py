"""The English source: load content/handout.toml into translatable units."""

import datetime
import math
import re
import tomllib
from dataclasses import dataclass, field

from .errors import HandoutError

MAX_SOURCE_BYTES = 256 * 1024
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_SECTION_ID = re.compile(r"^[a-z][a-z0-9_]*$")
VALUE_KINDS = ("integer", "percent")
MAX_VALUE = 10**12  # [values] print as ordinary numbers


@dataclass(frozen=True)
class Unit:
    """One translatable string: where it sits (msgctxt) and its English."""

    context: str
    text: str
    comment: str
    line: int


@dataclass(frozen=True)
class Block:
    kind: str  # "p" or "ul"
    units: tuple


@dataclass(frozen=True)
class Section:
    id: str
    heading: Unit
    blocks: tuple


@dataclass(frozen=True)
class Source:
    """The parsed English source of the handout."""

    path: object
    name: str
    version: str
    reviewed: datetime.date
    values: dict
    title: Unit
    lead: Unit
    disclaimer: Unit
    sections: tuple
    units: tuple = field(default=())


def _line_of(lines, text):
    """The 1-based line of the file where ``text`` starts (0 if not found)."""
    probe = text[:40].replace("\\", "\\\\").replace('"', '\\"')
    for number, line in enumerate(lines, 1):
        if probe in line:
            return number
    return 0


def load(path, where=None, inside=None):
    """Parse and validate the English source file at ``path``."""
    from .project import read_utf8

    where = where or str(path)
    text = read_utf8(path, MAX_SOURCE_BYTES, where, inside)
    data = parse_toml(text, where)
    return _build(data, text.splitlines(), where, path)


def parse_toml(text, where):
    """``text`` as TOML; every way it can fail is one HandoutError."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line = re.search(r"line (\d+)", str(error))
        raise HandoutError(f"TOML syntax error: {str(error).split(' (at')[0]}",
                           f"{where}:{line.group(1) if line else 1}") from None
    except RecursionError:
        line = _first_line(text, r"(?:[\[{]\s*){50}")
        raise HandoutError("TOML nested too deeply", f"{where}:{line}" if line else where,
                           "arrays and tables nest a few levels at most") from None
    except ValueError as error:  # an integer of more than 4,300 digits, for one
        line = _first_line(text, r"[0-9_]{1000}")
        raise HandoutError(f"TOML value out of range: {str(error).split(';')[0][:120]}",
                           f"{where}:{line}" if line else where, "write numbers of a few digits") from None


def _first_line(text, pattern):
    """The 1-based line of the first match of ``pattern`` (0 if none)."""
    match = re.search(pattern, text)
    return text[: match.start()].count("\n") + 1 if match else 0


def _require(mapping, key, kind, where, parent):
    value = mapping.get(key) if isinstance(mapping, dict) else None
    if not isinstance(value, kind):
        name = f"{parent}.{key}" if parent else key
        expected = getattr(kind, "__name__", "value")
        raise HandoutError(f"'{name}' is missing or not a {expected}", where)
    return value


def _build(data, lines, where, path):
    meta = _require(data, "meta", dict, where, "")
    name = _require(meta, "name", str, where, "meta")
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,80}", name):
        raise HandoutError("'meta.name' must be lower-case letters, digits and hyphens", where)
    version = _require(meta, "version", str, where, "meta")
    reviewed = meta.get("reviewed")
    if not isinstance(reviewed, datetime.date) or isinstance(reviewed, datetime.datetime):
        raise HandoutError("'meta.reviewed' must be a date such as 2026-11-24", where)
    values = _values(data.get("values", {}), where, lines)
    text = _require(data, "text", dict, where, "")
    units = []

    def unit(context, value, comment, parent):
        if not isinstance(value, str) or not value.strip():
            raise HandoutError(f"'{parent}' must be a non-empty string", where)
        for name_ in _PLACEHOLDER.findall(value):
            if name_ not in values:
                raise HandoutError(
                    f"'{parent}' uses {{{name_}}}, which [values] does not define",
                    f"{where}:{_line_of(lines, value)}",
                )
        made = Unit(context, value, comment, _line_of(lines, value))
        units.append(made)
        return made

    title = unit("title", text.get("title"), "Handout title, the page heading.", "text.title")
    lead = unit("lead", text.get("lead"), "Short introduction under the title.", "text.lead")
    sections = []
    seen = set()
    raw_sections = data.get("sections")
    if not isinstance(raw_sections, list) or not raw_sections:
        raise HandoutError("no [[sections]] found", where)
    for index, raw in enumerate(raw_sections, 1):
        sid = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(sid, str) or not _SECTION_ID.match(sid) or sid in seen:
            raise HandoutError(f"section {index} needs a unique lower-case 'id'", where)
        seen.add(sid)
        heading_text = raw.get("heading")
        heading = unit(f"{sid}.heading", heading_text, f"Heading of section '{sid}'.", f"sections.{sid}.heading")
        blocks = []
        paragraphs = items = 0
        raw_blocks = raw.get("blocks", [])
        if not isinstance(raw_blocks, list):
            raise HandoutError(f"section '{sid}': blocks must be a list of p = \"...\" or ul = [...]", where)
        for block in raw_blocks:
            if not isinstance(block, dict) or len(block) != 1 or not ({"p", "ul"} & block.keys()):
                raise HandoutError(f"section '{sid}': each block is either p = \"...\" or ul = [...]", where)
            if "p" in block:
                paragraphs += 1
                blocks.append(Block("p", (unit(
                    f"{sid}.p{paragraphs}", block["p"],
                    f"Section '{sid}', paragraph {paragraphs}.", f"sections.{sid}.p"),)))
            else:
                if not isinstance(block["ul"], list) or not block["ul"]:
                    raise HandoutError(f"section '{sid}': ul must be a non-empty list", where)
                made = []
                for item in block["ul"]:
                    items += 1
                    made.append(unit(
                        f"{sid}.item{items}", item,
                        f"Section '{sid}', list item {items}.", f"sections.{sid}.ul"))
                blocks.append(Block("ul", tuple(made)))
        if not blocks:
            raise HandoutError(f"section '{sid}' has no blocks", where)
        sections.append(Section(sid, heading, tuple(blocks)))
    disclaimer = unit("disclaimer", text.get("disclaimer"), "Closing disclaimer, printed under the sections.", "text.disclaimer")
    return Source(path, name, version, reviewed, values, title, lead, disclaimer, tuple(sections), tuple(units))


def _values(raw, where, lines=()):
    if not isinstance(raw, dict):
        raise HandoutError("[values] must be a table", where)
    values = {}
    for key, spec in raw.items():
        if not (isinstance(spec, dict) and len(spec) == 1 and next(iter(spec)) in VALUE_KINDS):
            raise HandoutError(f"values.{key} must be {{ integer = N }} or {{ percent = 0.N }}", where)
        kind, number = next(iter(spec.items()))
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise HandoutError(f"values.{key}.{kind} must be a number", where)
        if abs(number) >= MAX_VALUE or not math.isfinite(number):
            line = next((n for n, text in enumerate(lines, 1) if re.match(rf"\s*{re.escape(key)}\s*=", text)), 0)
            raise HandoutError(f"values.{key}.{kind} is out of range", f"{where}:{line}" if line else where,
                               f"use a finite number below {MAX_VALUE:,}")
        values[key] = (kind, number)
    return values


def placeholders(text):
    """The placeholder names used in ``text``."""
    return _PLACEHOLDER.findall(text)
