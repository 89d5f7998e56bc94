"""Handout to HTML (Jinja2) to PDF (WeasyPrint), one page or nothing.

WeasyPrint is imported only here, and only when a PDF is made.
"""

import hashlib
import logging
import os
from pathlib import Path

import jinja2

from . import paper as papers
from .errors import HandoutError

TEMPLATE = "handout.html.j2"
STYLESHEET = "print.css"
PT_PER_MM = 72 / 25.4


class _Warnings(logging.Handler):
    """Collects what WeasyPrint logs while a handout renders."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def jinja_env(templates_dir):
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def to_html(handout, env):
    """The handout's HTML; template errors name the template file and line."""
    try:
        from .markup import isolate

        rtl = handout.dir == "rtl"
        return env.get_template(TEMPLATE).render(
            h=handout, pgettext=handout.label, ltr=_ltr, iso=lambda text: isolate(text, rtl))
    except jinja2.TemplateSyntaxError as error:
        raise HandoutError(f"template syntax error: {error.message}",
                           f"templates/{error.name}:{error.lineno}") from None
    except jinja2.TemplateNotFound as error:
        raise HandoutError(f"template {error.name} not found", "templates/") from None
    except jinja2.UndefinedError as error:
        raise HandoutError(f"template error: {error.message}", f"templates/{TEMPLATE}") from None


def _ltr(text, css_class=""):
    """``text`` kept left-to-right inside right-to-left pages (numbers, e-mail)."""
    from markupsafe import Markup

    if css_class:
        return Markup('<span dir="ltr" class="%s">%s</span>') % (css_class, text)
    return Markup('<span dir="ltr">%s</span>') % text


def _inside(path, roots):
    return any(path == root or root in path.parents for root in roots)


def isolate_fonts(templates_dir):
    """Hide the system's fonts from the renderer (before WeasyPrint starts)."""
    config = Path(templates_dir) / "fontconfig.conf"
    if config.is_file():
        os.environ["FONTCONFIG_FILE"] = str(config.resolve())


def _drop_empty_unicode(_document, pdf):
    """Remove ToUnicode entries with no text.

    WeasyPrint maps the second glyph of a multi-glyph cluster (Arabic marks,
    for one) to an empty string, which makes the CMap malformed for PDF/UA
    checkers; such a glyph's text is already carried by the first one.
    """
    import pydyf

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


class _GlyphText(dict):
    """A glyph-to-text map that never records empty text (see _patch_to_unicode)."""

    def __init__(self, font, *args):
        super().__init__(*args)
        self._font = font
        self._reverse = None

    def _fallback(self, glyph_id):
        if self._reverse is None:
            import io
            import unicodedata

            from fontTools.ttLib import TTFont

            self._reverse = {}
            try:
                ttfont = TTFont(io.BytesIO(self._font.file_content), fontNumber=self._font.index, lazy=True)
                for codepoint, name in sorted(ttfont.getBestCmap().items()):
                    gid = ttfont.getGlyphID(name)
                    self._reverse.setdefault(gid, unicodedata.normalize("NFKC", chr(codepoint)))
            except Exception:  # a font fontTools cannot read: keep WeasyPrint's behaviour
                self._reverse = {}
        return self._reverse.get(glyph_id, "")

    def __setitem__(self, glyph_id, text):
        super().__setitem__(glyph_id, text or self._fallback(glyph_id))


def _patch_to_unicode():
    """Give every drawn glyph its text in the PDF.

    WeasyPrint (70) records the text of a glyph the first time it draws it;
    for the second glyph of a multi-glyph cluster (Arabic letters with marks)
    that text is empty, so copying, searching and screen readers lose the
    glyph and PDF/UA checkers find a malformed ToUnicode map. The glyph keeps
    its entry (WeasyPrint subsets fonts to those entries) with the text the
    font's own character map gives it.
    """
    from weasyprint.pdf import fonts

    if getattr(fonts.Font, "_nkhandout_patched", False):
        return
    original = fonts.Font.__init__

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.to_unicode = _GlyphText(self, self.to_unicode)

    fonts.Font.__init__ = __init__
    fonts.Font._nkhandout_patched = True


