"""CSL-JSON references: loading, citation numbering and NLM (Vancouver) style."""

import json
import re
from collections.abc import Iterable
from pathlib import Path

from markupsafe import Markup, escape

from .errors import HandoutError
from .project import read_utf8

MAX_REFERENCES_BYTES = 512 * 1024
MAX_AUTHORS = 6  # NLM: list the first six, then "et al."
COMPACT_AUTHORS = 2  # the printed page: the first two, then "et al."
CITATION = re.compile(r"\[@([^\]]*)\]")
_KEY = re.compile(r"^[A-Za-z0-9_:.-]+$")
NUMBER_FIELDS = ("volume", "issue", "page")

# Words printed around citation data; they are translated like any label.
WORDS = {
    "et_al": "et al.",
}


def load(path: Path, where: str | None = None, inside: Path | None = None) -> dict[str, dict]:
    """The references in the CSL-JSON file at ``path``, by id."""
    where = where or str(path)
    text = read_utf8(path, MAX_REFERENCES_BYTES, where, inside)
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as error:
        raise HandoutError(f"malformed CSL-JSON: {error.msg}", f"{where}:{error.lineno}") from None
    except RecursionError:
        line = _line_too_deep(text)
        raise HandoutError("malformed CSL-JSON: nested too deeply", f"{where}:{line}" if line else where,
                           "a reference is a flat object with lists of names") from None
    except ValueError as error:
        raise HandoutError(f"malformed CSL-JSON: {str(error).split(';')[0][:120]}", where) from None
    if not isinstance(data, list):
        raise HandoutError("CSL-JSON must be a list of references", where)
    refs = {}
    for index, item in enumerate(data, 1):
        if not isinstance(item, dict):
            raise HandoutError(f"entry {index} is not an object", where)
        key = item.get("id")
        if not isinstance(key, str) or not _KEY.match(key):
            raise HandoutError(f"entry {index} has no usable 'id'", where)
        if key in refs:
            raise HandoutError(f"duplicate id {key!r}", where)
        _validate(item, key, f"{where}:{_line_of_id(text, key)}" if _line_of_id(text, key) else where)
        refs[key] = item
    return refs


def _line_too_deep(text, limit=100):
    """The line where JSON ``text`` first nests deeper than ``limit`` (0 if never)."""
    depth, line, in_string, escaped = 0, 1, False, False
    for char in text:
        if char == "\n":
            line += 1
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return line
        elif char in "]}":
            depth -= 1
    return 0


def _line_of_id(text, key):
    """The line of the entry with id ``key`` (0 if not found)."""
    match = re.search(r'"id"\s*:\s*"%s"' % re.escape(key), text)
    return text[: match.start()].count("\n") + 1 if match else 0


def _kind(value):
    return {bool: "true/false", int: "a number", float: "a number", str: "a string", list: "a list",
            dict: "an object", type(None): "null"}.get(type(value), type(value).__name__)


def _validate(item, key, where):
    """Every field the formatter reads, of the type CSL-JSON gives it."""
    def bad(field, value, expected):
        return HandoutError(f"reference {key!r}: {field} must be {expected}, not {_kind(value)}", where,
                            "fix it in the topic's references.json")

    for field in ("title", "container-title"):
        if field not in item:
            raise HandoutError(f"reference {key!r} needs a '{field}'", where)
        if not isinstance(item[field], str):
            raise bad(f"'{field}'", item[field], "a string")
        if not item[field].strip():
            raise HandoutError(f"reference {key!r} needs a '{field}'", where)
    for field in ("container-title-short", "DOI"):
        if field in item and not isinstance(item[field], str):
            raise bad(f"'{field}'", item[field], "a string")
    for field in NUMBER_FIELDS:  # CSL "number" variables: text, or a whole number
        value = item.get(field)
        if field in item and not (isinstance(value, str) or (type(value) is int and abs(value) < 10**9)):
            raise bad(f"'{field}'", value, "text or a whole number")
    authors = item.get("author")
    if not isinstance(authors, list) or not authors:
        raise HandoutError(f"reference {key!r} needs 'author' as a list of names", where)
    for number, author in enumerate(authors):
        if not isinstance(author, dict):
            raise bad(f"author {number + 1}", author, "an object with family and given, or literal")
        if "literal" in author:
            if not isinstance(author["literal"], str):
                raise bad(f"author {number + 1} 'literal'", author["literal"], "a string")
            continue
        if not isinstance(author.get("family"), str):
            if "family" in author:
                raise bad(f"author {number + 1} 'family'", author["family"], "a string")
            raise HandoutError(f"reference {key!r}: author {number + 1} needs 'family' or 'literal'", where)
        if "given" in author and not isinstance(author["given"], str):
            raise bad(f"author {number + 1} 'given'", author["given"], "a string")
    if _year(item) is None:
        issued = item.get("issued")
        parts = issued.get("date-parts") if isinstance(issued, dict) else None
        if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
            raise bad("the year in 'issued'", parts[0][0], "a year such as 2019")
        raise HandoutError(f"reference {key!r} needs 'issued' with date-parts", where)


