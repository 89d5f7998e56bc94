"""Gettext catalogs through Babel: build the template, read, merge, write."""

import datetime
import io
import re
from dataclasses import dataclass

from babel.messages.catalog import Catalog
from babel.messages.extract import extract
from babel.messages.pofile import PoFileError, read_po, write_po

from . import content, references
from .errors import HandoutError

PROJECT = "nkhandout handout"
MAX_CATALOG_BYTES = 512 * 1024
COMMENT_TAGS = ("Translators:",)
# Headers of nkhandout's own, kept through every read and write.
REVIEW_HEADERS = ("X-Review-Status", "X-Reviewed-By", "X-Review-Date", "X-Reviewed-Version")
_HEADER_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9-]*):\s*(.*)$")


def _fixed_date(day):
    return datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.timezone.utc)


def template(source, rel):
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


def labels_template(templates_dir, rel):
    """The template of the labels every topic shares: the page's own words
    (pgettext in templates/*.j2) and the reference list's words."""
    from .render import read_template

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


def header_problems(loaded, code, file_name):
    """[(line, message)] for the headers of ``code``'s catalog: a Language
    that names another language, a missing or wrong Plural-Forms."""
    from . import locales

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
    import gettext

    from babel.messages.plurals import get_plural

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
    fields = {}
    if not match:
        return None
    joined = "".join(_unescape(chunk) for chunk in re.findall(r'^"(.*)"\s*$', match.group(1), re.M))
    for line in joined.split("\n"):
        found = _HEADER_LINE.match(line.strip())
        if found:
            fields.setdefault(found.group(1), found.group(2).strip())
    return fields


def load(path, where=None, locale=None, inside=None):
    """Read the PO file at ``path``; a syntax error names file and line."""
    from .project import read_limited

    where = where or str(path)
    raw = read_limited(path, MAX_CATALOG_BYTES, where, inside)
    if not raw.strip():
        raise HandoutError("file is empty", where, "start from `nkhandout init-locale`")
    if raw.startswith(b"\xef\xbb\xbf"):
        raise HandoutError("file starts with a byte order mark (BOM)", f"{where}:1",
                           "save it as UTF-8 without BOM")
    if b"\r" in raw:
        line = raw[: raw.index(b"\r")].count(b"\n") + 1
        raise HandoutError("Windows (CRLF) line ends", f"{where}:{line}",
                           "save the file with Unix (LF) line ends")
    if b"\0" in raw:
        raise HandoutError("file contains NUL bytes; it is not a text catalog", where)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise HandoutError("not valid UTF-8", f"{where}:{line}", "save the file as UTF-8") from None
    headers = _raw_headers(text)
    if headers is None:
        raise HandoutError("no header entry (msgid \"\" with Language, Content-Type)", f"{where}:1",
                           "start from `nkhandout init-locale`")
    charset = re.search(r"charset=([\w-]+)", headers.get("Content-Type", ""))
    if not charset or charset.group(1).lower() not in ("utf-8", "utf8"):
        raise HandoutError("Content-Type header must say charset=UTF-8", f"{where}:1")
    _lint(text, where)
    _check_duplicates(text, where)
    text, previous = _take_previous(text)
    try:
        catalog = read_po(io.StringIO(text), locale=locale, abort_invalid=True, charset="utf-8")
    except PoFileError as error:
        raise HandoutError(f"PO syntax error: {error.args[0].rsplit(' on ', 1)[0]}",
                           f"{where}:{error.lineno + 1}") from None
    except (ValueError, TypeError, AttributeError, IndexError, KeyError) as error:
        raise HandoutError(f"PO syntax error: {error}", where) from None
    for message in catalog:
        message.auto_comments = [c for c in message.auto_comments if c]
        if message.lineno in previous:
            message.previous_id = [previous[message.lineno]]
    extra = {k: v for k, v in headers.items() if k.startswith("X-")}
    header_lines = {}
    for name in ("Language", "Plural-Forms"):
        at = re.search(r'^"' + name + ":", text, re.M)
        header_lines[name] = text[: at.start()].count("\n") + 1 if at else 1
    return Loaded(catalog, extra, headers.get("Language"), headers.get("Plural-Forms"), header_lines)


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _unescape(chunk):
    """A PO string's inside with its escapes read (``\\\\n`` stays a backslash and n)."""
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), chunk)


def header_value_problem(value):
    """Why ``value`` cannot be written into a catalog header, or None.

    A header value is one line of plain text: control characters (a newline
    ends the header and starts another), other line or paragraph breaks,
    bidi and invisible format characters, and backslashes (``\\n`` is a
    newline once the catalog is read) are refused."""
    import unicodedata

    for char in str(value):
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
            return f"it contains the control or invisible character U+{ord(char):04X}"
        if char == "\\":
            return "it contains a backslash (\\n in a header starts a new header line)"
    return None


