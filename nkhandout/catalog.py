"""Gettext catalogs: the template through Babel (extraction, CLDR plural
data, the in-memory Catalog); PO files read and written through polib, which
keeps previous msgids (``#|``), every header and line numbers.

Writing keeps what it does not change: an entry whose content is the same as
when the file was read is written back exactly as it was (its wrapping, its
comments' layout), and so are the header lines no command changed and the
file's line ends (LF or CRLF). Only new and changed entries are written anew."""

import datetime
import gettext
import io
import json
import re
import textwrap
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polib
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract
from babel.messages.plurals import get_plural

from . import content, locales, references
from .errors import HandoutError
from .project import read_limited
from .render import read_template

PROJECT = "nkhandout handout"
MAX_CATALOG_BYTES = 512 * 1024
COMMENT_TAGS = ("Translators:",)
# Headers of nkhandout's own, kept through every read and write.
REVIEW_HEADERS = ("X-Review-Status", "X-Reviewed-By", "X-Review-Date", "X-Reviewed-Version")
_HEADER_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9-]*):\s*(.*)$")


def _fixed_date(day):
    return datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.timezone.utc)


def template(source: content.Source, rel: Callable[..., str]) -> Catalog:
    """A topic's catalog template (.pot): its English source."""
    pot = Catalog(project=PROJECT, version=source.version, fuzzy=False,
                  creation_date=_fixed_date(source.reviewed),
                  msgid_bugs_address="", copyright_holder="", charset="utf-8")
    source_rel = rel(source.path)
    for unit in source.units:
        flags = ("python-brace-format",) if content.placeholders(unit.text) else ()
        pot.add(unit.text, context=unit.context, auto_comments=[unit.comment],
                locations=[(source_rel, unit.line)], flags=flags)
    return pot


# The labels' template changes with the templates, not with a topic's
# content: it carries a fixed date so that it is written the same each time.
LABELS_VERSION = "1"
LABELS_DATE = datetime.date(2026, 1, 1)


def labels_template(templates_dir: Path, rel: Callable[[Path | str], str]) -> Catalog:
    """The template of the labels every topic shares: the page's own words
    (pgettext in templates/*.j2) and the reference list's words."""
    pot = Catalog(project=PROJECT, version=LABELS_VERSION, fuzzy=False,
                  creation_date=_fixed_date(LABELS_DATE),
                  msgid_bugs_address="", copyright_holder="", charset="utf-8")
    for path in sorted(templates_dir.glob("*.j2")):
        with io.BytesIO(read_template(templates_dir, path.name)) as handle:
            for line, msgid, comments, context in extract(
                    "jinja2.ext:babel_extract", handle, comment_tags=COMMENT_TAGS,
                    strip_comment_tags=True, options={"trimmed": "true"}):
                if not context:
                    raise HandoutError("template labels need pgettext(\"label.name\", \"...\")",
                                       f"{rel(path)}:{line}")
                text = msgid if isinstance(msgid, str) else msgid[0]
                flags = ("python-brace-format",) if content.placeholders(text) else ()
                pot.add(text, context=context, auto_comments=comments,
                        locations=[(rel(path), line)], flags=flags)
    for key, word in references.WORDS.items():
        pot.add(word, context="reference",
                auto_comments=[f"Printed in the reference list ({key})."])
    return pot


@dataclass
class Loaded:
    """A catalog read from disk, with the headers Babel does not keep."""

    catalog: Catalog
    extra_headers: dict
    raw_language: str | None
    plural_forms: str | None = None
    header_lines: dict | None = None  # header name -> line in the file
    original: "Original | None" = None  # the file as read; None for a catalog not read from disk


@dataclass
class Original:
    """A PO file as it was read: what writing it back keeps."""

    newline: str  # "\n" or "\r\n"
    header: list  # the header entry's lines, its comments included
    head: list  # the header's lines before its msgstr
    groups: list  # [(field name or None, [lines])]: the header msgstr, a field at a time
    fields: list  # [(name, value)] of the header, in the file's order
    mime: dict  # Babel's header values of the catalog as read
    # (obsolete, context, msgid) -> (signature, [lines], {part: [lines]}, {part: signature})
    entries: dict = field(default_factory=dict)
    tail: list = field(default_factory=list)  # comment lines after the last entry
    blank_end: int = 0  # empty lines at the end of the file
    gaps: dict = field(default_factory=dict)  # (obsolete, context, msgid) or "tail" -> empty lines before it
    final_newline: bool = True  # whether the last line ends with a line end


