"""The English source: load a topic's handout.toml into translatable units."""

import datetime
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import HandoutError
from .project import MAX_SOURCE_BYTES, read_utf8

_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_SECTION_ID = re.compile(r"^[a-z][a-z0-9_]*$")
VALUE_KINDS = ("integer", "percent")
MAX_VALUE = 10**12  # [values] print as ordinary numbers
MAX_ICONS = 100  # icons in one row of an icon array
BLOCK_KINDS = ("p", "ul", "figure", "checklist", "write")


@dataclass(frozen=True)
class Unit:
    """One translatable string: where it sits (msgctxt) and its English."""

    context: str
    text: str
    comment: str
    line: int


@dataclass(frozen=True)
class Row:
    """One row of an icon array: ``filled`` of ``total`` icons drawn dark.

    ``filled`` and ``total`` name entries of [values]; the figure never holds
    a number of its own."""

    filled: str
    total: str
    label: object  # Unit or None: printed beside the icons
    alt: object  # Unit: the row's alternative text, with its numbers


@dataclass(frozen=True)
class Block:
    kind: str  # one of BLOCK_KINDS
    units: tuple  # p: (text,); ul, checklist: items; figure: (caption,); write: (label,)
    rows: tuple = ()  # figure: its Rows
    id: str = ""  # figure: its id
    lines: int = 0  # write: lines to write on


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
    key: object = None  # Unit or None: the boxed key message at the top
    topic: str = ""  # the folder of content/topics/ it was read from
    keywords: str = ""  # for the page's metadata (PDF Keywords), from [meta]


def _line_of(lines, text):
    """The 1-based line of the file where ``text`` starts (0 if not found)."""
    probe = text[:40].replace("\\", "\\\\").replace('"', '\\"')
    for number, line in enumerate(lines, 1):
        if probe in line:
            return number
    return 0


def load(path: Path, where: str | None = None, inside: Path | None = None) -> Source:
    """Parse and validate the English source file at ``path``."""
    where = where or str(path)
    text = read_utf8(path, MAX_SOURCE_BYTES, where, inside)
    data = parse_toml(text, where)
    return _build(data, text.splitlines(), where, path)


def parse_toml(text: str, where: str) -> dict[str, Any]:
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
    keywords = meta.get("keywords", "")
    if not isinstance(keywords, str) or len(keywords) > 200 or any(ord(c) < 32 for c in keywords):
        raise HandoutError("'meta.keywords' must be one line of text (at most 200 characters)", where)
    reviewed = meta.get("reviewed")
    if not isinstance(reviewed, datetime.date) or isinstance(reviewed, datetime.datetime):
        raise HandoutError("'meta.reviewed' must be a date such as 2026-11-24", where)
    values, notes_of = _values(data.get("values", {}), where, lines)
    text = _require(data, "text", dict, where, "")
    units = []

    def unit(context, value, comment, parent):
        if not isinstance(value, str) or not value.strip():
            raise HandoutError(f"'{parent}' must be a non-empty string", where)
        used = []
        for name_ in _PLACEHOLDER.findall(value):
            if name_ not in values:
                raise HandoutError(
                    f"'{parent}' uses {{{name_}}}, which [values] does not define",
                    f"{where}:{_line_of(lines, value)}",
                )
            if name_ not in used:
                used.append(name_)
        notes = [f"{{{n}}} = {_what(*values[n])}" + (f": {notes_of[n]}." if notes_of.get(n) else ".")
                 for n in used]
        if notes:
            comment = " ".join([comment, "Placeholders:", *notes])
        made = Unit(context, value, comment, _line_of(lines, value))
        units.append(made)
        return made

    title = unit("title", text.get("title"), "Handout title, the page heading.", "text.title")
    lead = unit("lead", text.get("lead"), "Short introduction under the title.", "text.lead")
    key = None
    if text.get("key") is not None:
        key = unit("key", text.get("key"),
                   "Key message: the bottom line, boxed at the top of the page under the label 'In short'.",
                   "text.key")
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
        raw_blocks = raw.get("blocks", [])
        if not isinstance(raw_blocks, list):
            raise HandoutError(f"section '{sid}': blocks must be a list of tables such as p = \"...\"", where)
        counts = dict.fromkeys(BLOCK_KINDS, 0)
        for block in raw_blocks:
            kind = next((k for k in BLOCK_KINDS if isinstance(block, dict) and k in block), None)
            if kind is None or (kind in ("p", "ul", "checklist") and len(block) != 1):
                raise HandoutError(
                    f"section '{sid}': each block is one of p = \"...\", ul = [...], checklist = [...], "
                    "figure = \"id\" (with caption and rows) or write = \"label\" (with lines)", where)
            counts[kind] += 1
            number = counts[kind]
            if kind == "p":
                blocks.append(Block("p", (unit(
                    f"{sid}.p{number}", block["p"],
                    f"Section '{sid}', paragraph {number}.", f"sections.{sid}.p"),)))
            elif kind in ("ul", "checklist"):
                if not isinstance(block[kind], list) or not block[kind]:
                    raise HandoutError(f"section '{sid}': {kind} must be a non-empty list", where)
                made = []
                for item in block[kind]:
                    if kind == "ul":
                        counts["item"] = counts.get("item", 0) + 1
                        made.append(unit(
                            f"{sid}.item{counts['item']}", item,
                            f"Section '{sid}', list item {counts['item']}.", f"sections.{sid}.ul"))
                    else:
                        counts["check"] = counts.get("check", 0) + 1
                        made.append(unit(
                            f"{sid}.check{counts['check']}", item,
                            f"Section '{sid}', checklist item {counts['check']}: printed after an empty "
                            "tick box, for the reader to tick at the appointment.", f"sections.{sid}.checklist"))
                blocks.append(Block(kind, tuple(made)))
            elif kind == "write":
                blocks.append(_write_block(block, sid, number, unit, where))
            else:
                blocks.append(_figure_block(block, sid, values, unit, where, lines))
        if not blocks:
            raise HandoutError(f"section '{sid}' has no blocks", where)
        sections.append(Section(sid, heading, tuple(blocks)))
    disclaimer = unit("disclaimer", text.get("disclaimer"), "Closing disclaimer, printed under the sections.", "text.disclaimer")
    return Source(path, name, version, reviewed, values, title, lead, disclaimer, tuple(sections),
                  tuple(units), key, Path(path).parent.name, keywords)


