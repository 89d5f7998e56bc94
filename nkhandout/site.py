"""`nkhandout site OUT/`: a static site of every handout, for an intranet or any static host.

OUT/index.html lists every complete locale (and clinic) with its PDF, its
web page and a small picture of the printed page. The PDFs are built as by
`build` (and skipped when their inputs did not change); the pictures are made
from the PDFs. The index loads nothing but its own pictures.
"""

import base64
import hashlib
import io
from collections.abc import Callable, Sequence
from pathlib import Path

import jinja2
from markupsafe import Markup

from . import batch, build as builder, clinic as clinic_lib, files, htmlout, incremental, locales
from .errors import HandoutError
from .handout import _plain
from .project import Project

THUMBNAIL_WIDTH = 220  # pixels

_INDEX = """<!DOCTYPE html>
<html lang="en" dir="ltr">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{ title }}</title>
<style>{{ css }}</style>
</head>
<body>
<main>
<h1>{{ title }}</h1>
<p>Each handout prints on one page. Open the PDF to print it; the web page suits patient portals and screen readers.</p>
{% for group in groups %}
<section aria-labelledby="g{{ loop.index }}">
<h2 id="g{{ loop.index }}">{{ group.heading }}</h2>
<ul class="cards">
{% for item in group["items"] %}
<li>
<a class="thumb" href="{{ item.pdf }}"><img src="{{ item.png }}" width="{{ item.width }}" height="{{ item.height }}" alt="The {{ item.english }} handout, as printed"></a>
<h3><span lang="{{ item.lang }}" dir="{{ item.dir }}">{{ item.native }}</span> <span class="english">({{ item.english }})</span></h3>
<p class="review">{{ item.review }}</p>
<p><a href="{{ item.pdf }}">PDF<span class="visually-hidden"> in {{ item.english }}</span></a> · <a href="{{ item.html }}">Web page<span class="visually-hidden"> in {{ item.english }}</span></a></p>
</li>
{% endfor %}
</ul>
</section>
{% endfor %}
</main>
</body>
</html>
"""

_CSS = """
html { font-family: "Noto Sans", system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; line-height: 1.5; color: #111; background: #fff; }
body { margin: 0 auto; padding: 1rem; max-width: 75rem; }
h1 { color: #0b3b60; }
.cards { list-style: none; padding: 0; display: grid; grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); gap: 1.5rem; }
.cards li { border: 1px solid #bbb; padding: 0.75rem; border-radius: 4px; }
.cards h3 { font-size: 1.1rem; margin: 0.5rem 0 0.25rem; }
.thumb img { display: block; max-width: 100%; height: auto; border: 1px solid #555; }
.english { font-weight: 400; color: #333; }
.review { margin: 0; color: #333; font-size: 0.95rem; }
a { color: #0b3b60; }
a:focus-visible { outline: 3px solid #c25400; outline-offset: 2px; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
"""


def _thumbnail(pdf, target):
    """A small PNG of the PDF's page, made again only when the PDF changed."""
    try:
        import pypdfium2
    except ImportError:
        raise HandoutError("the site's page pictures need pypdfium2", hint="pip install -e '.[web]'") from None

    kept = files.read_regular(target, 4 * 1024 * 1024)  # never a link or a pipe
    if kept is not None and target.stat().st_mtime_ns >= pdf.stat().st_mtime_ns:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(kept)) as image:
                return image.size
        except (UnidentifiedImageError, OSError):
            pass  # not a picture we made: make it again
    document = pypdfium2.PdfDocument(str(pdf))
    try:
        page = document[0]
        image = page.render(scale=THUMBNAIL_WIDTH / page.get_width()).to_pil()
    finally:
        document.close()
    buffer = io.BytesIO()
    image.convert("RGB").quantize(colors=32).save(buffer, "PNG", optimize=True)  # a third of the size
    files.write_atomic(target, buffer.getvalue())
    return image.size


def build_site(project: Project, out: Path | str, clinic_paths: Sequence[Path | str] = (), jobs: int | None = None,
               log: Callable[[str], object] | None = None) -> tuple[int, list]:
    """Write the site of every topic into ``out``; return (pages, failures)."""
    groups, failures = [], []
    titles = []
    for topic in project.topic_names():
        made, failed, title = _topic_groups(project.for_topic(topic), Path(out), clinic_paths, jobs, log)
        groups += made
        failures += failed
        titles.append(title)
    return _write_index(Path(out), groups, titles), failures


def _topic_groups(project, out, clinic_paths, jobs, log):
    """The PDFs, web pages and pictures of one topic, as index groups."""
    codes = incremental.candidate_codes(project)
    pdfs = batch.run(project, codes, out_dir=out, clinic_paths=clinic_paths, only_complete=True,
                     jobs=jobs, log=log)
    pages = htmlout.build(project, codes, out_dir=out, clinic_paths=clinic_paths, only_complete=True, log=log)
    failures = pdfs.failures + [f for f in pages.failures
                                if (f.clinic, f.code) not in {(p.clinic, p.code) for p in pdfs.failures}]
    inputs = builder.load_inputs(project)
    title = _plain(inputs.source.title.text)
    built = {path.resolve() for path in pdfs.written + pdfs.skipped}
    clinics: list[Path | None] = list(batch.clinic_files(clinic_paths)) or [None]
    name = batch.handout_name(project) or "handout"
    groups = []
    for clinic_path in clinics:
        folder = out / batch.clinic_slug(clinic_path) if clinic_path else out
        heading = title
        if clinic_path:
            try:
                heading = f"{title}: with the box of {clinic_lib.load(clinic_path).name}"
            except HandoutError:
                continue
        items = []
        for code in codes:
            pdf = folder / f"{name}.{code}.pdf"
            html = folder / f"{name}.{code}.html"
            if pdf.resolve() not in built or not html.exists():
                continue
            png = folder / f"{name}.{code}.png"
            width, height = _thumbnail(pdf, png)
            info = locales.info(code)
            review = builder.locale_state(inputs, code).review
            status = {"source": "Source text", "reviewed": f"Reviewed by {review['by']}"}.get(
                review["status"], "Not yet reviewed by a qualified medical translator")
            items.append({"code": code, "lang": info.lang_tag, "dir": info.direction,
                          "native": info.native_name, "english": info.locale.get_display_name("en"),
                          "review": status, "width": width, "height": height,
                          "pdf": pdf.relative_to(out).as_posix(), "html": html.relative_to(out).as_posix(),
                          "png": png.relative_to(out).as_posix()})
        if items:
            groups.append({"heading": heading, "items": items})
    return groups, failures, title


def _write_index(out, groups, titles):
    digest = base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()
    csp = f"default-src 'none'; img-src 'self'; style-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    title = f"Patient handouts: {titles[0]}" if len(titles) == 1 else "Patient handouts"
    index = environment.from_string(_INDEX).render(title=title, css=Markup(_CSS), csp=csp, groups=groups)
    files.write_atomic(out / "index.html", index.encode("utf-8"))
    return sum(len(g["items"]) for g in groups)