def header_problems(loaded: Loaded, code: str, file_name: str) -> list[tuple[int, str]]:
    """[(line, message)] for the headers of ``code``'s catalog: a Language
    that names another language, a missing or wrong Plural-Forms."""
    lines = loaded.header_lines or {}
    found = []
    language = loaded.raw_language
    if not language or not locales.same_language(language, code):
        found.append((lines.get("Language", 1),
                      f"Language header is {language!r} but the file is {file_name} (locale {code}); "
                      f"set \"Language: {code}\\n\" if it is {code}, or rename the file to the language it holds"))
    plural = _plural_problem(loaded.plural_forms, code)
    if plural:
        found.append((lines.get("Plural-Forms", 1), plural))
    return found


def _plural_problem(raw_header, code):
    match = re.fullmatch(r"\s*nplurals\s*=\s*(\d+)\s*;\s*plural\s*=\s*(.+?);?\s*", raw_header or "")
    expected = get_plural(code)
    if not match:
        return (f"Plural-Forms header is missing or malformed; it should be "
                f"\"nplurals={expected.num_plurals}; plural={expected.plural_expr};\"")
    try:
        gettext.c2py(match.group(2))
    except (ValueError, SyntaxError, RecursionError, OverflowError):
        return f"Plural-Forms expression {match.group(2)[:60]!r} is not valid"
    if int(match.group(1)) != expected.num_plurals:
        return (f"Plural-Forms says nplurals={match.group(1)[:10]} but {code} has "
                f"{expected.num_plurals} plural forms")
    return None


def _raw_headers(text):
    """Header fields of the PO file's first entry, as written."""
    match = re.search(r'^msgid ""\s*\nmsgstr ""\s*\n((?:".*"\s*\n)*)', text, re.M)
    fields: dict[str, str] = {}
    if not match:
        return None
    joined = "".join(_unescape(chunk) for chunk in re.findall(r'^"(.*)"\s*$', match.group(1), re.M))
    for line in joined.split("\n"):
        found = _HEADER_LINE.match(line.strip())
        if found:
            fields.setdefault(found.group(1), found.group(2).strip())
    return fields


WIDTH = 76  # columns new and changed entries are wrapped to


