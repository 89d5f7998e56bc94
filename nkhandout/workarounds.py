"""Every patch of WeasyPrint's behaviour, in one place.

Each names the upstream issue it works around and the versions it was
written for; ``install`` refuses any other version (pyproject.toml pins the
range), since a patch of another version's internals could silently do harm.
Two patches are for one upstream bug: Kozea/WeasyPrint#2841, a glyph that is
the second of a multi-glyph cluster (an Arabic letter with its marks) gets
empty text in the PDF's ToUnicode map. The third gives the PDF each line's
text where the glyphs are drawn out of order (Indic scripts): WeasyPrint 70
writes no /ActualText (PDF 1.7, 14.9.4), so such lines copy scrambled.
"""

import io
import sys
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


def load_weasyprint() -> Any:
    """Import WeasyPrint (once per process) without its search for its
    libraries under other names.

    WeasyPrint 70 tries several spellings of each library (libpango-1.0-0,
    pango-1.0-0, pango-1.0, libpango-1.0.so.0, ...); cffi hands each one it
    cannot open as such to ctypes.util.find_library, which runs ldconfig, gcc
    and ld: about 50 processes, 0.15 s of CPU and more of wall time, at every
    cold start. On Linux the soname spellings (libpango-1.0.so.0) open
    directly, through the same loader cache find_library reads, so the search
    finds nothing they would not; elsewhere, or if the import fails without
    it, WeasyPrint is imported as it is."""
    if "weasyprint" in sys.modules:
        return sys.modules["weasyprint"]
    if sys.platform.startswith("linux"):
        import ctypes.util

        search = ctypes.util.find_library
        ctypes.util.find_library = _not_searched
        try:
            import weasyprint

            return weasyprint
        except (ImportError, OSError):
            pass  # imported again below, with the search
        finally:
            ctypes.util.find_library = search
    import weasyprint

    return weasyprint


def _not_searched(name: str) -> None:
    return None


def install(manifest: Any = None) -> None:
    """Install the patches once per process (WeasyPrint imported here);
    ``manifest`` (fonts.toml) says which locales get whole-line text."""
    weasyprint = load_weasyprint()
    from weasyprint.pdf import fonts

    check_version(weasyprint.__version__)
    if manifest is not None:
        _ACTUAL_TEXT.update(key for key, entry in (manifest.locales or {}).items() if entry.get("actual_text"))
    _install_actual_text()
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


_ACTUAL_TEXT: set = set()  # locale codes and languages whose lines carry /ActualText


def _install_actual_text() -> None:
    """Whole-line text for scripts that draw glyphs out of order.

    In Devanagari, Bengali and Gurmukhi a vowel sign may be drawn before the
    consonant it follows, and a conjunct is one glyph for several letters.
    Read glyph by glyph (copying, searching, screen readers), such a line
    comes out scrambled. For the locales whose [locale] entry in
    templates/fonts.toml says ``actual_text = true``, each drawn line is
    wrapped in a marked-content span whose /ActualText is the line's text."""
    from weasyprint.draw import text

    if getattr(text.draw_first_line, "_nkhandout_patched", False):
        return
    original = text.draw_first_line

    def draw_first_line(stream: Any, textbox: Any, *args: Any, **kwargs: Any) -> Any:
        lang = (textbox.style["lang"] or "").replace("-", "_")
        if not textbox.text.strip() or not (lang in _ACTUAL_TEXT or lang.split("_")[0] in _ACTUAL_TEXT):
            return original(stream, textbox, *args, **kwargs)
        stream.begin_marked_content("Span", pydyf.Dictionary({"ActualText": pydyf.String(textbox.text)}))
        try:
            return original(stream, textbox, *args, **kwargs)
        finally:
            stream.end_marked_content()

    draw_first_line._nkhandout_patched = True  # type: ignore[attr-defined]
    text.draw_first_line = draw_first_line
