"""Handout to HTML (Jinja2) to PDF (WeasyPrint), one page or nothing.

WeasyPrint is imported only here, and only when a PDF is made.
"""

import datetime
import errno
import hashlib
import logging
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from . import compose as composing, paper as papers, workarounds
from .clinic import describe_uris
from .errors import HandoutError
from .markup import isolate, join_words

if TYPE_CHECKING:
    from weasyprint import Document

    from .handout import Handout

TEMPLATE = "handout.html.j2"
STYLESHEET = "print.css"
# Images kept across handouts (a clinic's logo and QR code): enough for the
# clinics of one batch worker to reuse theirs, bounded so memory stays flat.
IMAGE_CACHE_LIMIT = 8
# WeasyPrint lays boxes out in CSS pixels (96 to the inch).
PX_PER_MM = 96 / 25.4


class _Warnings(logging.Handler):
    """Collects what WeasyPrint logs while a handout renders."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


MAX_TEMPLATE_BYTES = 256 * 1024


def read_template(templates_dir: Path | str, name: str) -> bytes:
    """The bytes of template ``name`` (a path under ``templates_dir``).

    Only a regular file reached without any link is read: a link anywhere
    below templates/ (to /etc/passwd, say) is refused, as are ``..``,
    devices, pipes and files over MAX_TEMPLATE_BYTES.
    """
    where = f"templates/{name}"
    pieces = name.split("/")
    if not name or name.startswith("/") or any(p in ("", ".", "..") for p in pieces):
        raise HandoutError(f"template name {name[:80]!r} must stay inside templates/", where)
    folder = Path(templates_dir)
    fd = None
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            flags = os.O_RDONLY | os.O_NOFOLLOW | (os.O_NONBLOCK if last else os.O_DIRECTORY)
            try:
                child = os.open(piece, flags, dir_fd=fd)
            except OSError as error:
                if error.errno in (errno.ELOOP, errno.ENOTDIR):  # a link, or not a folder
                    try:
                        is_link = stat.S_ISLNK(os.lstat(piece, dir_fd=fd).st_mode)
                    except OSError:
                        is_link = False
                    if is_link:
                        raise HandoutError("template is a link; links are refused in templates/", where,
                                           "replace the link with the file itself") from None
                raise
            os.close(fd)
            fd = child
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise HandoutError("template is not a regular file", where)
        if info.st_size > MAX_TEMPLATE_BYTES:
            raise HandoutError(f"template is {info.st_size} bytes; the limit is {MAX_TEMPLATE_BYTES}", where)
        with os.fdopen(fd, "rb") as handle:
            fd = None
            return handle.read(MAX_TEMPLATE_BYTES + 1)[:MAX_TEMPLATE_BYTES]
    except FileNotFoundError:
        raise jinja2.TemplateNotFound(name) from None
    except OSError as error:
        raise HandoutError(f"cannot read template: {error.strerror}", where) from None
    finally:
        if fd is not None:
            os.close(fd)


class TemplateLoader(jinja2.BaseLoader):
    """Loads templates from templates/ only, through read_template."""

    def __init__(self, templates_dir):
        self.templates_dir = Path(templates_dir)

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        data = read_template(self.templates_dir, template)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise HandoutError("template is not valid UTF-8", f"templates/{template}") from None
        return text, str(self.templates_dir / template), lambda: True  # read once per process


def jinja_env(templates_dir: Path | str) -> SandboxedEnvironment:
    """Templates run sandboxed: no attributes such as __globals__ or
    __class__, no calls to what the sandbox deems unsafe."""
    return SandboxedEnvironment(
        loader=TemplateLoader(templates_dir),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def to_html(handout: "Handout", env: jinja2.Environment, **extra: object) -> str:
    """The handout's HTML; template errors name the template file and line.

    ``extra`` reaches the template as variables (``web``: the web page, see
    htmlout). The printed page keeps Korean words whole with word joiners
    (markup.join_words); the web page asks the browser to (screen.css)."""
    try:
        rtl = handout.dir == "rtl"
        html = env.get_template(TEMPLATE).render(
            h=handout, pgettext=handout.label, ltr=_ltr, iso=lambda text: isolate(text, rtl), **extra)
        return join_words(html) if handout.keep_words and "web" not in extra else html
    except jinja2.TemplateSyntaxError as error:
        raise HandoutError(f"template syntax error: {error.message}",
                           f"templates/{error.name}:{error.lineno}") from None
    except jinja2.TemplateNotFound as error:
        raise HandoutError(f"template {error.name} not found", "templates/") from None
    except SecurityError as error:
        raise HandoutError(f"template refused by the sandbox: {str(error)[:160]}", f"templates/{TEMPLATE}",
                           "templates may use the handout's fields, not Python internals") from None
    except jinja2.UndefinedError as error:
        raise HandoutError(f"template error: {error.message}", f"templates/{TEMPLATE}") from None
    except jinja2.TemplateError as error:
        raise HandoutError(f"template error: {str(error)[:160]}", f"templates/{TEMPLATE}") from None


def _ltr(text, css_class=""):
    """``text`` kept left-to-right inside right-to-left pages (numbers, e-mail)."""
    if css_class:
        return Markup('<span dir="ltr" class="%s">%s</span>') % (css_class, text)
    return Markup('<span dir="ltr">%s</span>') % text


def _inside(path, roots):
    return any(path == root or root in path.parents for root in roots)


def isolate_fonts(templates_dir: Path | str) -> None:
    """Hide the system's fonts from the renderer (before WeasyPrint starts)."""
    config = Path(templates_dir) / "fontconfig.conf"
    if config.is_symlink():
        raise HandoutError("is a link; links are refused in templates/", "templates/fontconfig.conf",
                           "replace the link with the file itself")
    if config.is_file():
        os.environ["FONTCONFIG_FILE"] = str(config.resolve())