def load(path: Path | str, where: str | None = None, locale: str | None = None,
         inside: Path | str | None = None) -> Loaded:
    """Read the PO file at ``path``; a syntax error names file and line.

    Any wrapping, LF or CRLF line ends, and the headers Poedit, Weblate or
    GNU gettext write are accepted; what GNU ``msgfmt`` would refuse as
    syntax is refused here, with its line."""
    where = where or str(path)
    raw = read_limited(path, MAX_CATALOG_BYTES, where, inside)
    if not raw.strip():
        raise HandoutError("file is empty", where, "start from `nkhandout init-locale`")
    if raw.startswith(b"\xef\xbb\xbf"):
        raise HandoutError("file starts with a byte order mark (BOM)", f"{where}:1",
                           "save it as UTF-8 without BOM")
    if b"\0" in raw:
        raise HandoutError("file contains NUL bytes; it is not a text catalog", where)
    lone = re.search(rb"\r(?!\n)", raw)
    if lone:
        line = raw[: lone.start()].count(b"\n") + 1
        raise HandoutError("a carriage return (CR) that does not end a line", f"{where}:{line}",
                           "save the file with Unix (LF) or Windows (CRLF) line ends")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise HandoutError("not valid UTF-8", f"{where}:{line}", "save the file as UTF-8") from None
    newline = "\r\n" if "\r\n" in text and text.count("\r\n") == text.count("\n") else "\n"
    text = text.replace("\r\n", "\n")
    headers = _raw_headers(text)
    if headers is None:
        raise HandoutError("no header entry (msgid \"\" with Language, Content-Type)", f"{where}:1",
                           "start from `nkhandout init-locale`")
    charset = re.search(r"charset=([\w-]+)", headers.get("Content-Type", ""))
    if not charset or charset.group(1).lower() not in ("utf-8", "utf8"):
        raise HandoutError("Content-Type header must say charset=UTF-8", f"{where}:1")
    _lint(text, where)
    _check_duplicates(text, where)
    try:
        po = polib.pofile(text, encoding="utf-8", wrapwidth=WIDTH, check_for_duplicates=False)
    except (OSError, ValueError) as error:
        found = re.search(r"\(line (\d+)\)(?::\s*(.*))?", str(error))
        detail = found.group(2) if found and found.group(2) else "entry is not msgctxt, msgid, msgstr in that order"
        raise HandoutError(f"PO syntax error: {detail}",
                           f"{where}:{found.group(1)}" if found else where) from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    blank_end = len(lines) - len("\n".join(lines).rstrip().split("\n"))
    blocks = _blocks(lines)
    tail = blocks.pop() if blocks and blocks[-1].msgid_line is None else None
    entries = list(po)
    # Each polib entry is one block of lines after the header's; if the two
    # readings disagree, nothing is kept as written (everything is written anew).
    keep = (len(blocks) == len(entries) + 1 and blocks[0].msgid_line is not None
            and lines[blocks[0].msgid_line].startswith('msgid ""')
            and all(lines[block.msgid_line].startswith("#~") == bool(entry.obsolete)
                    for block, entry in zip(blocks[1:], entries)))
    try:
        catalog = Catalog(locale=locale, charset="utf-8")
        catalog[""] = Message("", "".join(f"{k}: {v}\n" for k, v in headers.items()),
                              user_comments=po.header.split("\n") if po.header else [],
                              flags=["fuzzy"] if po.metadata_is_fuzzy else [])
        mime = {name: str(value).strip() for name, value in catalog.mime_headers}
    except (ValueError, TypeError, AttributeError, IndexError, KeyError) as error:
        raise HandoutError(f"PO syntax error: {error}", where) from None
    original = None
    if keep:
        header = lines[blocks[0].start:blocks[0].end]
        head, groups = _header_groups(header)
        original = Original(newline, header, head, groups, list(headers.items()), mime)
        original.tail = lines[tail.start:tail.end] if tail else []
        original.blank_end = blank_end
        original.final_newline = text.endswith("\n")
        if tail:
            original.gaps["tail"] = tail.start - blocks[-1].end
    for index, entry in enumerate(entries):
        block = blocks[index + 1] if keep else None
        message = _message(entry, block.msgid_line + 1 if block else entry.linenum)
        if entry.obsolete:
            catalog.obsolete[message.id if message.context is None else (message.id, message.context)] = message
        else:
            catalog[message.id] = message
        if original is not None:
            assert block is not None  # original is kept only with the blocks (keep)
            written = lines[block.start:block.end]
            key = (bool(entry.obsolete), entry.msgctxt, entry.msgid)
            original.entries[key] = (_signature(entry), written, _parts(written), _part_signatures(entry))
            original.gaps[key] = block.start - blocks[index].end
    header_lines = {}
    for name in ("Language", "Plural-Forms"):
        at = re.search(r'^"' + name + ":", text, re.M)
        header_lines[name] = text[: at.start()].count("\n") + 1 if at else 1
    extra = {k: v for k, v in headers.items() if k.startswith("X-")}
    return Loaded(catalog, extra, headers.get("Language"), headers.get("Plural-Forms"), header_lines, original)


def previous_context_of(message: Message) -> str | None:
    """The previous msgctxt (``#| msgctxt``) kept with ``message``, if any."""
    return getattr(message, "previous_context", None)


def set_previous_context(message: Message, context: str | None) -> None:
    """Babel has no place for a previous msgctxt (``#| msgctxt``); kept alongside."""
    setattr(message, "previous_context", context)


def _message(entry, lineno):
    """Babel's Message for the polib entry ``entry``."""
    locations = [(path, int(line)) if str(line).isdigit() else (path, None)
                 for path, line in entry.occurrences]
    if entry.msgid_plural:
        msgid = (entry.msgid, entry.msgid_plural)
        string = tuple(entry.msgstr_plural[k] for k in sorted(entry.msgstr_plural))
    else:
        msgid, string = entry.msgid, entry.msgstr
    previous = [entry.previous_msgid] if entry.previous_msgid is not None else []
    if previous and entry.previous_msgid_plural is not None:
        previous.append(entry.previous_msgid_plural)
    # Babel writes a (path, None) location as the bare path; its annotation says int only.
    message = Message(msgid, string, locations=locations, flags=entry.flags,  # type: ignore[arg-type]
                      auto_comments=[c for c in (entry.comment or "").split("\n") if c],
                      user_comments=entry.tcomment.split("\n") if entry.tcomment else [],
                      previous_id=previous, lineno=lineno, context=entry.msgctxt)
    # The flags the file has, not those Babel adds by looking at the English.
    message.flags = set(entry.flags)
    set_previous_context(message, entry.previous_msgctxt)
    return message


