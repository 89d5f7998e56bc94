"""CSL-JSON references: loading, citation numbering and NLM (Vancouver) style."""

import json
import re

from markupsafe import Markup, escape

from .errors import HandoutError

MAX_REFERENCES_BYTES = 512 * 1024
MAX_AUTHORS = 6  # NLM: list the first six, then "et al."
COMPACT_AUTHORS = 2  # the printed page: the first two, then "et al."
CITATION = re.compile(r"\[@([^\]]*)\]")
_KEY = re.compile(r"^[A-Za-z0-9_:.-]+$")

# Words printed around citation data; they are translated like any label.
WORDS = {
    "et_al": "et al.",
}


def load(path, where=None, inside=None):
    """The references in the CSL-JSON file at ``path``, by id."""
    from .project import read_utf8

    where = where or str(path)
    text = read_utf8(path, MAX_REFERENCES_BYTES, where, inside)
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as error:
        raise HandoutError(f"malformed CSL-JSON: {error.msg}", f"{where}:{error.lineno}") from None
    except ValueError as error:
        raise HandoutError(f"malformed CSL-JSON: {error}", where) from None
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
        for field in ("title", "container-title"):
            if not isinstance(item.get(field), str) or not item[field].strip():
                raise HandoutError(f"reference {key!r} needs a '{field}'", where)
        authors = item.get("author")
        if not isinstance(authors, list) or not authors or not all(
            isinstance(a, dict) and (isinstance(a.get("family"), str) or isinstance(a.get("literal"), str))
            for a in authors
        ):
            raise HandoutError(f"reference {key!r} needs 'author' as a list of names", where)
        if _year(item) is None:
            raise HandoutError(f"reference {key!r} needs 'issued' with date-parts", where)
        refs[key] = item
    return refs


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise ValueError(f"duplicate key {dup!r}")
    return dict(pairs)


def markers(text):
    """The citation keys in ``text``, in order, as lists per marker."""
    return [
        [part.strip().lstrip("@") for part in group.split(";")]
        for group in CITATION.findall(text)
    ]


def _year(item):
    try:
        return int(item["issued"]["date-parts"][0][0])
    except (KeyError, IndexError, TypeError, ValueError):
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


def format_nlm(item, et_al="et al.", compact=False):
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
    if item.get("volume"):
        where += f";{item['volume']}"
        if item.get("issue") and not compact:
            where += f"({item['issue']})"
    if item.get("page"):
        where += f":{_pages(item['page'])}"
    parts.append(where + ".")
    if compact and item.get("volume") and item.get("page"):
        return " ".join(parts)  # journal, year, volume and pages find it
    if item.get("DOI"):
        parts.append(f"doi:{item['DOI']}")
    elif item.get("PMID"):
        parts.append(f"PMID: {item['PMID']}")
    return " ".join(parts)


def number(texts, refs, where):
    """Number references in order of first citation in ``texts``.

    Returns {key: n}. Raises for a key with no reference, or a reference
    never cited.
    """
    order = {}
    for text in texts:
        for group in markers(text):
            for key in group:
                if key not in refs:
                    raise HandoutError(
                        f"citation [@{key}] has no entry in the references",
                        where, "add it to content/references.json or fix the key")
                order.setdefault(key, len(order) + 1)
    unused = [key for key in refs if key not in order]
    if unused:
        raise HandoutError(
            f"reference {unused[0]!r} is never cited", where,
            "cite it in content/handout.toml or remove it from content/references.json")
    return order


def render_list(refs, order, et_al, compact=True):
    """The cited references as (number, Markup) in citation order."""
    return [
        (n, Markup(escape(format_nlm(refs[key], et_al, compact))))
        for key, n in sorted(order.items(), key=lambda kv: kv[1])
    ]
