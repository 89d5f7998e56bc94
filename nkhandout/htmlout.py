"""The handout as a standalone web page.

The page comes from the same Handout value and the same template as the
PDF: the template is rendered with ``web`` set, which puts a strict
Content-Security-Policy, a viewport and the screen stylesheet (inline, so
the file stands alone) into its head. Fonts are not embedded: the browser
sets the text in the reader's own fonts (see templates/screen.css).
"""

import base64
import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import jinja2
from markupsafe import Markup, escape

from . import batch, build as builder, files, render
from .errors import HandoutError
from .handout import Handout
from .project import Project, read_utf8

SCREEN_STYLESHEET = "screen.css"
MAX_STYLESHEET_BYTES = 256 * 1024


def screen_css(project: Project) -> str:
    """The screen stylesheet's text, refused if it could break out of <style>."""
    path = project.templates_dir / SCREEN_STYLESHEET
    text = read_utf8(path, MAX_STYLESHEET_BYTES, project.relative(path), inside=project.templates_dir)
    found = re.search(r"</style|<!--|@import|url\(", text, re.IGNORECASE)
    if found:
        line = text[: found.start()].count("\n") + 1
        raise HandoutError(f"the screen stylesheet may not contain {found.group(0)!r}",
                           f"{project.relative(path)}:{line}",
                           "the web page loads nothing: keep it to plain rules")
    return text


def _hash(text):
    return "'sha256-%s'" % base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def csp(css: str, styles: Iterable[str] = (), attributes: Iterable[str] = ()) -> str:
    """The Content-Security-Policy of a page whose only style is ``css`` (and
    the ``styles`` elements and ``attributes`` style values the template itself
    writes, for instance in inline SVG): nothing loads from anywhere; images
    only as data: URIs (logo, QR code); no scripts."""
    allowed = [_hash(css), *sorted({_hash(text) for text in styles})]
    if attributes:
        allowed += ["'unsafe-hashes'", *sorted({_hash(text) for text in attributes})]
    return ("default-src 'none'; img-src data:; style-src %s; base-uri 'none'; form-action 'none'"
            % " ".join(allowed))


def web_head(css: str) -> Markup:
    """What the template puts in <head> for the web page."""
    return Markup(
        '\n<meta http-equiv="Content-Security-Policy" content="%s">'
        '\n<meta name="viewport" content="width=device-width, initial-scale=1">'
        '\n<meta name="referrer" content="no-referrer">'
        '\n<style>%s</style>'
    ) % (csp(css), Markup(css))


class _Styles(HTMLParser):
    """The inline styles of a page: <style> texts and style="" values."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.styles, self.attributes, self._open = [], [], False

    def handle_starttag(self, tag, attrs):
        self.attributes += [value for name, value in attrs if name == "style" and value]
        if tag == "style":
            self._open = True
            self.styles.append("")

    def handle_endtag(self, tag):
        if tag == "style":
            self._open = False

    def handle_data(self, data):
        if self._open:
            self.styles[-1] += data


def to_web_html(handout: Handout, env: jinja2.Environment, css: str) -> str:
    """The standalone HTML page of ``handout``.

    Its policy allows the screen stylesheet and whatever inline styles the
    template writes (by hash: nothing else can run or load)."""
    page = render.to_html(handout, env, web={"head": web_head(css)})
    found = _Styles()
    found.feed(page)
    extra_styles = found.styles[1:]  # the first is the screen stylesheet
    if extra_styles or found.attributes:
        old = str(escape(csp(css)))
        new = str(escape(csp(css, extra_styles, found.attributes)))
        page = page.replace(f'content="{old}"', f'content="{new}"', 1)
    return page


def page_csp(page: str) -> str:
    """The policy a page written by to_web_html declares (for the HTTP header)."""
    found = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)"', page)
    return unescape(found.group(1)) if found else "default-src 'none'"


def file_name(pdf_name: str) -> str:
    """``name.es.pdf`` -> ``name.es.html``."""
    return re.sub(r"\.pdf$", "", pdf_name) + ".html"



def build(project: Project, codes: Iterable[str], *, out_dir: Path | str | None = None, draft: bool = False,
          paper: str = "auto", require_reviewed: bool = False, clinic_paths: Sequence[Path | str] = (),
          only_complete: bool = False, log: Callable[[str], object] | None = None) -> batch.Result:
    """Write ``<name>.<code>.html`` for each locale (and clinic); return a batch.Result.

    The page is cheap to make (no layout), so it is simply made again."""
    out = Path(out_dir or project.handouts_dir)
    files.ensure_dir(out)
    result = batch.Result()
    inputs = builder.load_inputs(project)
    env = render.jinja_env(project.templates_dir)
    css = screen_css(project)
    name = batch.handout_name(project) or "handout"
    if only_complete:
        complete = set(builder.complete_locales(project, inputs))
        codes = [code for code in codes if code in complete]
    for folder, slug, clinic in batch.clinic_folders(out, clinic_paths):
        if isinstance(clinic, HandoutError):
            result.failures.extend(builder.Failure(code, slug, clinic) for code in codes)
            continue
        for code in codes:
            target = folder / f"{name}.{code}.html"
            try:
                value = builder.prepare(inputs, code, builder.Options(draft, paper, require_reviewed), clinic)
                page = to_web_html(value, env, css)
                files.write_output(target, page.encode("utf-8"), out, "page")
            except HandoutError as error:
                result.failures.append(builder.Failure(code, slug, error))
                continue
            result.written.append(target)
            if log:
                log(f"wrote {target}")
    return result