class _POEntry(polib.POEntry):
    """polib's entry, whose text with line breaks is also wrapped a line at a
    time (as GNU gettext does), not left in lines of any length."""

    def _str_field(self, fieldname, delflag, plural_index, field, wrapwidth=78):
        lines = super()._str_field(fieldname, delflag, plural_index, field, wrapwidth)
        if len(lines) < 2 or not wrapwidth:
            return lines
        result = [lines[0]]
        for line in lines[1:]:
            inner = line[len(delflag) + 1:-1]  # escaped, between the quotes
            if len(line) <= wrapwidth or " " not in inner:
                result.append(line)
                continue
            pieces = textwrap.wrap(inner, max(wrapwidth - 2 - len(delflag), 20), drop_whitespace=False,
                                   break_long_words=False, break_on_hyphens=False, expand_tabs=False,
                                   replace_whitespace=False)
            result += [f'{delflag}"{piece}"' for piece in pieces]
        return result


def _entry(message, obsolete=False):
    """The polib entry for Babel's Message ``message``."""
    plural = isinstance(message.id, (list, tuple))
    entry = _POEntry(
        msgid=message.id[0] if plural else message.id, msgctxt=message.context, obsolete=obsolete,
        flags=sorted(message.flags), comment="\n".join(message.auto_comments),
        tcomment="\n".join(message.user_comments),
        occurrences=[(path, str(line) if line else "") for path, line in message.locations])
    if plural:
        entry.msgid_plural = message.id[1]
        entry.msgstr_plural = dict(enumerate(message.string or ("",)))
    else:
        entry.msgstr = message.string or ""
    previous = list(message.previous_id or ())
    if previous:
        entry.previous_msgid = previous[0]
        if plural and len(previous) > 1:
            entry.previous_msgid_plural = previous[1]
        entry.previous_msgctxt = previous_context_of(message)
    return entry


def _signature(entry):
    """What an entry says, whatever its wrapping: equal signatures are the same entry."""
    parts = _part_signatures(entry)
    return (bool(entry.obsolete),) + tuple(parts[kind] for kind in _PARTS)


@dataclass
class _Block:
    start: int  # first line (0-based)
    end: int  # after the last line
    msgid_line: int | None  # line of its msgid, None for comments alone


def _blocks(lines):
    """The entries of a PO file as line ranges, in order. An entry runs from
    its first comment to its last msgstr line; comments before a blank line
    belong to the next entry (as GNU gettext and polib read them)."""
    blocks = []
    start = msgid_line = None
    in_msgstr = False
    for index, line in enumerate(lines):
        stripped = line.strip()
        body = stripped[2:].lstrip() if stripped.startswith("#~") else stripped
        if stripped.startswith("#~|"):
            kind = "comment"
        elif not stripped:
            kind = "blank"
        elif body.startswith("#") or (stripped.startswith("#") and not stripped.startswith("#~")):
            kind = "comment"
        else:
            kind = body.split(" ", 1)[0].split("[", 1)[0]  # msgctxt, msgid, msgid_plural, msgstr or a "string"
            if not body:
                kind = "comment"
        if kind == "blank":
            if in_msgstr:
                assert start is not None  # a msgstr line started the block
                blocks.append(_Block(start, index, msgid_line))
                start = msgid_line = None
                in_msgstr = False
            continue
        if in_msgstr and kind in ("comment", "msgctxt", "msgid"):
            assert start is not None  # a msgstr line started the block
            blocks.append(_Block(start, index, msgid_line))
            start = msgid_line = None
            in_msgstr = False
        if start is None:
            start = index
        if kind == "msgid":
            msgid_line = index
        elif kind == "msgstr":
            in_msgstr = True
    if start is not None:
        end = len(lines)
        while end > start and not lines[end - 1].strip():
            end -= 1
        blocks.append(_Block(start, end, msgid_line))
    return blocks


def _header_groups(header):
    """The header entry's lines before its msgstr, and its msgstr's quoted
    lines grouped a field at a time: [(name, [lines])]."""
    at = next((i for i, line in enumerate(header) if line.startswith("msgstr")), len(header))
    groups, pending, text = [], [], ""
    for index in range(at, len(header)):
        line = header[index]
        quoted = line[len("msgstr"):].strip() if index == at else line.strip()
        piece = _unescape(quoted[1:-1]) if len(quoted) >= 2 else ""
        if index == at and not piece:
            continue
        pending.append(quoted if index == at else line)
        text += piece
        if text.endswith("\n"):
            found = _HEADER_LINE.match(text.strip())
            groups.append((found.group(1) if found else None, pending))
            pending, text = [], ""
    if pending:
        groups.append((None, pending))
    return header[:at], groups


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _unescape(chunk):
    """A PO string's inside with its escapes read (``\\\\n`` stays a backslash and n)."""
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), chunk)


