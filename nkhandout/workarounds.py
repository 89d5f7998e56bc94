"""Every patch of WeasyPrint's behaviour, in one place.

Each names the upstream issue it works around and the versions it was
written for; ``install`` refuses any other version (pyproject.toml pins the
range), since a patch of another version's internals could silently do harm.
Two patches are for one upstream bug: Kozea/WeasyPrint#2841, a glyph that is
the second of a multi-glyph cluster (an Arabic letter with its marks) gets
empty text in the PDF's ToUnicode map. The third gives the PDF each line's
text where the glyphs are drawn out of order (Indic scripts): WeasyPrint 70
writes no /ActualText (PDF 1.7, 14.9.4), so such lines copy scrambled.
The PDF is written by a copy of pydyf's writer that serialises and
compresses each object once (pydyf does it twice to hash them), and SVG
numbers are read by a faster length parser: both for speed, same output.
"""

import io
import sys
import unicodedata
import zlib
from hashlib import md5
from math import ceil, log
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
    _install_svg_size()
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
    """The ``finisher`` of write_pdf: the ToUnicode fix below
    (Kozea/WeasyPrint#2841, part 2), then the PDF is written by
    ``write_once`` (pydyf 0.13 only; any other pydyf writes it itself)."""
    _drop_empty_glyph_text(pdf)
    if pydyf.__version__.startswith(PYDYF_SUPPORTED):
        pdf.write = lambda output, version=b"1.7", identifier=False, compress=False: \
            write_once(pdf, output, version, identifier, compress)


def _drop_empty_glyph_text(pdf: Any) -> None:
    """Kozea/WeasyPrint#2841, part 2: remove the ToUnicode entries still
    left with no text (a glyph the font's map does not name), which make the
    CMap malformed for PDF/UA checkers; such a glyph's text is already
    carried by the first glyph of its cluster."""
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


# The pydyf versions write_once was written for (a copy of their writer).
PYDYF_SUPPORTED = ("0.13.",)
# zlib level of the PDF's streams, as pydyf's. Measured on warm handouts
# (en, ar, ko, zh_Hant): at level 6 instead of 9 the drawing and writing of
# a page take 8-16% less CPU but the PDFs are 0.4-1.6% larger, and takes the Traditional Chinese handout past
# its 150 KiB cap (153,761 bytes; 153,066 at level 9); level 1: 8-19% larger.
COMPRESSION_LEVEL = 9


def _stream_data(stream: Any, level: int) -> bytes:
    """pydyf.Stream.data, at zlib ``level``."""
    data = b"\n".join(pydyf._to_bytes(item) for item in stream.stream)
    extra = pydyf.Dictionary(stream.extra.copy())
    if stream.compress:
        extra["Filter"] = "/FlateDecode"
        compressor = zlib.compressobj(level=level)
        data = compressor.compress(data) + compressor.flush()
    extra["Length"] = len(data)
    return b"\n".join((extra.data, b"stream", data, b"endstream"))


