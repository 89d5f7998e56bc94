"""Clinic handouts composed from a body laid out once and a box laid out per clinic.

A batch builds the same handout for many clinics, and only the clinic box
differs. Laying out the whole page for each clinic repeats the body's layout
(most of the time a handout takes), so a clinic's page is composed instead:

1. the clinic box alone is laid out in a small document: the box inside the
   same ancestors (``<html lang dir>``, ``<body>``, ``<main>``), the same
   stylesheets and paper, so it gets the same column width and styles;
2. the body is the page's HTML with the box replaced by an empty placeholder
   of exactly the box's height. It is laid out once and kept (a few per
   renderer, least recently used first out), keyed by that HTML and the
   stylesheets: every clinic whose box is as tall shares it, and a body is
   reused only for the very HTML it was laid out from;
3. the page is the body's page with the placeholder replaced by the box,
   moved to the placeholder's place. Only the boxes from the page down to the
   placeholder are copied; the rest is shared, read-only, with the body.

The PDF's structure tree (PDF/UA tags) is made from the box tree when the PDF
is written, so the composed page is tagged as the page laid out whole would
be; tests/test_compose.py checks that the two give the same PDF bytes.

Anything unexpected (no clinic box or more than one, a box that does not fit
one column) falls back to laying out the whole page, which reports it.
"""

import functools
import hashlib
import re
from collections import OrderedDict
from html.parser import HTMLParser
from typing import Any

# The clinic box as the template writes it. Clinic text is escaped, so a
# field cannot end the element early.
_BOX = re.compile(r'<aside class="clinic"[^>]*>.*?</aside>', re.S)
PLACEHOLDER = "data-nk-placeholder"
# Bodies kept per renderer: a batch hands one locale's clinics to the same
# workers in turn, so a few suffice; each is a laid-out page (a few MB).
BODY_CACHE_LIMIT = 6
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"}


def split(html: str) -> tuple[str, str, str] | None:
    """(before, box, after) when the page has exactly one clinic box, else None."""
    found = list(_BOX.finditer(html))
    if len(found) != 1 or "<aside" in found[0].group(0)[1:]:
        return None
    match = found[0]
    return html[:match.start()], match.group(0), html[match.end():]


class _Ancestors(HTMLParser):
    """The start tags open at the end of the text fed (the box's ancestors)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.open: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        if tag not in _VOID:
            self.open.append((tag, self.get_starttag_text() or f"<{tag}>"))

    def handle_endtag(self, tag):
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index][0] == tag:
                del self.open[index:]
                break


@functools.lru_cache(maxsize=16)
def _wrapping(before: str) -> tuple[str, str] | None:
    """(opening tags, closing tags) of the elements open at the end of
    ``before``: the same for every clinic of a locale, so parsed once."""
    parser = _Ancestors()
    parser.feed(before)
    parser.close()
    tags = [tag for tag, _text in parser.open]
    if "body" not in tags or "head" in tags:
        return None
    return "".join(text for _tag, text in parser.open), "".join(f"</{tag}>" for tag in reversed(tags))


def box_page(before: str, box: str) -> str | None:
    """The HTML of a page holding only the clinic box, inside its ancestors."""
    wrapping = _wrapping(before)
    if wrapping is None:
        return None
    return f"<!DOCTYPE html>\n{wrapping[0]}\n{box}\n{wrapping[1]}"


def body_page(before: str, after: str, height: float) -> str:
    """The page's HTML with an empty placeholder ``height`` CSS px tall
    (``repr`` keeps every bit of the float) where the box was."""
    placeholder = f'<aside class="clinic" {PLACEHOLDER}="" style="height: {height!r}px"></aside>'
    return before + placeholder + after


def boxes(box):
    """``box`` and every box under it, in document order (a laid-out tree:
    the one walker of render, clinic and this module)."""
    yield box
    for child in getattr(box, "children", ()):
        yield from boxes(child)


def _path_to(box, wanted) -> list | None:
    """The boxes from ``box`` down to the one ``wanted`` says yes to, or None."""
    if wanted(box):
        return [box]
    for child in getattr(box, "children", ()):
        found = _path_to(child, wanted)
        if found is not None:
            return [box, *found]
    return None


def _is_box(box) -> bool:
    element = getattr(box, "element", None)
    return (getattr(box, "element_tag", None) == "aside" and element is not None
            and "clinic" in (element.get("class") or "").split() and element.get(PLACEHOLDER) is None)


def _is_placeholder(box) -> bool:
    element = getattr(box, "element", None)
    return getattr(box, "element_tag", None) == "aside" and element is not None \
        and element.get(PLACEHOLDER) is not None


def laid_out_box(document) -> Any | None:
    """The clinic box of a box page: its one box on its one page, or None."""
    if len(document.pages) != 1:
        return None
    found = [b for b in boxes(document.pages[0]._page_box) if _is_box(b)]
    return found[0] if len(found) == 1 else None


def splice(body, box) -> Any | None:
    """A new document: ``body``'s pages with its placeholder replaced by
    ``box`` (moved into place). ``body`` itself is left as it was."""
    from weasyprint.document import Page

    pages = list(body.pages)
    for number, page in enumerate(pages):
        path = _path_to(page._page_box, _is_placeholder)
        if path is None:
            continue
        placeholder = path[-1]
        if abs(placeholder.margin_height() - box.margin_height()) > 1e-6 \
                or abs(placeholder.margin_width() - box.margin_width()) > 1e-6:
            return None
        box.translate(placeholder.position_x - box.position_x, placeholder.position_y - box.position_y)
        replacement = box
        for parent, child in zip(reversed(path[:-1]), reversed(path[1:])):
            copy = parent.copy()
            copy.children = [replacement if c is child else c for c in parent.children]
            replacement = copy
        pages[number] = Page(replacement)
        return body.copy(pages)
    return None


class Bodies:
    """Laid-out bodies, least recently used first out."""

    def __init__(self, limit: int = BODY_CACHE_LIMIT):
        self.limit = limit
        self._kept: OrderedDict[str, Any] = OrderedDict()
        self.hits = self.misses = 0

    @staticmethod
    def key(html: str, *parts: object) -> str:
        digest = hashlib.sha256(html.encode("utf-8"))
        for part in parts:
            digest.update(b"\0" + repr(part).encode("utf-8"))
        return digest.hexdigest()

    def get(self, key: str):
        found = self._kept.get(key)
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        self._kept.move_to_end(key)
        return found

    def put(self, key: str, document) -> None:
        self._kept[key] = document
        self._kept.move_to_end(key)
        while len(self._kept) > self.limit:
            self._kept.popitem(last=False)

    def clear(self) -> None:
        self._kept.clear()

    def __len__(self) -> int:
        return len(self._kept)