def header_value_problem(value: str) -> str | None:
    """Why ``value`` cannot be written into a catalog header, or None.

    A header value is one line of plain text: control characters (a newline
    ends the header and starts another), other line or paragraph breaks,
    bidi and invisible format characters, and backslashes (``\\n`` is a
    newline once the catalog is read) are refused."""
    for char in str(value):
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
            return f"it contains the control or invisible character U+{ord(char):04X}"
        if char == "\\":
            return "it contains a backslash (\\n in a header starts a new header line)"
    return None


def check_header_value(name: str, value: str, error: type[HandoutError] = HandoutError) -> None:
    """Raise ``error`` when ``value`` cannot be the catalog header ``name``."""
    problem = header_value_problem(value)
    if problem:
        raise error(f"{name} value {str(value)[:60]!r} cannot go into a catalog header: {problem}",
                    hint="give it as one line of plain text, without control characters or backslashes")


_STRING = re.compile(r'^"(?:[^"\\]|\\.)*"$')
# The escapes every PO tool reads alike; msgfmt refuses most others (\q, \e, \u).
_ESCAPE = re.compile(r'\\(?:[^ntr"\\]|$)')
_KEYWORD = re.compile(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?)\s+(.*)$')
_PREVIOUS_KEYWORDS = ("msgctxt", "msgid", "msgid_plural")


def _lint(text, where):
    """Stricter than polib's reader: every line must be a comment, a keyword
    with one quoted string, a quoted continuation, or blank, and so must the
    lines after ``#|`` (previous English) and ``#~`` (obsolete), as msgfmt asks."""
    for number, line in enumerate(text.split("\n"), 1):
        stripped = line.strip()
        kind = ""
        if stripped.startswith("#~|"):
            stripped, kind = stripped[3:].strip(), "previous"
        elif stripped.startswith("#~"):
            stripped, kind = stripped[2:].strip(), "obsolete"
        elif stripped.startswith("#|"):
            stripped, kind = stripped[2:].strip(), "previous"
        elif stripped.startswith("#"):
            continue
        if not stripped:
            continue
        match = _KEYWORD.match(stripped)
        value = match.group(2) if match else stripped
        where_line = f"{where}:{number}"
        if kind == "previous" and match and match.group(1) not in _PREVIOUS_KEYWORDS:
            match = None
            value = stripped = stripped.split()[0]
        if not match and not stripped.startswith('"'):
            if kind == "previous":
                raise HandoutError(
                    f"PO syntax error in the old English (#| line): unknown keyword {stripped.split()[0][:20]!r}",
                    where_line, 'each #| line is #| msgid "..." or a quoted #| "..." line; '
                    "or delete the #| lines (they are only a note for translators)")
            raise HandoutError(f"PO syntax error: unknown keyword {stripped.split()[0][:20]!r}",
                               where_line, "each line is msgctxt, msgid, msgstr, a \"quoted\" line or a # comment")
        if not _STRING.match(value):
            raise HandoutError("PO syntax error: string not closed with a quote (or a stray quote inside)",
                               where_line, 'write quotes inside text as \\"')
        odd = _ESCAPE.search(re.sub(r"\\\\", "", value))
        if odd:
            raise HandoutError(f"PO syntax error: unknown escape {odd.group(0)!r}", where_line,
                               "a backslash starts \\n, \\t, \\\" or \\\\; write a backslash itself as \\\\")


def _check_duplicates(text, where):
    """Two live entries with the same msgctxt and msgid."""
    seen: dict[tuple[str | None, str], int] = {}
    lines = text.split("\n")
    context = None
    number = 0
    while number < len(lines):
        line = lines[number]
        if line.startswith("msgctxt "):
            context = line[8:]
        elif line.startswith("msgid "):
            start = number + 1
            msgid = [line[6:]]
            while number + 1 < len(lines) and lines[number + 1].startswith('"'):
                number += 1
                msgid.append(lines[number])
            key = (context, "".join(msgid))
            if key != (None, '""'):
                if key in seen:
                    raise HandoutError(
                        f"duplicate entry (first at line {seen[key]})", f"{where}:{start}",
                        "delete one of the two entries")
                seen[key] = start
            context = None
        elif not line.strip():
            context = None
        number += 1


