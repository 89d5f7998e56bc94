"""Per-string checks of a translation against its English."""

import re

from .markup import skeleton

_HTML = re.compile(r"<\s*/?\s*[A-Za-z!][^>]*>")
_TEMPLATE = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}")
MAX_STRING = 2000


def problems(msgid: str, msgstr: str) -> list[str]:
    """What is wrong with ``msgstr`` as a translation of ``msgid`` (plain words)."""
    found = []
    if len(msgstr) > MAX_STRING:
        found.append(f"translation is {len(msgstr)} characters; no string may pass {MAX_STRING}")
    html = _HTML.search(msgstr)
    if html and not _HTML.search(msgid):
        found.append(f"contains HTML {html.group(0)!r}; write plain text (use *word* for bold)")
    template = _TEMPLATE.search(msgstr)
    if template:
        found.append(f"contains template code {template.group(0)!r}; remove it")
    # GNU msgfmt -c refuses a catalog where one of the two begins or ends
    # with a line break and the other does not.
    for edge, test in (("ends", str.endswith), ("begins", str.startswith)):
        if msgstr and test(msgid, "\n") != test(msgstr, "\n"):
            which = "translation" if test(msgstr, "\n") else "English"
            other = "English" if which == "translation" else "translation"
            found.append(f"the {which} {edge} with a line break (\\n) and the {other} does not; "
                         "make them the same (GNU msgfmt refuses the catalog otherwise)")
    source_cites, source_names, source_stars = skeleton(msgid)
    cites, names, stars = skeleton(msgstr)
    if cites != source_cites:
        want = " ".join("[@" + "; @".join(k) + "]" for k in source_cites.elements()) or "none"
        got = " ".join("[@" + "; @".join(k) + "]" for k in cites.elements()) or "none"
        found.append(f"citation markers differ from the English: expected {want}, found {got}")
    if names != source_names:
        want = ", ".join("{%s}" % n for n in sorted(source_names.elements())) or "none"
        got = ", ".join("{%s}" % n for n in sorted(names.elements())) or "none"
        found.append(f"placeholders differ from the English: expected {want}, found {got}")
    if source_names and not _TEMPLATE.search(msgstr):
        # The entry is python-brace-format: GNU msgfmt -c refuses a "{" that
        # starts no placeholder, or starts one the English does not have.
        for match in re.finditer(r"\{([^{}]*)\}|\{", msgstr):
            name = match.group(1)
            if name is None or not re.fullmatch(r"[a-z_][a-z0-9_]*", name):  # else: "placeholders differ"
                found.append(f"{match.group(0)[:30]!r} is not a placeholder of the English; "
                             "remove the { (GNU msgfmt refuses the catalog otherwise)")
                break
    if stars != source_stars or stars % 2:
        found.append(f"bold markers (*) differ: the English has {source_stars}, the translation {stars}")
    return found