def write_once(pdf: Any, output: Any, version: Any = b"1.7", identifier: Any = False, compress: Any = False,
               level: int | None = None) -> None:
    """pydyf.PDF.write (0.13) serialising and compressing each object once.

    pydyf writes every object, then serialises and compresses all of them a
    second time to hash them for the file identifier's second half (even
    when the first half is given). This writer keeps each object's bytes
    from the first pass and hashes those: the same file as pydyf's at the
    same zlib level, without the second pass. Only the compressed layout (object
    and cross-reference streams, PDF 1.5 and later) is copied; anything
    else goes to pydyf's own writer."""
    level = COMPRESSION_LEVEL if level is None else level
    version = pydyf._to_bytes(version or b"1.7")
    if not (version >= b"1.5" and compress):
        return pydyf.PDF.write(pdf, output, version, identifier, compress)
    if identifier not in (False, True, None):
        identifier = pydyf._to_bytes(identifier)
    if pdf.info:
        pdf.add_object(pdf.info)
    written: dict = {}  # object number -> its bytes (data)

    def data(obj: Any) -> bytes:
        if obj.number not in written:
            written[obj.number] = _stream_data(obj, level) if isinstance(obj, pydyf.Stream) else obj.data
        return written[obj.number]

    def indirect(obj: Any) -> bytes:
        return f"{obj.number} {obj.generation} obj\n".encode() + data(obj) + b"\nendobj"

    pdf.write_line(b"%PDF-" + version, output)
    pdf.write_line(b"%\xf0\x9f\x96\xa4", output)
    compressed_objects = []
    for obj in pdf.objects:
        if obj.free == "f":
            continue
        if obj.compressible:
            compressed_objects.append(obj)
        else:
            obj.offset = pdf.current_position
            pdf.write_line(indirect(obj), output)
    stream: list = [[]]
    position = 0
    for obj in compressed_objects:
        chunk = data(obj)
        stream.append(chunk)
        stream[0].append(obj.number)
        stream[0].append(position)
        position += len(chunk) + 1
    stream[0] = " ".join(str(i) for i in stream[0])
    extra = {"Type": "/ObjStm", "N": len(compressed_objects), "First": len(stream[0]) + 1}
    object_stream = pydyf.Stream(stream, extra, compress)
    object_stream.offset = pdf.current_position
    pdf.add_object(object_stream)
    pdf.write_line(indirect(object_stream), output)
    xref = []
    dict_index = 0
    for obj in pdf.objects:
        if obj.compressible:
            xref.append((2, object_stream.number, dict_index))
            dict_index += 1
        else:
            xref.append((bool(obj.number), obj.offset, obj.generation))
    xref.append((1, pdf.current_position, 0))
    field2_size = ceil(log(pdf.current_position + 1, 256))
    max_generation = max(obj.generation for obj in pdf.objects)
    field3_size = ceil(log(max(max_generation, len(compressed_objects)) + 1, 256))
    xref_lengths = (1, field2_size, field3_size)
    xref_stream = b"".join(
        value.to_bytes(length, "big") for line in xref for length, value in zip(xref_lengths, line))
    extra = {
        "Type": "/XRef",
        "Index": pydyf.Array((0, len(pdf.objects) + 1)),
        "W": pydyf.Array(xref_lengths),
        "Size": len(pdf.objects) + 1,
        "Root": pdf.catalog.reference,
    }
    if pdf.info:
        extra["Info"] = pdf.info.reference
    if identifier:
        data_hash = md5(b"".join(data(obj) for obj in pdf.objects if obj.free != "f"),
                        usedforsecurity=False).hexdigest().encode()
        if identifier is True:
            identifier = data_hash
        extra["ID"] = pydyf.Array((pydyf.String(identifier).data, pydyf.String(data_hash).data))
    dict_stream = pydyf.Stream([xref_stream], extra, compress)
    pdf.xref_position = dict_stream.offset = pdf.current_position
    pdf.add_object(dict_stream)
    pdf.write_line(indirect(dict_stream), output)
    pdf.write_line(b"startxref", output)
    pdf.write_line(f"{pdf.xref_position}".encode(), output)
    pdf.write_line(b"%%EOF", output)
    return None


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


def _install_svg_size() -> None:
    """A faster SVG length parser (speed only, no upstream issue).

    WeasyPrint 70's ``svg.utils.size``, called for every number of an SVG
    (about 2,500 per page: the icon arrays, the QR code, a logo), runs an
    import statement before anything else: 3 us a call where the number
    itself takes 0.4 us. Plain numbers are read here first; anything else
    (units, percentages, bad input) goes to WeasyPrint's own, which gives
    the same result for every input."""
    import importlib

    modules = [importlib.import_module(f"weasyprint.svg{name}") for name in (".utils", "", ".defs", ".text")]
    utils = modules[0]
    original = utils.size
    if getattr(original, "_nkhandout_patched", False):
        return

    def size(string: Any, font_size: Any = None, percentage_reference: Any = None) -> Any:
        if string:
            try:
                return float(string)
            except ValueError:
                pass
        return original(string, font_size, percentage_reference)

    size._nkhandout_patched = True  # type: ignore[attr-defined]
    size.original = original  # type: ignore[attr-defined]
    for module in modules:  # each bound the name on import
        if getattr(module, "size", None) is original:
            setattr(module, "size", size)