def dump(loaded: Loaded) -> str:
    """The catalog as PO text, with nkhandout's extra headers kept.

    A catalog read from disk keeps the file's line ends, the header lines no
    command changed, and every entry that says what it said when read, byte
    for byte; new and changed entries are written GNU-style by polib, the old
    English of a fuzzy entry as ``#| msgid`` lines however long it is."""
    for name, value in loaded.extra_headers.items():
        check_header_value(name, value)
    original = loaded.original
    gaps = original.gaps if original is not None else {}
    lines = list(_header(loaded))
    messages = [(m, False) for m in loaded.catalog if m.id]
    messages += [(m, True) for m in loaded.catalog.obsolete.values()]
    for message, obsolete in messages:
        key = (obsolete, message.context, message.id[0] if isinstance(message.id, (list, tuple)) else message.id)
        lines += [""] * gaps.get(key, 1) + _entry_lines(message, obsolete, original)
    if original is not None and original.tail:
        lines += [""] * gaps.get("tail", 1) + original.tail
    lines += [""] * (original.blank_end if original is not None else 0)
    newline = original.newline if original is not None else "\n"
    return newline.join(lines) + (newline if original is None or original.final_newline else "")


def _entry_lines(message, obsolete, original):
    """The lines of an entry: as the file had them when it says the same;
    else polib's, but with each part (translator comments, extracted
    comments, references, flags, old English, msgctxt, msgid, msgstr) that
    did not change kept as the file had it."""
    entry = _entry(message, obsolete)
    written = entry.__unicode__(wrapwidth=WIDTH).rstrip("\n").split("\n")
    found = None
    if original is not None:
        found = original.entries.get((obsolete, entry.msgctxt, entry.msgid))
        if found is None and entry.msgctxt is not None:  # the English changed, its place did not
            at_place = [value for (was_obsolete, context, _), value in original.entries.items()
                        if was_obsolete == obsolete and context == entry.msgctxt]
            found = at_place[0] if len(at_place) == 1 else None
    if found is None:
        return written
    signature, lines, parts, part_signatures = found
    if signature == _signature(entry):
        return lines
    new_parts, new_signatures = _parts(written), _part_signatures(entry)
    result = []
    for kind in _PARTS:
        same = kind in parts and part_signatures[kind] == new_signatures[kind]
        result += parts[kind] if same else new_parts.get(kind, [])
    return result


_PARTS = ("tcomment", "comment", "occurrences", "flags", "previous", "msgctxt", "msgid", "msgstr")
_COMMENT_KINDS = {".": "comment", ":": "occurrences", ",": "flags", "|": "previous"}


def _parts(lines):
    """{part: [lines]} of an entry's lines (see _PARTS)."""
    parts: dict[str, list[str]] = {}
    kind = None
    for line in lines:
        stripped = line.strip()
        body = stripped[2:].lstrip() if stripped.startswith("#~") else None
        if stripped.startswith("#~|"):
            kind = "previous"
        elif body is not None and not body.startswith('"') and body:
            kind = {"msgctxt": "msgctxt", "msgstr": "msgstr"}.get(
                body.split(" ", 1)[0].split("[", 1)[0], "msgid")
        elif body is not None:
            kind = kind or "msgid"  # a continuation of the keyword before
        elif stripped.startswith("#"):
            kind = _COMMENT_KINDS.get(stripped[1:2], "tcomment")
        elif not stripped.startswith('"'):
            kind = {"msgctxt": "msgctxt", "msgstr": "msgstr"}.get(
                stripped.split(" ", 1)[0].split("[", 1)[0], "msgid")
        parts.setdefault(kind or "msgid", []).append(line)
    return parts


def _part_signatures(entry):
    def words(text):
        return " ".join((text or "").split())

    return {
        "tcomment": words(entry.tcomment), "comment": words(entry.comment),
        "occurrences": () if entry.obsolete else tuple((p, l or "") for p, l in entry.occurrences),
        "flags": frozenset(entry.flags),
        "previous": (entry.previous_msgctxt, entry.previous_msgid, entry.previous_msgid_plural),
        "msgctxt": entry.msgctxt, "msgid": (entry.msgid, entry.msgid_plural or None),
        "msgstr": (entry.msgstr if not entry.msgid_plural else None,
                   tuple(sorted(entry.msgstr_plural.items())) if entry.msgid_plural else None),
    }


# Header fields that commands set; the others stay as the file has them.
MANAGED_HEADERS = ("Project-Id-Version", "POT-Creation-Date")


def _quoted_field(name, value):
    return f'"{polib.escape(f"{name}: {value}")}\\n"'


