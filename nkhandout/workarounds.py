"""Every patch of WeasyPrint's behaviour, in one place.

Each names the upstream issue it works around and the versions it was
written for; ``install`` refuses any other version (pyproject.toml pins the
range), since a patch of another version's internals could silently do harm.
Both patches below are for one upstream bug: Kozea/WeasyPrint#2841, a glyph
that is the second of a multi-glyph cluster (an Arabic letter with its marks)
gets empty text in the PDF's ToUnicode map.
"""

import io
import unicodedata
from typing import Any

import pydyf
from fontTools.ttLib import TTFont

from .errors import HandoutError

# The WeasyPrint versions these patches were written for and tested with.
SUPPORTED = ("70.",)


def check_version(version: str) -> None:
    """Refuse to patch a WeasyPrint these patches were not written for."""
    if not version.startswith(SUPPORTED):
        raise HandoutError(
            f"WeasyPrint {version} is not a version nkhandout's workarounds were written for "
            f"({', '.join(v + 'x' for v in SUPPORTED)})",
            hint="install the version pinned in constraints.txt (make setup)")


def install() -> None:
    """Install the patches once per process (WeasyPrint imported here)."""
    import weasyprint
    from weasyprint.pdf import fonts

    check_version(weasyprint.__version__)
    if getattr(fonts.Font, "_nkhandout_patched", False):
        return
    original = fonts.Font.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.to_unicode = _GlyphText(self, self.to_unicode)

    fonts.Font.__init__ = __init__
    fonts.Font._nkhandout_patched = True


class _GlyphText(dict):
    """Kozea/WeasyPrint#2841, part 1: a glyph-to-text map that never records
    empty text.

    WeasyPrint (70) records the text of a glyph the first time it draws it;
    for the second glyph of a multi-glyph cluster that text is empty, so
    copying, searching and screen readers lose the glyph. The glyph keeps its
    entry (WeasyPrint subsets fonts to those entries) with the text the
    font's own character map gives it."""

    def __init__(self, font: Any, *args: Any) -> None:
        super().__init__(*args)
        self._font = font
        self._reverse: dict | None = None

    def _fallback(self, glyph_id: int) -> str:
        if self._reverse is None:
            self._reverse = {}
            try:
                ttfont = TTFont(io.BytesIO(self._font.file_content), fontNumber=self._font.index, lazy=True)
                for codepoint, name in sorted(ttfont.getBestCmap().items()):
                    gid = ttfont.getGlyphID(name)
                    self._reverse.setdefault(gid, unicodedata.normalize("NFKC", chr(codepoint)))
            except Exception:  # a font fontTools cannot read: keep WeasyPrint's behaviour
                self._reverse = {}
        return self._reverse.get(glyph_id, "")

    def __setitem__(self, glyph_id: int, text: str) -> None:
        super().__setitem__(glyph_id, text or self._fallback(glyph_id))


def finish_pdf(_document: Any, pdf: Any) -> None:
    """Kozea/WeasyPrint#2841, part 2 (a ``finisher`` of write_pdf): remove
    the ToUnicode entries still left with no text (a glyph the font's map
    does not name), which make the CMap malformed for PDF/UA checkers; such
    a glyph's text is already carried by the first glyph of its cluster."""
    for obj in pdf.objects:
        if not isinstance(obj, pydyf.Stream) or b"/CMapName /Adobe-Identity-UCS def" not in obj.stream:
            continue
        lines = obj.stream
        if not any(line.endswith(b" <>") for line in lines if isinstance(line, bytes)):
            continue
        start = lines.index(b"endcodespacerange") + 1
        end = lines.index(b"endcmap")
        entries = [line for line in lines[start:end]
                   if line.startswith(b"<") and not line.endswith(b" <>")]
        body = []
        for index in range(0, len(entries), 100):
            batch = entries[index:index + 100]
            body += [f"{len(batch)} beginbfchar".encode(), *batch, b"endbfchar"]
        obj.stream = lines[:start] + body + lines[end:]