class Renderer:
    """Renders handouts of one project; reuses fonts and stylesheets."""

    def __init__(self, project, manifest, compose: bool = False):
        self.project = project
        self.compose = compose  # clinic pages from a kept body (a batch of many clinics)
        self.manifest = manifest
        self.env = jinja_env(project.templates_dir)
        self.refused: list[str] = []
        self._roots = tuple(p.resolve() for p in (
            project.templates_dir, project.content_dir, project.fonts_dir))
        self._font_files = {
            (project.fonts_dir / f.file).resolve() for f in manifest.fonts}
        self._fetcher: Any = None
        self._font_config: Any = None
        self._css: dict = {}
        self._images: dict = {}  # decoded images (logos, QR codes), reused across handouts
        self._bodies = composing.Bodies()  # pages laid out without their clinic box

    # -- resources ---------------------------------------------------------

    def allowed(self, url: str) -> Path | str | None:
        """The local path ``url`` may read, or None: project files only."""
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
            workarounds.install(self.manifest)
            from weasyprint.urls import URLFetcher, URLFetcherResponse

            renderer = self

            class ProjectFetcher(URLFetcher):
                """Fetches the project's own files and refuses everything else."""

                def fetch(self, url, headers=None):
                    path = renderer.allowed(url)
                    if path is None:
                        renderer.refused.append(url)
                        raise ValueError(f"nkhandout refuses to fetch {url[:200]}")
                    if isinstance(path, str):  # "data", self-contained: logo and QR code, checked before
                        return super().fetch(url, headers)
                    return URLFetcherResponse(url, body=path.read_bytes())

            self._fetcher = ProjectFetcher(allowed_protocols=("file", "data"), allow_redirects=False)
        return self._fetcher

    def stylesheets(self, code: str, paper: str) -> list:
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration

        if self._font_config is None:
            self._font_config = FontConfiguration()
        families = self.manifest.stack(code)
        # Text marked English (the reference list) is set in the English
        # stack: a CJK font draws the space and the no-break space with one
        # glyph, and the PDF would then give every space of the page as a
        # no-break space when it is copied, searched or read aloud.
        english = self.manifest.stack("en")
        if ("base",) not in self._css:
            css = read_template(self.project.templates_dir, STYLESHEET)  # no links, like templates
            self._css[("base",)] = CSS(
                string=css.decode("utf-8", "replace"), base_url=(self.project.templates_dir / STYLESHEET).as_uri(),
                url_fetcher=self.fetcher(), font_config=self._font_config)
        typography = self.manifest.typography(code).css()  # line height, hyphens: fonts.toml [locale]
        stack_key = ("fonts", tuple(families), typography)
        if stack_key not in self._css:
            faces = []
            for font in self.manifest.fonts:
                if font.family in families or font.family in english:
                    uri = (self.project.fonts_dir / font.file).resolve().as_uri()
                    faces.append(
                        f'@font-face {{ font-family: "{font.family}"; font-weight: {font.weight}; '
                        f'font-style: normal; src: url("{uri}"); }}')
            stack = ", ".join(f'"{f}"' for f in families)
            faces.append(f"html {{ font-family: {stack}; }}")
            if english != families:
                latin = ", ".join(f'"{f}"' for f in english + [f for f in families if f not in english])
                faces.append(f":lang(en) {{ font-family: {latin}; }}")
            faces.append(typography)
            self._css[stack_key] = CSS(string="\n".join(faces), url_fetcher=self.fetcher(),
                                       font_config=self._font_config)
        page_key = ("page", paper)
        if page_key not in self._css:
            self._css[page_key] = CSS(string=f"@page {{ size: {papers.CSS_NAMES[paper]}; }}")
        return [self._css[("base",)], self._css[stack_key], self._css[page_key]]

    # -- rendering ---------------------------------------------------------

    def layout(self, handout: "Handout", html: str, compose: bool | None = None) -> "Document":
        """Lay out ``html``; return the WeasyPrint document.

        With ``compose`` (default: the renderer's ``compose``), a page with a
        clinic box is composed from a body laid out once and the box laid out
        alone (see compose.py): worth it when many clinics share a body."""
        if (self.compose if compose is None else compose) and getattr(handout, "clinic", None) is not None:
            document = self._composed(handout, html)
            if document is not None:
                return document
        return self._render(handout, html)

    def _composed(self, handout: "Handout", html: str) -> "Document | None":
        parts = composing.split(html)
        mini = parts and composing.box_page(parts[0], parts[1])
        if not parts or not mini:
            return None
        before, _box, after = parts
        box = composing.laid_out_box(self._render(handout, mini))
        if box is None:
            return None
        body_html = composing.body_page(before, after, box.height)
        key = composing.Bodies.key(body_html, handout.code, handout.paper)
        body = self._bodies.get(key)
        if body is None:
            body = self._render(handout, body_html)
            self._bodies.put(key, body)
        return composing.splice(body, box)

    def _render(self, handout: "Handout", html: str) -> "Document":
        from weasyprint import HTML

        self.refused = []
        if len(self._images) > IMAGE_CACHE_LIMIT:
            # WeasyPrint's image cache keeps each image with the layout of the
            # first document that drew it: a batch of distinct clinics (each
            # its own QR code and logo) would keep every page it ever laid out.
            self._images.clear()
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
            message = describe_uris(collector.messages[0], getattr(handout, "clinic", None))
            raise HandoutError(f"renderer warning: {message[:200]}", f"locale {handout.code}")
        return document

    def pdf_bytes(self, handout: "Handout", document: "Document", html: str) -> bytes:
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
                                      pdf_tags=True, finisher=workarounds.finish_pdf)
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