def check_header_value(name, value, error=HandoutError):
    """Raise ``error`` when ``value`` cannot be the catalog header ``name``."""
    problem = header_value_problem(value)
    if problem:
        raise error(f"{name} value {str(value)[:60]!r} cannot go into a catalog header: {problem}",
                    hint="give it as one line of plain text, without control characters or backslashes")


def _unquote(chunk):
    chunk = chunk.strip()
    if len(chunk) < 2 or chunk[0] != '"' or chunk[-1] != '"':
        return ""
    return chunk[1:-1].replace('\\"', '"').replace("\\n", "\n").replace("\\t", "\t").replace("\\\\", "\\")


def _take_previous(text):
    """Babel does not read ``#| msgid`` lines: take them out, keyed by entry line.

    The lines become empty ``#.`` comments so that line numbers stay true.
    """
    lines = text.split("\n")
    previous = {}
    pending = None
    for index, line in enumerate(lines):
        if line.startswith("#| msgid "):
            pending = _unquote(line[len("#| msgid "):])
            lines[index] = "#."
        elif line.startswith('#| "') and pending is not None:
            pending += _unquote(line[3:])
            lines[index] = "#."
        elif line.startswith("#|"):
            lines[index] = "#."
        elif line.startswith("msgid ") and pending is not None:
            previous[index + 1] = pending
            pending = None
        elif not line.strip():
            pending = None
    return "\n".join(lines), previous


_STRING = re.compile(r'^"(?:[^"\\]|\\.)*"$')
_KEYWORD = re.compile(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?)\s+(.*)$')