def _header(loaded):
    """The header entry's lines."""
    catalog = loaded.catalog
    now = [(name, str(value).strip()) for name, value in catalog.mime_headers]
    original = loaded.original
    if original is None:
        fields = [(k, v) for k, v in now if not k.startswith("X-")] + list(loaded.extra_headers.items())
        head = catalog.header_comment.split("\n") if catalog.header_comment else []
        head += (["#, fuzzy"] if catalog.fuzzy else []) + ['msgid ""', 'msgstr ""']
        return head + [_quoted_field(k, v) for k, v in fields]
    wanted = dict(original.fields)
    changed = {}
    values = dict(now)
    for name in MANAGED_HEADERS:
        if values.get(name) != original.mime.get(name) and name in values:
            changed[name] = values[name]
    for name, value in loaded.extra_headers.items():
        if wanted.get(name) != value:
            changed[name] = value
    if not changed:
        return original.header
    lines = original.head + ['msgstr ""']
    for name, group in original.groups:
        if name in changed:
            lines.append(_quoted_field(name, changed.pop(name)))
        else:
            lines += group
    return lines + [_quoted_field(name, value) for name, value in changed.items()]


def merge(loaded, pot):
    """Bring ``loaded`` up to date with ``pot``; return the changed contexts.

    Matching is by place first: an entry whose msgctxt is unchanged but whose
    English changed becomes fuzzy, keeping the old English as ``#| msgid``.
    English that only moved keeps its translation. New strings come in empty;
    removed ones become obsolete.
    """
    old = loaded.catalog
    by_key = {(m.context, m.id): m for m in old if m.id}
    by_context = {m.context: m for m in old if m.id and m.context}
    by_id: dict[str, Message] = {}
    for message in old:
        if message.id and message.string and not message.fuzzy:
            by_id.setdefault(message.id, message)
    new = Catalog(locale=old.locale, project=PROJECT, version=pot.version,
                  creation_date=pot.creation_date, revision_date=old.revision_date,
                  last_translator=old.last_translator, language_team=old.language_team,
                  msgid_bugs_address=old.msgid_bugs_address,
                  charset="utf-8", fuzzy=False, header_comment=old.header_comment)
    used = set()
    changed = []
    for message in pot:
        if not message.id:
            continue
        key = (message.context, message.id)
        flags = set(message.flags)
        previous: tuple[()] | list[str] = ()
        previous_context = None
        string: str | tuple[str, ...] | list[str] | None = ""
        user_comments = []
        if key in by_key:
            match = by_key[key]
            string, user_comments = match.string, match.user_comments
            if match.fuzzy:
                flags.add("fuzzy")
                previous = match.previous_id
                previous_context = previous_context_of(match)
            used.add(key)
        elif message.id in by_id:
            match = by_id[message.id]
            string, user_comments = match.string, match.user_comments
        elif message.context in by_context and by_context[message.context].string:
            match = by_context[message.context]
            string, user_comments = match.string, match.user_comments
            flags.add("fuzzy")
            # An entry already fuzzy keeps the English its text translates.
            if match.fuzzy and match.previous_id:
                previous = match.previous_id
                previous_context = previous_context_of(match)
            else:
                previous = [match.id]
            used.add((match.context, match.id))
            changed.append(message.context)
        added = new.add(message.id, string, context=message.context, flags=flags,
                        auto_comments=message.auto_comments, user_comments=user_comments,
                        locations=message.locations, previous_id=previous)
        set_previous_context(added, previous_context)
    current = {(m.context, m.id) for m in pot}
    for (context, msgid), message in by_key.items():
        if (context, msgid) not in used and (context, msgid) not in current:
            if message.string:
                new.obsolete[(msgid, context) if context else msgid] = message
    for key, message in old.obsolete.items():
        if (message.context, message.id) not in {(m.context, m.id) for m in new if m.id}:
            new.obsolete.setdefault(key, message)
    return Loaded(new, loaded.extra_headers, loaded.raw_language, loaded.plural_forms,
                  loaded.header_lines, loaded.original), changed


@dataclass(frozen=True)
class Stats:
    translated: int
    fuzzy: int
    untranslated: int

    @property
    def complete(self) -> bool:
        return self.fuzzy == 0 and self.untranslated == 0


_PLACEHOLDER = re.compile(r"\{[a-z_][a-z0-9_]*\}")


def is_blank(text: str) -> bool:
    """True when ``text`` has no letter and no digit once markup (citation
    markers, placeholders, bold stars) is taken out: spaces, punctuation,
    symbols or invisible characters only."""
    text = _PLACEHOLDER.sub("", references.CITATION.sub("", text or ""))
    return not any(unicodedata.category(char)[0] in "LN" for char in text)