def preload_hyphenation(manifest, codes) -> list[str]:
    """Load the hyphenation dictionary of each of ``codes`` whose page
    hyphenates (``hyphens = "auto"`` in templates/fonts.toml); return the
    languages loaded.

    Pyphen keeps what it parsed in a module dict that WeasyPrint's
    hyphenation reuses, and parsing takes a while (German: half a second),
    so a batch loads them here, in the parent, before its workers fork: each
    worker then shares them instead of parsing them again. A page that does
    not hyphenate never loads one."""
    import pyphen

    from . import locales

    loaded = []
    for code in dict.fromkeys(codes):
        if manifest.typography(code).hyphens != "auto":
            continue
        try:
            tag = locales.info(code).lang_tag
        except HandoutError:
            continue  # the handout itself says what is wrong
        language = pyphen.language_fallback(tag)  # as WeasyPrint looks it up
        if language and language not in loaded:
            pyphen.Pyphen(lang=language)
            loaded.append(language)
    return loaded


def _midnight(iso_day):
    day = datetime.date.fromisoformat(iso_day)
    return datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.timezone.utc).timestamp()


def overflow_mm(document: "Document") -> float:
    """How far the content runs past the first page, in millimetres."""
    total = 0.0
    for page in document.pages[1:]:
        root = page._page_box
        top = root.content_box_y()
        bottom = top
        for box in composing.boxes(root):
            if getattr(box, "element_tag", None) and box is not root:
                bottom = max(bottom, box.position_y + box.margin_height())
        total += bottom - top
    return total / PX_PER_MM