class Renderer:
    """Renders handouts of one project; reuses fonts and stylesheets."""

    def __init__(self, project, manifest):
        self.project = project
        self.manifest = manifest
        self.env = jinja_env(project.templates_dir)
        self.refused = []
        self._roots = tuple(p.resolve() for p in (
            project.templates_dir, project.content_dir, project.fonts_dir))
        self._font_files = {
            (project.fonts_dir / f.file).resolve() for f in manifest.fonts}
        self._fetcher = None
        self._font_config = None
        self._css = {}
        self._images = {}  # decoded images (logos, QR codes), reused across handouts

    # -- resources ---------------------------------------------------------

    def allowed(self, url):
        """The local path ``url`` may read, or None: project files only."""
        from urllib.parse import unquote, urlsplit

        parts = urlsplit(url)
        if parts.scheme == "data":
            return "data"
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            return None
        path = Path(unquote(parts.path))
        try:
            resolved = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if resolved != path.absolute() and resolved not in self._font_files:
            return None  # a link pointing elsewhere
        if not resolved.is_file():
            return None
        if resolved in self._font_files or _inside(resolved, self._roots):
            return resolved
        return None

    def fetcher(self):
        if self._fetcher is None:
            isolate_fonts(self.project.templates_dir)
            _patch_to_unicode()
            from weasyprint.urls import URLFetcher, URLFetcherResponse

            renderer = self

            class ProjectFetcher(URLFetcher):
                """Fetches the project's own files and refuses everything else."""

                def fetch(self, url, headers=None):
                    path = renderer.allowed(url)
                    if path is None:
                        renderer.refused.append(url)
                        raise ValueError(f"nkhandout refuses to fetch {url[:200]}")
                    if path == "data":  # self-contained: logo and QR code, checked before
                        return super().fetch(url, headers)
                    return URLFetcherResponse(url, body=path.read_bytes())

            self._fetcher = ProjectFetcher(allowed_protocols=("file", "data"), allow_redirects=False)
        return self._fetcher

    def stylesheets(self, code, paper):
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration

        if self._font_config is None:
            self._font_config = FontConfiguration()
        families = self.manifest.stack(code)
        if ("base",) not in self._css:
            self._css[("base",)] = CSS(
                filename=str(self.project.templates_dir / STYLESHEET),
                url_fetcher=self.fetcher(), font_config=self._font_config)
        stack_key = ("fonts", tuple(families))
        if stack_key not in self._css:
            faces = []
            for font in self.manifest.fonts:
                if font.family in families:
                    uri = (self.project.fonts_dir / font.file).resolve().as_uri()
                    faces.append(
                        f'@font-face {{ font-family: "{font.family}"; font-weight: {font.weight}; '
                        f'font-style: normal; src: url("{uri}"); }}')
            stack = ", ".join(f'"{f}"' for f in families)
            faces.append(f"html {{ font-family: {stack}; }}")
            self._css[stack_key] = CSS(string="\n".join(faces), url_fetcher=self.fetcher(),
                                       font_config=self._font_config)
        page_key = ("page", paper)
        if page_key not in self._css:
            self._css[page_key] = CSS(string=f"@page {{ size: {papers.CSS_NAMES[paper]}; }}")
        return [self._css[("base",)], self._css[stack_key], self._css[page_key]]

    # -- rendering ---------------------------------------------------------

    def layout(self, handout, html):
        """Lay out ``html``; return the WeasyPrint document."""
        from weasyprint import HTML

        self.refused = []
        collector = _Warnings()
        logger = logging.getLogger("weasyprint")
        logger.addHandler(collector)
        try:
            document = HTML(
                string=html, base_url=self.project.templates_dir.as_uri() + "/",
                url_fetcher=self.fetcher(),
            ).render(
                stylesheets=self.stylesheets(handout.code, handout.paper),
                font_config=self._font_config, pdf_variant="pdf/ua-1", pdf_tags=True,
                cache=self._images)
        finally:
            logger.removeHandler(collector)
        if self.refused:
            raise HandoutError(f"refused to fetch {self.refused[0][:120]}",
                               f"locale {handout.code}", "handouts may use only the project's own files")
        if collector.messages:
            raise HandoutError(f"renderer warning: {collector.messages[0][:200]}", f"locale {handout.code}")
        return document

    def pdf_bytes(self, handout, document, html):
        """The PDF for a laid-out, one-page ``document``."""
        epoch = str(int(_midnight(handout.reviewed_iso)))
        previous = os.environ.get("SOURCE_DATE_EPOCH")
        os.environ["SOURCE_DATE_EPOCH"] = epoch
        # Images (an SVG logo among them) are drawn only now; WeasyPrint logs
        # what it could not draw and carries on, which must not pass.
        collector = _Warnings()
        logger = logging.getLogger("weasyprint")
        logger.addHandler(collector)
        try:
            identifier = hashlib.md5(html.encode("utf-8"), usedforsecurity=False).hexdigest().encode()
            data = document.write_pdf(pdf_identifier=identifier, pdf_variant="pdf/ua-1",
                                      pdf_tags=True, finisher=_drop_empty_unicode)
        finally:
            logger.removeHandler(collector)
            if previous is None:
                os.environ.pop("SOURCE_DATE_EPOCH", None)
            else:
                os.environ["SOURCE_DATE_EPOCH"] = previous
        if collector.messages:
            raise HandoutError(f"renderer error while drawing: {collector.messages[0][:200]}",
                               f"locale {handout.code}", "nothing was written; fix or replace what it names")
        return data


def _midnight(iso_day):
    import datetime

    day = datetime.date.fromisoformat(iso_day)
    return datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.timezone.utc).timestamp()


def _boxes(box):
    yield box
    for child in getattr(box, "children", ()):
        yield from _boxes(child)


def overflow_mm(document):
    """How far the content runs past the first page, in millimetres."""
    total = 0.0
    for page in document.pages[1:]:
        root = page._page_box
        top = root.content_box_y()
        bottom = top
        for box in _boxes(root):
            if getattr(box, "element_tag", None) and box is not root:
                bottom = max(bottom, box.position_y + box.margin_height())
        total += bottom - top
    return total / PT_PER_MM


def spare_mm(document):
    """Room left under the last line of the first page, in millimetres.

    The text flows down the first column and then the second, so the room
    that matters is under the last line (of the last column)."""
    root = document.pages[0]._page_box
    bottom_limit = root.content_box_y() + root.height
    last = None
    for box in _boxes(root):
        if type(box).__name__ == "LineBox":
            last = box
    bottom = last.position_y + last.margin_height() if last is not None else root.content_box_y()
    return (bottom_limit - bottom) / PT_PER_MM


def section_heights(document):
    """Height in mm of each section (all its fragments), largest first."""
    heights = {}
    for page in document.pages:
        for box in _boxes(page._page_box):
            element = getattr(box, "element", None)
            if element is None or box.element_tag != "section":
                continue
            classes = element.get("class", "")
            name = next((c[2:] for c in classes.split() if c.startswith("s-")), "references")
            heights[name] = heights.get(name, 0) + box.margin_height() / PT_PER_MM
    return sorted(heights.items(), key=lambda kv: -kv[1])