_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def text_problem(msgstr: str) -> str | None:
    """What in a translation would print wrongly or invisibly, or None:
    control characters (other than a line end or tab) and bidi embedding,
    override and isolate controls, which can print text reversed. Marks that
    scripts need (U+200C/U+200D joiners, U+200E/U+200F direction marks) stay."""
    for char in msgstr or "":
        if char in "\n\t":
            continue
        if char in _BIDI_CONTROLS:
            return (f"contains the bidi control U+{ord(char):04X}, which can print text reversed; "
                    "remove it (direction marks U+200E/U+200F are allowed)")
        if unicodedata.category(char) == "Cc":
            return f"contains the control character U+{ord(char):04X}; remove it"
    return None


def translated(msgid, msgstr) -> bool:
    """True when ``msgstr`` is a usable translation of ``msgid``: not empty,
    and not blank (unless the English itself is blank)."""
    return isinstance(msgstr, str) and bool(msgstr) and (not is_blank(msgstr) or is_blank(msgid))


@dataclass(frozen=True)
class Gap:
    """A template string the catalog does not translate usably."""

    context: str
    line: int  # of the entry in the catalog, 0 when it has none
    kind: str  # "untranslated", "blank", "fuzzy" or "edited"
    english: str = ""  # for "edited": the template's English

    @property
    def message(self) -> str:
        if self.kind == "fuzzy":
            return (f"{self.context}: fuzzy (the English changed); check the translation, "
                    "then remove the fuzzy flag")
        if self.kind == "blank":
            return (f"{self.context}: translation is blank (only spaces, punctuation or markup); "
                    "translate it")
        if self.kind == "edited":
            shown = self.english if len(self.english) <= 60 else self.english[:57] + "..."
            return (f"{self.context}: msgid edited: it is not the English of the template; "
                    f"put the English back (msgid {json.dumps(shown, ensure_ascii=False)}; a msgid is "
                    "never changed in a catalog), or run `nkhandout update` if the English source changed")
        return f"{self.context}: untranslated"


def _unique_contexts(pot):
    """{context: msgid} of the template's contexts that name one string."""
    seen = {}
    for message in pot:
        if message.id and message.context:
            seen[message.context] = None if message.context in seen else message.id
    return {context: msgid for context, msgid in seen.items() if msgid is not None}


def edited_msgids(catalog, pot) -> list[tuple[int, str, str]]:
    """[(line, context, template English)] for the catalog's entries whose
    msgid is not the template's English for their msgctxt (and no entry has
    that English): a msgid edited in the catalog, or a catalog that `update`
    has not brought up to date with changed English."""
    current = _unique_contexts(pot)
    found = []
    for message in catalog:
        if not message.id or message.context not in current or message.id == current[message.context]:
            continue
        if catalog.get(current[message.context], context=message.context) is None:
            found.append((message.lineno or 0, message.context, current[message.context]))
    return found


def gaps(catalog, pot) -> list[Gap]:
    """Every template string that is untranslated, blank, fuzzy or whose
    msgid was edited, in template order: the one place that decides whether a
    catalog is complete."""
    edited = {context: (line, english) for line, context, english in edited_msgids(catalog, pot)}
    found = []
    for message in pot:
        if not message.id:
            continue
        entry = catalog.get(message.id, context=message.context)
        line = getattr(entry, "lineno", 0) or 0
        context = message.context or message.id[:30]
        if entry is None and message.context in edited:
            found.append(Gap(context, edited[message.context][0], "edited", message.id))
        elif entry is None or not entry.string:
            found.append(Gap(context, line, "untranslated"))
        elif not translated(message.id, entry.string):
            found.append(Gap(context, line, "blank"))
        elif entry.fuzzy:
            found.append(Gap(context, line, "fuzzy"))
    return found


def stats(catalog: Catalog, pot: Catalog) -> Stats:
    """Counts against the template: translated, fuzzy, untranslated (blank
    translations count as untranslated)."""
    holes = gaps(catalog, pot)
    total = sum(1 for message in pot if message.id)
    fuzzy = sum(1 for gap in holes if gap.kind == "fuzzy")
    return Stats(total - len(holes), fuzzy, len(holes) - fuzzy)


def incomplete(catalog: Catalog, pot: Catalog) -> list[str]:
    """Contexts of the template's strings that are untranslated, blank or fuzzy."""
    return [gap.context for gap in gaps(catalog, pot)]


def translations(catalog) -> dict[tuple[str | None, str], str]:
    """{(context, msgid): text} for every usable (translated, not blank, not
    fuzzy) entry."""
    return {
        (m.context, m.id): m.string
        for m in catalog
        if m.id and translated(m.id, m.string) and not m.fuzzy
    }