def _no_duplicates(pairs):
    seen = set()
    for key, _value in pairs:  # linear: an object of 50,000 keys must not take minutes
        if key in seen:
            raise ValueError(f"duplicate key {key!r}")
        seen.add(key)
    return dict(pairs)


def markers(text: str) -> list[list[str]]:
    """The citation keys in ``text``, in order, as lists per marker."""
    return [
        [part.strip().lstrip("@") for part in group.split(";")]
        for group in CITATION.findall(text)
    ]


def _year(item):
    """The year of ``issued``: a whole number or digits (CSL allows both)."""
    try:
        year = item["issued"]["date-parts"][0][0]
    except (KeyError, IndexError, TypeError):
        return None
    if isinstance(year, str) and re.fullmatch(r"-?[0-9]{1,4}", year.strip()):
        return int(year)
    if type(year) is int and -9999 <= year <= 9999:
        return year
    if type(year) is float and year.is_integer() and -9999 <= year <= 9999:
        return int(year)
    return None


def _name(author):
    if "literal" in author:
        return author["literal"]
    given = re.sub(r"[^A-Z]", "", author.get("given", ""))
    return f"{author['family']} {given}".strip()


def _authors(authors, et_al, incomplete=False, limit=MAX_AUTHORS):
    """NLM author list; ``incomplete``: only the first authors are known, so
    "et al." follows them (CSL-JSON "author-incomplete": true)."""
    people = [a for a in authors if "literal" not in a]
    groups = [a for a in authors if "literal" in a]
    names = [_name(a) for a in people[:limit]]
    text = ", ".join(names)
    if len(people) > limit or (incomplete and people):
        text += f", {et_al}"
    if groups:
        group_text = "; ".join(_name(a) for a in groups)
        text = f"{text}; {group_text}" if text else group_text
    return text


def _pages(page):
    """NLM page range: 1283-1285 becomes 1283-5."""
    match = re.fullmatch(r"(\d+)-(\d+)", page or "")
    if not match:
        return page
    first, last = match.groups()
    if len(first) == len(last):
        index = 0
        while index < len(last) - 1 and first[index] == last[index]:
            index += 1
        last = last[index:]
    return f"{first}-{last}"


def format_nlm(item: dict, et_al: str = "et al.", compact: bool = False) -> str:
    """One reference in NLM style, as plain text.

    ``compact``: the form printed on the page, where room is short: the first
    two authors, no article title or issue number; journal, year, volume and
    pages find the paper, and a DOI (else a PMID) is printed only for a
    reference that lacks them."""
    limit = COMPACT_AUTHORS if compact else MAX_AUTHORS
    authors = _authors(item["author"], et_al, item.get("author-incomplete") is True, limit)
    parts = [authors if authors.endswith(".") else authors + "."]
    title = item["title"].strip()
    if not compact:
        parts.append(title if title[-1] in ".?!" else title + ".")
    journal = item.get("container-title-short") or item["container-title"]
    parts.append(journal.rstrip(".") + ".")
    where = str(_year(item))
    volume, issue, page = (str(item.get(field, "")).strip() for field in NUMBER_FIELDS)
    if volume:
        where += f";{volume}"
        if issue and not compact:
            where += f"({issue})"
    if page:
        where += f":{_pages(page)}"
    parts.append(where + ".")
    if compact and volume and page:
        return " ".join(parts)  # journal, year, volume and pages find it
    if item.get("DOI"):
        parts.append(f"doi:{item['DOI']}")
    elif item.get("PMID"):
        parts.append(f"PMID: {item['PMID']}")
    return " ".join(parts)


def number(texts: Iterable[str], refs: dict[str, dict], where: str) -> dict[str, int]:
    """Number references in order of first citation in ``texts``.

    Returns {key: n}. Raises for a key with no reference, or a reference
    never cited.
    """
    order: dict[str, int] = {}
    for text in texts:
        for group in markers(text):
            for key in group:
                if key not in refs:
                    raise HandoutError(
                        f"citation [@{key}] has no entry in the references",
                        where, "add it to the topic's references.json or fix the key")
                order.setdefault(key, len(order) + 1)
    unused = [key for key in refs if key not in order]
    if unused:
        raise HandoutError(
            f"reference {unused[0]!r} is never cited", where,
            "cite it in the topic's handout.toml or remove it from its references.json")
    return order


def render_list(refs: dict[str, dict], order: dict[str, int], et_al: str,
                compact: bool = True) -> list[tuple[int, Markup]]:
    """The cited references as (number, Markup) in citation order."""
    return [
        (n, Markup(escape(format_nlm(refs[key], et_al, compact))))
        for key, n in sorted(order.items(), key=lambda kv: kv[1])
    ]