def _write_block(block, sid, number, unit, where):
    if set(block) - {"write", "lines"}:
        raise HandoutError(f"section '{sid}': a write block has only write and lines", where)
    count = block.get("lines", 3)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 10:
        raise HandoutError(f"section '{sid}': write.lines must be a whole number from 1 to 10", where)
    label = unit(f"{sid}.write{number}", block["write"],
                 f"Section '{sid}': label over {count} empty lines the reader writes on.",
                 f"sections.{sid}.write")
    return Block("write", (label,), lines=count)


def _figure_block(block, sid, values, unit, where, lines):
    """An icon array: rows of icons, ``filled`` of ``total`` drawn dark."""
    fid = block["figure"]
    if not isinstance(fid, str) or not _SECTION_ID.match(fid):
        raise HandoutError(f"section '{sid}': figure needs a lower-case id such as figure = \"trial\"", where)
    extra = set(block) - {"figure", "caption", "rows"}
    if extra:
        raise HandoutError(f"figure '{fid}': unknown key {sorted(extra)[0]!r} (use caption and rows)", where)
    caption = unit(f"{sid}.{fid}.caption", block.get("caption"),
                   f"Caption printed with the icon chart '{fid}'; it says what the icons show.",
                   f"figure {fid}.caption")
    raw_rows = block.get("rows")
    if not isinstance(raw_rows, list) or not raw_rows:
        raise HandoutError(f"figure '{fid}': rows must be a non-empty list", where)
    rows = []
    for index, raw in enumerate(raw_rows, 1):
        if not isinstance(raw, dict) or set(raw) - {"filled", "of", "label", "alt"}:
            raise HandoutError(f"figure '{fid}', row {index}: use filled, of, label and alt", where)
        for key in ("filled", "of"):
            name = raw.get(key)
            if not isinstance(name, str) or name not in values or values[name][0] != "integer":
                raise HandoutError(
                    f"figure '{fid}', row {index}: {key} must name an integer in [values] "
                    "(figures take their numbers only from [values])", where)
        filled, total = values[raw["filled"]][1], values[raw["of"]][1]
        if not 0 <= filled <= total or not 1 <= total <= MAX_ICONS:
            raise HandoutError(
                f"figure '{fid}', row {index}: needs 0 <= {raw['filled']} <= {raw['of']} <= {MAX_ICONS}",
                f"{where}:{_line_of(lines, raw['filled'])}")
        label = None
        if raw.get("label") is not None:
            label = unit(f"{sid}.{fid}.row{index}", raw["label"],
                         f"Icon chart '{fid}': short name of row {index}, printed beside its icons "
                         "(keep it short: a word or two).", f"figure {fid}.label")
        alt = unit(f"{sid}.{fid}.alt{index}", raw.get("alt"),
                   f"Icon chart '{fid}': alternative text of row {index}, read aloud by screen readers "
                   "instead of the icons; keep every number.", f"figure {fid}.alt")
        rows.append(Row(raw["filled"], raw["of"], label, alt))
    return Block("figure", (caption,), rows=tuple(rows), id=fid)


def _values(raw, where, lines=()):
    """{name: (kind, number)} and {name: note} from [values]."""
    if not isinstance(raw, dict):
        raise HandoutError("[values] must be a table", where)
    values, notes = {}, {}
    for key, spec in raw.items():
        kinds = [k for k in spec if k in VALUE_KINDS] if isinstance(spec, dict) else []
        if len(kinds) != 1 or set(spec) - {kinds[0], "note"}:
            raise HandoutError(f"values.{key} must be {{ integer = N }} or {{ percent = 0.N }}"
                               " (with an optional note = \"what it counts\")", where)
        kind = kinds[0]
        number = spec[kind]
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise HandoutError(f"values.{key}.{kind} must be a number", where)
        if abs(number) >= MAX_VALUE or not math.isfinite(number):
            line = next((n for n, text in enumerate(lines, 1) if re.match(rf"\s*{re.escape(key)}\s*=", text)), 0)
            raise HandoutError(f"values.{key}.{kind} is out of range", f"{where}:{line}" if line else where,
                               f"use a finite number below {MAX_VALUE:,}")
        note = spec.get("note")
        if note is not None and (not isinstance(note, str) or not note.strip()):
            raise HandoutError(f"values.{key}.note must be text", where)
        values[key] = (kind, number)
        if note:
            notes[key] = note.strip()
    return values, notes


def _what(kind, number):
    """What a placeholder holds, for the translators' comment: "20, a number"."""
    if kind == "percent":
        return f"{number * 100:.10g}% in English, a percentage"
    return f"{number:,}, a number"


def placeholders(text: str) -> list[str]:
    """The placeholder names used in ``text``."""
    return _PLACEHOLDER.findall(text)