def _lint(text, where):
    """Stricter than Babel's reader: every line must be a comment, a keyword
    with one quoted string, a quoted continuation, or blank (as msgfmt asks)."""
    for number, line in enumerate(text.split("\n"), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _KEYWORD.match(stripped)
        value = match.group(2) if match else stripped
        if not match and not stripped.startswith('"'):
            raise HandoutError(f"PO syntax error: unknown keyword {stripped.split()[0][:20]!r}",
                               f"{where}:{number}", "each line is msgctxt, msgid, msgstr, a \"quoted\" line or a # comment")
        if not _STRING.match(value):
            raise HandoutError("PO syntax error: string not closed with a quote (or a stray quote inside)",
                               f"{where}:{number}", 'write quotes inside text as \\"')


def _check_duplicates(text, where):
    """Two live entries with the same msgctxt and msgid."""
    seen = {}
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


def dump(loaded):
    """The catalog as PO text, with nkhandout's extra headers kept."""
    buffer = io.BytesIO()
    write_po(buffer, loaded.catalog, width=76, include_previous=False,
             omit_header=False, sort_output=False)
    text = _with_previous(buffer.getvalue().decode("utf-8"), loaded.catalog)
    for name, value in loaded.extra_headers.items():
        check_header_value(name, value)
    if loaded.extra_headers:
        extra = "".join(f'"{k}: {v}\\n"\n' for k, v in loaded.extra_headers.items())
        text = re.sub(r'("Generated-By: [^"]*\\n"\n)', lambda m: m.group(1) + extra, text, count=1)
    return text


def _with_previous(text, catalog):
    """``text`` with each fuzzy entry's old English as ``#| msgid`` lines.

    Babel wraps a long previous msgid as one comment (``#| msgid "" "a b"``),
    which no reader takes back; GNU gettext's form is one quoted piece a line
    (``#| msgid ""`` then ``#| "..."``), and _take_previous reads it back."""
    from babel.messages.pofile import normalize

    lines = text.split("\n")
    for message in catalog:
        if not (message.id and message.context and message.previous_id):
            continue
        quoted = normalize(message.context, width=76)
        target = f"msgctxt {quoted}"
        if "\n" in target or target not in lines:
            continue
        at = lines.index(target)
        previous = normalize(message.previous_id[0], prefix="#| ", width=76).split("\n")
        previous[0] = "#| msgid " + previous[0]
        lines[at:at] = previous
    return "\n".join(lines)


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
    by_id = {}
    for message in old:
        if message.id and message.string and not message.fuzzy:
            by_id.setdefault(message.id, message)
    new = Catalog(locale=old.locale, project=old.project, version=pot.version,
                  creation_date=pot.creation_date, revision_date=old.revision_date,
                  last_translator=old.last_translator, language_team=old.language_team,
                  charset="utf-8", fuzzy=False, header_comment=old.header_comment)
    used = set()
    changed = []
    for message in pot:
        if not message.id:
            continue
        key = (message.context, message.id)
        flags = set(message.flags)
        previous = ()
        string = ""
        user_comments = []
        if key in by_key:
            match = by_key[key]
            string, user_comments = match.string, match.user_comments
            if match.fuzzy:
                flags.add("fuzzy")
                previous = match.previous_id
            used.add(key)
        elif message.id in by_id:
            match = by_id[message.id]
            string, user_comments = match.string, match.user_comments
        elif message.context in by_context and by_context[message.context].string:
            match = by_context[message.context]
            string, user_comments = match.string, match.user_comments
            flags.add("fuzzy")
            # An entry already fuzzy keeps the English its text translates.
            previous = match.previous_id if match.fuzzy and match.previous_id else [match.id]
            used.add((match.context, match.id))
            changed.append(message.context)
        new.add(message.id, string, context=message.context, flags=flags,
                auto_comments=message.auto_comments, user_comments=user_comments,
                locations=message.locations, previous_id=previous)
    for (context, msgid), message in by_key.items():
        if (context, msgid) not in used and (context, msgid) not in {(m.context, m.id) for m in pot}:
            if message.string:
                new.obsolete[(msgid, context) if context else msgid] = message
    for key, message in old.obsolete.items():
        if (message.context, message.id) not in {(m.context, m.id) for m in new if m.id}:
            new.obsolete.setdefault(key, message)
    return Loaded(new, loaded.extra_headers, loaded.raw_language), changed


@dataclass(frozen=True)
class Stats:
    translated: int
    fuzzy: int
    untranslated: int

    @property
    def complete(self):
        return self.fuzzy == 0 and self.untranslated == 0


_PLACEHOLDER = re.compile(r"\{[a-z_][a-z0-9_]*\}")


def is_blank(text):
    """True when ``text`` has no letter and no digit once markup (citation
    markers, placeholders, bold stars) is taken out: spaces, punctuation,
    symbols or invisible characters only."""
    import unicodedata

    text = _PLACEHOLDER.sub("", references.CITATION.sub("", text or ""))
    return not any(unicodedata.category(char)[0] in "LN" for char in text)


_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def text_problem(msgstr):
    """What in a translation would print wrongly or invisibly, or None:
    control characters (other than a line end or tab) and bidi embedding,
    override and isolate controls, which can print text reversed. Marks that
    scripts need (U+200C/U+200D joiners, U+200E/U+200F direction marks) stay."""
    import unicodedata

    for char in msgstr or "":
        if char in "\n\t":
            continue
        if char in _BIDI_CONTROLS:
            return (f"contains the bidi control U+{ord(char):04X}, which can print text reversed; "
                    "remove it (direction marks U+200E/U+200F are allowed)")
        if unicodedata.category(char) == "Cc":
            return f"contains the control character U+{ord(char):04X}; remove it"
    return None


def translated(msgid, msgstr):
    """True when ``msgstr`` is a usable translation of ``msgid``: not empty,
    and not blank (unless the English itself is blank)."""
    return isinstance(msgstr, str) and bool(msgstr) and (not is_blank(msgstr) or is_blank(msgid))


@dataclass(frozen=True)
class Gap:
    """A template string the catalog does not translate usably."""

    context: str
    line: int  # of the entry in the catalog, 0 when it has none
    kind: str  # "untranslated", "blank" or "fuzzy"

    @property
    def message(self):
        if self.kind == "fuzzy":
            return (f"{self.context}: fuzzy (the English changed); check the translation, "
                    "then remove the fuzzy flag")
        if self.kind == "blank":
            return (f"{self.context}: translation is blank (only spaces, punctuation or markup); "
                    "translate it")
        return f"{self.context}: untranslated"


def gaps(catalog, pot):
    """Every template string that is untranslated, blank or fuzzy, in template
    order: the one place that decides whether a catalog is complete."""
    found = []
    for message in pot:
        if not message.id:
            continue
        entry = catalog.get(message.id, context=message.context)
        line = getattr(entry, "lineno", 0) or 0
        context = message.context or message.id[:30]
        if entry is None or not entry.string:
            found.append(Gap(context, line, "untranslated"))
        elif not translated(message.id, entry.string):
            found.append(Gap(context, line, "blank"))
        elif entry.fuzzy:
            found.append(Gap(context, line, "fuzzy"))
    return found


def stats(catalog, pot):
    """Counts against the template: translated, fuzzy, untranslated (blank
    translations count as untranslated)."""
    holes = gaps(catalog, pot)
    total = sum(1 for message in pot if message.id)
    fuzzy = sum(1 for gap in holes if gap.kind == "fuzzy")
    return Stats(total - len(holes), fuzzy, len(holes) - fuzzy)


def incomplete(catalog, pot):
    """Contexts of the template's strings that are untranslated, blank or fuzzy."""
    return [gap.context for gap in gaps(catalog, pot)]


def translations(catalog):
    """{(context, msgid): text} for every usable (translated, not blank, not
    fuzzy) entry."""
    return {
        (m.context, m.id): m.string
        for m in catalog
        if m.id and translated(m.id, m.string) and not m.fuzzy
    }