def spare_mm(document: "Document") -> float:
    """Room left under the last line of the first page, in millimetres.

    The text flows down the first column and then the second, so the room
    that matters is under the last line (of the last column)."""
    root = document.pages[0]._page_box
    bottom_limit = root.content_box_y() + root.height
    last = None
    for box in composing.boxes(root):
        if type(box).__name__ == "LineBox":
            last = box
    bottom = last.position_y + last.margin_height() if last is not None else root.content_box_y()
    return (bottom_limit - bottom) / PX_PER_MM


def section_heights(document: "Document") -> list[tuple[str, float]]:
    """Height in mm of each section (all its fragments), largest first."""
    heights: dict[str, float] = {}
    for page in document.pages:
        for box in composing.boxes(page._page_box):
            element = getattr(box, "element", None)
            if element is None or box.element_tag != "section":
                continue
            classes = element.get("class", "")
            name = next((c[2:] for c in classes.split() if c.startswith("s-")), "references")
            heights[name] = heights.get(name, 0) + box.margin_height() / PX_PER_MM
    return sorted(heights.items(), key=lambda kv: -kv[1])


# Text may pass its box by less than this (rounding, a space's advance).
_OVERRUN_TOLERANCE_MM = 0.3


def _part_name(box, current):
    """The part of the page a box belongs to, as a reader would name it."""
    element = getattr(box, "element", None)
    tag = getattr(box, "element_tag", None)
    if element is None or tag is None:
        return current
    classes = (element.get("class") or "").split()
    for name in classes:
        if name.startswith("s-"):
            return name[2:]
    if tag == "section" and "references" in classes:
        return "references"
    if tag == "aside" and "clinic" in classes:
        return "clinic box"
    if tag == "p" and "disclaimer" in classes:
        return "disclaimer"
    if tag == "p" and "draft" in classes:
        return "draft banner"
    if tag == "h1":
        return "title"
    if tag == "p" and "lead" in classes:
        return "lead"
    if tag == "footer":
        return "footer"
    return current


def overruns(document: "Document") -> list[tuple[str, float, str]]:
    """Where laid-out text is wider than its column: [(part, mm, text)], worst first.

    A word that cannot be broken (a 60-letter compound, a long URL) is set
    on one line however wide, and runs over the next column or off the page
    without making a second page. Every text box and image is measured
    against the content box of the block (column, list item, clinic box)
    that holds it; a list's marker hangs outside on purpose and is not.
    """
    found: dict[str, tuple[float, str]] = {}

    def walk(box, block, part):
        part = _part_name(box, part)
        kind = type(box).__name__
        if kind in ("TextBox", "InlineReplacedBox") and block is not None \
                and not str(getattr(box, "element_tag", "")).endswith("::marker"):
            left = block.content_box_x()
            right = left + block.width
            start = box.position_x
            end = start + box.margin_width()
            over = max(end - right, left - start) / PX_PER_MM
            if over > _OVERRUN_TOLERANCE_MM and over > found.get(part, (0, ""))[0]:
                found[part] = (over, getattr(box, "text", "") or "an image")
        if kind in ("BlockBox", "BlockReplacedBox", "TableCellBox", "FlexBox", "InlineBlockBox",
                    "PageBox", "FloatBox") or (kind.endswith("BlockBox")):
            block = box
        for child in getattr(box, "children", ()):
            walk(child, block, part)

    for page in document.pages:
        walk(page._page_box, None, "page")
    return sorted(((part, mm, text) for part, (mm, text) in found.items()), key=lambda item: -item[1])


def overrun_error(document: "Document", code: str) -> HandoutError | None:
    """A HandoutError for text wider than its column, or None."""
    found = overruns(document)
    if not found:
        return None
    part, mm, text = found[0]
    word = max(text.split() or [text], key=len)[:40]
    more = f" (and {len(found) - 1} more part(s))" if len(found) > 1 else ""
    return HandoutError(
        f"text runs {mm:.1f} mm past its column in '{part}' at {word!r}{more}", f"locale {code}",
        "break the long word (a space or a hyphen), or shorten it")
