"""`nkhandout serve`: the handouts in a browser, for clinic staff and translators.

Starlette serves the pages; uvicorn runs them. Rendering happens in one warm
worker process (WeasyPrint, fonts and stylesheets loaded once), one handout
at a time, so the server answers other requests while a page renders.
Results are cached by the same input hash as `build` (incremental.input_hash),
so a change to any input makes a new render and nothing else does.

The app is read-only. Routes accept only known names: a locale that has a
catalog, a paper (a4, letter) and the name of a profile found in the clinics
folder at start (or, with --watch, when the folder changes); nothing from the
URL becomes a path. Every response carries a strict Content-Security-Policy;
nothing is fetched from outside.

With --watch, watchfiles reports changes to content/, templates/ and the
clinics folder; every open locale page is told over server-sent events,
re-renders, and shows `check`'s problems for its locale with file and line.
"""

import asyncio
import io
import ipaddress
import json
import multiprocessing
import re
import signal
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlencode

from markupsafe import Markup

from . import batch, clinic as clinic_lib, incremental
from .batch import timeout_seconds
from .errors import HandoutError
from .project import Project

PAPERS = ("a4", "letter")
OUTSIDE_GRACE = 2.0  # s the worker has to answer a render it stopped itself
PAPER_NAMES = {"a4": "A4", "letter": "Letter"}
MAX_QUERY = 256
QUERY_KEYS = frozenset({"paper", "clinic", "download", "v"})
PREVIEW_SCALE = 1.5  # 108 dpi: an A4 page is 893 x 1263 pixels
CACHE_SIZE = 96
APP_CSP = ("default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; "
           "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
PDF_CSP = "default-src 'none'; object-src 'self'; frame-ancestors 'none'"


# -- the worker process ------------------------------------------------------

_WORKER: dict = {}


class _TimedOut(Exception):
    pass


class _time_limit:
    """Stop one render in the worker that takes longer than NKHANDOUT_TIMEOUT seconds.

    The worker renders in its main thread, so an interval timer (SIGALRM) can
    interrupt it; the worker stays up for the next request."""

    def __init__(self, code):
        self.code = code
        self.seconds = timeout_seconds()
        self.armed = False

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            def expire(_signum, _frame):
                raise _TimedOut()

            self.previous = signal.signal(signal.SIGALRM, expire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
            self.armed = True
        return self

    def __exit__(self, kind, value, traceback):
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        if kind is _TimedOut:
            raise HandoutError(f"rendering took longer than {self.seconds:g} s and was stopped",
                               f"locale {self.code}", "check the catalog and the clinic's logo for something "
                               "very long or complex; NKHANDOUT_TIMEOUT sets the limit") from None
        return False


def _worker_init(root, fonts_dir, topic=None):
    """Start of the worker process: the project (seen through the topic
    served), and WeasyPrint imported."""
    _WORKER["project"] = Project.at(root, fonts_dir, topic=topic)
    from . import workarounds

    workarounds.load_weasyprint()  # imported once, here, not per render


def _warm(shared):
    """Load inputs, fonts and stylesheets once for ``shared`` (the project's hash)."""
    from . import build as builder, htmlout, render

    if _WORKER.get("shared") == shared:
        return _WORKER
    project = _WORKER["project"]
    _WORKER.update(shared=None, error=None, inputs=None, renderer=None, css=None, large=None)
    try:
        inputs = builder.load_inputs(project)
        renderer = render.Renderer(project, inputs.manifest)
        css = htmlout.screen_css(project)
    except HandoutError as error:
        _WORKER.update(shared=shared, error=error)
        return _WORKER
    _WORKER.update(shared=shared, inputs=inputs, renderer=renderer, css=css)
    return _WORKER


def warm_up(shared: str) -> bool:
    """Ready the worker: inputs, and one layout so that fonts are loaded."""
    state = _warm(shared)
    if state["error"] is None:
        try:
            render_job(shared, "en", "a4", None)
        except Exception:  # noqa: BLE001 (a warm-up; the real request reports)
            pass
    return True


def _png(pdf, scale=PREVIEW_SCALE):
    """The first page of ``pdf`` as PNG bytes."""
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    try:
        image = document[0].render(scale=scale).to_pil()
    finally:
        document.close()
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=3)
    return buffer.getvalue()


def render_job(shared: str, code: str, paper: str, clinic_path: str | None, scale: float = PREVIEW_SCALE) -> dict:
    """Everything a locale page shows, for one (locale, paper, clinic).

    Returns a plain dict: problems (where, message) as `check` reports them,
    an error that stops the PDF, the PDF and PNG bytes, the web page."""
    from . import build as builder, check as checker, htmlout, render

    state = _warm(shared)
    result: dict[str, object] = {"problems": [], "error": None, "pdf": None, "png": None, "html": None,
                                 "pages": 0, "paper": paper, "draft": False, "title": ""}
    if state["error"] is not None:
        result["error"] = str(state["error"])
        return result
    inputs, renderer = state["inputs"], state["renderer"]
    inputs.states.pop(code, None)  # the catalog is read again: it may have changed
    try:
        clinic = clinic_lib.load(clinic_path) if clinic_path else None
    except HandoutError as error:
        result["error"] = str(error)
        return result
    report = checker.check_locale(inputs, renderer, code, paper=paper if paper != "auto" else "auto",
                                  layout=False, clinic=clinic)
    result["problems"] = [(p.where, p.message) for p in report.problems]
    result["paper"] = report.paper
    try:
        draft = not (report.stats and report.stats.complete)
        result["draft"] = draft
        value = builder.prepare(inputs, code, builder.Options(draft=draft, paper=report.paper), clinic)
        result["title"] = value.title_text
        with _time_limit(code):  # NKHANDOUT_TIMEOUT, as for build
            html = render.to_html(value, renderer.env)
            document = renderer.layout(value, html)
            result["pages"] = len(document.pages)
            pdf = renderer.pdf_bytes(value, document, html)
        result["png"] = _png(pdf, scale)
        result["html"] = htmlout.to_web_html(value, renderer.env, state["css"])
        if len(document.pages) > 1:
            over = render.overflow_mm(document)
            result["error"] = (f"locale {code}: handout takes {len(document.pages)} pages: it overflows "
                               f"one {report.paper} page by about {over:.0f} mm (shorten the text)")
        else:
            result["pdf"] = pdf
    except HandoutError as error:
        result["error"] = str(error)
    return result


def large_print_job(shared: str, code: str, paper: str, clinic_path: str | None) -> dict:
    """The large-print PDF (at most two pages), or why there is none."""
    from . import build as builder, check as checker, largeprint

    state = _warm(shared)
    result: dict[str, bytes | str | None] = {"pdf": None, "error": None}
    if state["error"] is not None:
        result["error"] = str(state["error"])
        return result
    inputs = state["inputs"]
    inputs.states.pop(code, None)
    try:
        if state.get("large") is None:
            state["large"] = largeprint.LargePrintRenderer(state["project"], inputs.manifest)
        renderer = state["large"]
        clinic = clinic_lib.load(clinic_path) if clinic_path else None
        report = checker.check_locale(inputs, renderer, code, paper=paper, layout=False, clinic=clinic)
        if report.problems:
            raise HandoutError(str(report.problems[0]))
        value = builder.prepare(inputs, code, builder.Options(paper=report.paper), clinic)
        with _time_limit(code):
            document, html = largeprint.render_one(renderer, value)
            result["pdf"] = renderer.pdf_bytes(value, document, html)
    except HandoutError as error:
        result["error"] = str(error)
    return result


def index_job(shared: str, codes: Iterable[str]) -> list[dict]:
    """One row per locale for the index: names, progress, review status."""
    from . import build as builder, locales

    state = _warm(shared)
    rows = []
    for code in codes:
        info = locales.info(code)
        row = {"code": code, "lang": info.lang_tag, "dir": info.direction,
               "native": info.native_name, "english": info.locale.get_display_name("en") or code,
               "done": 0, "total": 0, "review": "unreadable", "reviewed_by": "", "problem": ""}
        if state["error"] is not None:
            row["problem"] = str(state["error"])
            rows.append(row)
            continue
        inputs = state["inputs"]
        inputs.states.pop(code, None)
        try:
            locale_state = builder.locale_state(inputs, code)
        except HandoutError as error:
            row["problem"] = str(error)
            rows.append(row)
            continue
        stats = locale_state.stats
        review = locale_state.review
        row.update(done=stats.translated, total=stats.translated + stats.fuzzy + stats.untranslated,
                   review=review["status"], reviewed_by=review["by"])
        rows.append(row)
    return rows


# -- the server --------------------------------------------------------------


class Service:
    """The project, its clinics, the render worker and the cache."""

    def __init__(self, project, clinics_dir=None, watch=False, prerender=False):
        self.project = project
        self.clinics_dir = Path(clinics_dir).resolve() if clinics_dir else None
        self.watch = watch
        self.prerender = prerender
        self.cache = OrderedDict()
        self.pending: dict[str, asyncio.Future] = {}
        self.version = 0
        self.changed: asyncio.Condition | None = None  # made by start(), in the server's loop
        self.executor: ProcessPoolExecutor | None = None
        self.foreground = 0
        self._shared: tuple[float, str | None] = (0.0, None)
        self._codes = None
        self._clinics = None
        self._labels = {}
        self._tasks = []

    # names the routes accept

    def codes(self):
        if self._codes is None:
            from . import build as builder

            self._codes = builder.available(self.project)
        return self._codes

    def clinics(self):
        """{name: path} of the profiles in the clinics folder."""
        if self._clinics is None:
            found: dict[str, Path] = {}
            if self.clinics_dir is not None and self.clinics_dir.is_dir():
                for path in sorted(self.clinics_dir.glob("*.toml")):
                    if path.is_file():
                        found.setdefault(batch.clinic_slug(path), path)
            self._clinics = found
        return self._clinics

    def clinic_label(self, name: str) -> str:
        """The clinic's own name from its profile (the file name if it cannot be read)."""
        path = self.clinics()[name]
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            return name
        if self._labels.get(name, (None,))[0] != stamp:
            try:
                label = clinic_lib.load(path).name
            except HandoutError:
                label = f"{name} (profile has a problem)"
            self._labels[name] = (stamp, label)
        return self._labels[name][1]

    def shared(self) -> str:
        """incremental.shared_hash of the project; with --watch, computed again
        after each change; without, at most once a second."""
        stamp, value = self._shared
        now = time.monotonic()
        if value is None or (not self.watch and now - stamp > 1.0):
            value = incremental.shared_hash(self.project)
            self._shared = (now, value)
            if not self.watch:  # catalogs and profiles may have come or gone
                self._codes = self._clinics = None
        return value

    def key(self, code: str, paper: str, clinic: str, kind: str = "page") -> str:
        path = self.clinics()[clinic] if clinic else None
        options = (("draft", "auto"), ("paper", paper), ("require_reviewed", False), ("web", kind))
        return incremental.input_hash(self.project, code, path, options, self.shared())

    # the worker

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.executor = ProcessPoolExecutor(
            1, mp_context=context, initializer=_worker_init,
            initargs=(str(self.project.root), str(self.project.fonts_dir), self.project.topic_name or None))
        self.changed = asyncio.Condition()
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._warm_up()))
        if self.watch:
            self._tasks.append(loop.create_task(self._watch()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)

    async def _call(self, function, *args):
        """``function(*args)`` in the worker. The worker stops a render that
        passes NKHANDOUT_TIMEOUT itself; as the renderer may swallow that,
        the server kills a worker still busy a little later and starts another.
        The one worker renders in turn, so the time counts from the request."""
        loop = asyncio.get_running_loop()
        executor = self.executor
        try:
            return await asyncio.wait_for(loop.run_in_executor(executor, function, *args),
                                          timeout_seconds() + OUTSIDE_GRACE)
        except asyncio.TimeoutError:
            for process in list(getattr(executor, "_processes", {}).values()):
                process.kill()
            self._replace(executor)
            raise BrokenProcessPool(f"the render took longer than {timeout_seconds():g} s "
                                    "and its worker was stopped") from None
        except BrokenProcessPool:
            self._replace(executor)
            raise

    def _replace(self, executor):
        """A new worker in place of ``executor``, once, however many calls saw it fail."""
        if self.executor is executor and executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
            self.start_executor_again()

    def start_executor_again(self) -> None:
        self.executor = ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_init,
            initargs=(str(self.project.root), str(self.project.fonts_dir), self.project.topic_name or None))

    async def _warm_up(self):
        await self._call(warm_up, self.shared())
        if self.prerender:
            for code in self.codes():
                for paper in PAPERS:
                    while self.foreground:
                        await asyncio.sleep(0.05)
                    await self.rendered(code, paper, "", background=True)

    async def rendered(self, code, paper, clinic, background=False, kind="page"):
        """The render_job (or large_print_job) result for (code, paper, clinic),
        from the cache if the inputs are the same."""
        key = self.key(code, paper, clinic, kind)
        if key in self.cache:
            self.cache.move_to_end(key)
            return key, self.cache[key]
        if key not in self.pending:
            path = self.clinics()[clinic] if clinic else None
            job = large_print_job if kind == "large" else render_job
            self.pending[key] = asyncio.ensure_future(
                self._call(job, self.shared(), code, paper, str(path) if path else None))
        future = self.pending[key]
        if not background:
            self.foreground += 1
        try:
            result = await asyncio.shield(future)
        finally:
            if not background:
                self.foreground -= 1
            if self.pending.get(key) is future and future.done():
                del self.pending[key]
        self.cache[key] = result
        while len(self.cache) > CACHE_SIZE:
            self.cache.popitem(last=False)
        return key, result

    def cached(self, code, paper, clinic=""):
        try:
            return self.cache.get(self.key(code, paper, clinic))
        except KeyError:
            return None

    async def index_rows(self):
        key = ("index", self.shared(), tuple(self.key(code, "auto", "") for code in self.codes()))
        if key not in self.cache:
            self.cache[key] = await self._call(index_job, self.shared(), self.codes())
        return self.cache[key]

    # watching

    async def _watch(self):
        import watchfiles

        paths = [str(self.project.content_dir), str(self.project.templates_dir)]
        if self.clinics_dir is not None and self.clinics_dir.is_dir():
            paths.append(str(self.clinics_dir))
        fonts = str(self.project.fonts_dir)

        def interesting(change, path):
            name = Path(path).name
            return not (path.startswith(fonts) or name.startswith(".") or name.endswith(("~", ".mo", ".swp"))
                        or ".nkhandout-tmp" in name)

        async for _changes in watchfiles.awatch(*paths, watch_filter=interesting, debounce=40, step=10,
                                                 rust_timeout=1000, yield_on_timeout=False):
            self.changed_now()

    def changed_now(self) -> None:
        self._shared = (0.0, None)
        self._codes = None
        self._clinics = None
        self.version += 1
        self._notify()

    def _notify(self):
        changed = self.changed
        if changed is None:
            return  # not started: nobody waits for a change

        async def notify():
            async with changed:
                changed.notify_all()

        asyncio.ensure_future(notify())


# -- pages -------------------------------------------------------------------

_PAGE = """<!DOCTYPE html>
<html lang="en" dir="ltr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{ title }}</title>
<link rel="stylesheet" href="/app.css">
{% if script %}<script src="/app.js" defer></script>{% endif %}
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top"><p class="brand"><a href="/{{ clinic_query }}">nkhandout</a></p></header>
<main id="main">
{{ body }}
</main>
</body>
</html>
"""

_INDEX = """<h1>Patient handouts</h1>
<p>Choose a clinic, then a language. Each handout prints on one page.</p>
{% if clinics %}
<nav aria-labelledby="clinic-heading" class="choice">
<h2 id="clinic-heading">Clinic</h2>
<ul>
<li><a href="/"{% if not clinic %} aria-current="true"{% endif %}>No clinic box</a></li>
{% for name, label in clinics %}
<li><a href="/?clinic={{ name }}"{% if clinic == name %} aria-current="true"{% endif %}>{{ label }}</a></li>
{% endfor %}
</ul>
</nav>
{% endif %}
<h2 id="languages">Languages</h2>
<table aria-labelledby="languages">
<thead><tr><th scope="col">Language</th><th scope="col">In English</th><th scope="col">Code</th>
<th scope="col">Translated</th><th scope="col">Review</th><th scope="col">Fits A4</th><th scope="col">Fits Letter</th></tr></thead>
<tbody>
{% for row in rows %}
<tr>
<th scope="row"><a href="/l/{{ row.code }}{{ clinic_query }}" lang="{{ row.lang }}" dir="{{ row.dir }}">{{ row.native }}</a></th>
<td>{{ row.english }}</td>
<td>{{ row.code }}</td>
<td>{% if row.problem %}<span class="bad">{{ row.problem }}</span>{% else %}{{ row.done }} of {{ row.total }}{% endif %}</td>
<td>{{ review(row) }}</td>
<td>{{ fit(row.code, "a4") }}</td>
<td>{{ fit(row.code, "letter") }}</td>
</tr>
{% endfor %}
</tbody>
</table>
"""

_LOCALE = """<p class="crumbs"><a href="/{{ clinic_query }}">All languages</a></p>
<h1><span lang="{{ lang }}" dir="{{ dir }}">{{ native }}</span> <span class="english">({{ english }})</span></h1>
<div class="layout">
<div class="controls">
<nav aria-labelledby="paper-heading" class="choice">
<h2 id="paper-heading">Paper</h2>
<ul>
{% for name in papers %}
<li><a href="{{ link(paper=name) }}"{% if name == paper %} aria-current="true"{% endif %}>{{ paper_names[name] }}</a></li>
{% endfor %}
</ul>
</nav>
{% if clinics %}
<nav aria-labelledby="clinic-heading" class="choice">
<h2 id="clinic-heading">Clinic</h2>
<ul>
<li><a href="{{ link(clinic='') }}"{% if not clinic %} aria-current="true"{% endif %}>No clinic box</a></li>
{% for name, label in clinics %}
<li><a href="{{ link(clinic=name) }}"{% if clinic == name %} aria-current="true"{% endif %}>{{ label }}</a></li>
{% endfor %}
</ul>
</nav>
{% endif %}
<h2>Print</h2>
<p class="actions" id="actions"{% if not pdf_url %} hidden{% endif %}>
<a class="button" id="print" href="{{ pdf_url }}" target="_blank" rel="noopener">Open the PDF to print</a>
<a class="button" id="download" href="{{ pdf_url }}&amp;download=1" download>Download PDF</a>
</p>
<p><a id="large" href="{{ large_url }}" target="_blank" rel="noopener">Large print PDF</a> (16pt, up to two pages, for patients who ask for it)</p>
<p><a id="web" href="{{ html_url }}">Web page version</a> (for patient portals and screen readers)</p>
<section aria-labelledby="problems-heading" class="problems">
<h2 id="problems-heading">Problems</h2>
<p id="status" role="status">{{ status }}</p>
<ul id="problems">
{% for where, message in problems %}
<li><code>{{ where }}</code> {{ message }}</li>
{% endfor %}
</ul>
</section>
</div>
<figure class="preview">
<img id="preview" src="{{ png_url }}" alt="The {{ english }} handout as it will print on {{ paper_names[paper] }} paper{% if clinic_label %}, with the box of {{ clinic_label }}{% endif %}" width="{{ width }}" height="{{ height }}"{% if events_url %} data-events="{{ events_url }}"{% endif %}>
<figcaption>As it will print{% if watch %}; updates when a file changes{% endif %}.</figcaption>
</figure>
</div>
"""

_CSS = """
:root { color-scheme: light; }
html { font-family: "Noto Sans", system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
       line-height: 1.5; color: #111; background: #fff; }
body { margin: 0; }
a { color: #0b3b60; }
a:focus-visible, .button:focus-visible { outline: 3px solid #c25400; outline-offset: 2px; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: 1rem; background: #fff; padding: 0.5rem; }
.top { background: #0b3b60; padding: 0.5rem 1rem; }
.top a { color: #fff; font-weight: 700; text-decoration: none; }
.brand { margin: 0; }
main { padding: 1rem; max-width: 80rem; margin: 0 auto; }
h1 { color: #0b3b60; font-size: 1.6rem; margin: 0.5rem 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.25rem 0 0.5rem; }
.english { font-weight: 400; color: #333; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: start; padding: 0.4rem 0.6rem; border-bottom: 1px solid #ccc; vertical-align: top; }
thead th { border-bottom: 2px solid #0b3b60; }
tbody th a { font-size: 1.1rem; }
.choice ul { list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap; gap: 0.5rem; }
.choice a, .button { display: inline-block; padding: 0.45rem 0.9rem; border: 2px solid #0b3b60;
                     border-radius: 4px; text-decoration: none; color: #0b3b60; background: #fff; }
.choice a[aria-current] { background: #0b3b60; color: #fff; }
.button { background: #0b3b60; color: #fff; font-weight: 700; margin: 0 0.5rem 0.5rem 0; }
.layout { display: flex; flex-wrap: wrap; gap: 2rem; align-items: flex-start; }
.controls { flex: 1 1 18rem; max-width: 30rem; }
.preview { flex: 1 1 28rem; margin: 0; max-width: 52rem; }
.preview img { width: 100%; height: auto; border: 1px solid #555; box-shadow: 0 2px 8px rgba(0,0,0,.25); }
.problems code { font-size: 0.9rem; background: #f2f2f2; padding: 0 0.2rem; }
.problems li { margin-bottom: 0.4rem; }
.bad { color: #8b0000; }
.ok { color: #185c2a; }
.crumbs { margin: 0; }
"""

_JS = """'use strict';
(function () {
  var img = document.getElementById('preview');
  if (!img || !img.dataset.events || !window.EventSource) { return; }
  var source = new EventSource(img.dataset.events);
  source.addEventListener('update', function (event) {
    var state = JSON.parse(event.data);
    img.src = state.png;
    var actions = document.getElementById('actions');
    actions.hidden = !state.pdf;
    if (state.pdf) {
      document.getElementById('print').href = state.pdf;
      document.getElementById('download').href = state.pdf + '&download=1';
    }
    document.getElementById('web').href = state.html;
    document.getElementById('large').href = state.large;
    document.getElementById('status').textContent = state.status;
    var list = document.getElementById('problems');
    while (list.firstChild) { list.removeChild(list.firstChild); }
    state.problems.forEach(function (problem) {
      var item = document.createElement('li');
      var where = document.createElement('code');
      where.textContent = problem[0];
      item.appendChild(where);
      item.appendChild(document.createTextNode(' ' + problem[1]));
      list.appendChild(item);
    });
    document.body.dataset.version = state.version;
  });
})();
"""


def _problems(result):
    """check's problems, then what stopped the PDF (unless check said it already)."""
    problems = [list(problem) for problem in result["problems"]]
    error = result["error"]
    if error and error not in {f"{where}: {message}" for where, message in problems}:
        where, _, message = error.partition(": ") if re.match(r"^\S+:\d+: ", error) else ("", "", error)
        problems.append([where, message])
    return problems


def _jinja():
    import jinja2

    return jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True)


def create_app(project, clinics_dir=None, watch=False, prerender=False, allowed_hosts=None):
    """The Starlette application for ``project``."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
    from starlette.routing import Route

    service = Service(project, clinics_dir, watch=watch, prerender=prerender)
    env = _jinja()
    page = env.from_string(_PAGE)
    index_template = env.from_string(_INDEX)
    locale_template = env.from_string(_LOCALE)

    class Refused(Exception):
        def __init__(self, status, text):
            super().__init__(text)
            self.status = status
            self.text = text

    def query(request, allow=QUERY_KEYS):
        """paper and clinic from the query string, refused unless known."""
        params = request.query_params
        for name in params.keys():
            if name not in allow:
                raise Refused(400, f"unknown parameter {name[:40]!r}")
        paper = params.get("paper", "auto")
        if paper not in PAPERS and paper != "auto":
            raise Refused(400, "paper must be a4 or letter")
        clinic = params.get("clinic", "")
        if clinic and clinic not in service.clinics():
            raise Refused(404, "no such clinic profile")
        return paper, clinic

    def known_code(request):
        code = request.path_params["code"]
        if code not in service.codes():
            raise Refused(404, "no such locale")
        return code

    def html_page(title, body, request, clinic="", script=False):
        clinic_query = "?" + urlencode({"clinic": clinic}) if clinic else ""
        return Response(page.render(title=title, body=Markup(body), script=script, clinic_query=clinic_query),
                        media_type="text/html; charset=utf-8")

    def urls(code, paper, clinic, key):
        params = {"paper": paper}
        if clinic:
            params["clinic"] = clinic
        params["v"] = key[:16]
        tail = "?" + urlencode(params)
        return {"png": f"/l/{code}/preview.png{tail}", "pdf": f"/l/{code}/handout.pdf{tail}",
                "html": f"/l/{code}/handout.html{tail}", "large": f"/l/{code}/large.pdf{tail}"}

    def status_text(result):
        if result["error"]:
            return "Not printable: " + result["error"]
        problems = len(result["problems"])
        if problems:
            return f"{problems} problem(s); the page shows English where the translation is missing." \
                if result["draft"] else f"{problems} problem(s)."
        return f"No problems: fits one {PAPER_NAMES.get(result['paper'], result['paper'])} page."

    async def index(request):
        _paper, clinic = query(request, {"clinic"})
        rows = await service.index_rows()

        def fit(code, paper):
            result = service.cached(code, paper, clinic)
            if result is None:
                return "not checked yet"
            return "yes" if result["pages"] == 1 else ("no" if result["pages"] else "cannot render")

        def review(row):
            if row["review"] == "source":
                return "source text"
            if row["review"] == "reviewed":
                return f"reviewed by {row['reviewed_by']}" if row["reviewed_by"] else "reviewed"
            return "not reviewed"

        clinic_query = "?" + urlencode({"clinic": clinic}) if clinic else ""
        body = index_template.render(rows=rows, clinics=_clinic_labels(), clinic=clinic,
                                     clinic_query=clinic_query, fit=fit, review=review)
        return html_page("Patient handouts · nkhandout", body, request, clinic)

    def _clinic_labels():
        return [(name, service.clinic_label(name)) for name in service.clinics()]

    async def locale(request):
        code = known_code(request)
        paper, clinic = query(request, {"paper", "clinic"})
        key, result = await service.rendered(code, paper, clinic)
        shown = urls(code, paper, clinic, key)
        from . import locales

        info = locales.info(code)
        labels = dict(_clinic_labels())

        def link(**change):
            params = {"paper": paper, "clinic": clinic}
            params.update(change)
            params = {k: v for k, v in params.items() if v and v != "auto"}
            return f"/l/{code}" + ("?" + urlencode(params) if params else "")

        width, height = ((893, 1263) if result["paper"] == "a4" else (918, 1188))
        events = f"/l/{code}/events" + ("?" + urlencode({k: v for k, v in (("paper", paper), ("clinic", clinic))
                                                         if v and v != "auto"})
                                        if (paper != "auto" or clinic) else "")
        body = locale_template.render(
            lang=info.lang_tag, dir=info.direction, native=info.native_name,
            english=info.locale.get_display_name("en") or code, papers=PAPERS, paper_names=PAPER_NAMES,
            paper=result["paper"], clinics=_clinic_labels(), clinic=clinic, clinic_label=labels.get(clinic, ""),
            link=link, pdf_url=shown["pdf"] if result["pdf"] else "", html_url=shown["html"],
            large_url=shown["large"],
            png_url=shown["png"], problems=_problems(result),
            status=status_text(result), width=width, height=height,
            events_url=events if service.watch else "", watch=service.watch, clinic_query=(
                "?" + urlencode({"clinic": clinic}) if clinic else ""))
        return html_page(f"{info.locale.get_display_name('en')} handout · nkhandout", body, request, clinic,
                         script=service.watch)

    async def _artefact(request):
        code = known_code(request)
        paper, clinic = query(request)
        _key, result = await service.rendered(code, paper, clinic)
        return code, paper, clinic, result

    async def preview(request):
        _code, _paper, _clinic, result = await _artefact(request)
        if result["png"] is None:
            raise Refused(404, "no preview: " + (result["error"] or "not rendered"))
        return Response(result["png"], media_type="image/png", headers={"Cache-Control": "no-cache"})

    async def pdf(request):
        code, _paper, clinic, result = await _artefact(request)
        if result["pdf"] is None:
            raise Refused(404, "no PDF: " + (result["error"] or "not rendered"))

        name = f"{batch.handout_name(project) or 'handout'}.{code}" + (f".{clinic}" if clinic else "") + ".pdf"
        how = "attachment" if request.query_params.get("download") else "inline"
        return Response(result["pdf"], media_type="application/pdf",
                        headers={"Content-Disposition": f'{how}; filename="{name}"',
                                 "Content-Security-Policy": PDF_CSP, "Cache-Control": "no-cache"})

    async def large_pdf(request):
        code = known_code(request)
        paper, clinic = query(request)
        _key, result = await service.rendered(code, paper, clinic, kind="large")
        if result["pdf"] is None:
            raise Refused(404, "no large-print PDF: " + (result["error"] or "not rendered"))

        name = (f"{batch.handout_name(project) or 'handout'}.{code}" + (f".{clinic}" if clinic else "")
                + ".large.pdf")
        how = "attachment" if request.query_params.get("download") else "inline"
        return Response(result["pdf"], media_type="application/pdf",
                        headers={"Content-Disposition": f'{how}; filename="{name}"',
                                 "Content-Security-Policy": PDF_CSP, "Cache-Control": "no-cache"})

    async def web_page(request):
        _code, _paper, _clinic, result = await _artefact(request)
        if result["html"] is None:
            raise Refused(404, "no web page: " + (result["error"] or "not rendered"))
        from . import htmlout

        return Response(result["html"], media_type="text/html; charset=utf-8",
                        headers={"Content-Security-Policy": htmlout.page_csp(result["html"])
                                 + "; frame-ancestors 'none'"})

    async def state(request):
        code = known_code(request)
        paper, clinic = query(request)
        key, result = await service.rendered(code, paper, clinic)
        return JSONResponse(_state(code, paper, clinic, key, result))

    def _state(code, paper, clinic, key, result):
        shown = urls(code, paper, clinic, key)
        return {"version": service.version, "key": key[:16], "png": shown["png"] if result["png"] else "",
                "pdf": shown["pdf"] if result["pdf"] else "", "html": shown["html"], "large": shown["large"],
                "problems": _problems(result),
                "status": status_text(result)}

    async def events(request):
        if not service.watch:
            raise Refused(404, "live updates are off (serve --watch)")
        code = known_code(request)
        paper, clinic = query(request, {"paper", "clinic"})

        async def stream():
            seen = service.version
            changed = service.changed
            assert changed is not None  # the service started with the app
            yield "retry: 1000\n\n"
            while True:
                async with changed:
                    try:
                        await asyncio.wait_for(changed.wait_for(lambda: service.version != seen), 15)
                    except asyncio.TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                seen = service.version
                if clinic and clinic not in service.clinics():
                    return
                if code not in service.codes():
                    return
                try:
                    key, result = await service.rendered(code, paper, clinic)
                except BrokenProcessPool:
                    continue
                if service.version != seen:
                    continue  # changed again while rendering: render the newest
                yield "event: update\ndata: " + json.dumps(_state(code, paper, clinic, key, result)) + "\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def css(_request):
        return Response(_CSS, media_type="text/css; charset=utf-8", headers={"Cache-Control": "max-age=3600"})

    async def no_icon(_request):
        return Response(status_code=204)

    async def js(_request):
        return Response(_JS, media_type="text/javascript; charset=utf-8")

    routes = [
        Route("/", index),
        Route("/app.css", css),
        Route("/app.js", js),
        Route("/favicon.ico", no_icon),
        Route("/l/{code}", locale),
        Route("/l/{code}/preview.png", preview),
        Route("/l/{code}/handout.pdf", pdf),
        Route("/l/{code}/handout.html", web_page),
        Route("/l/{code}/large.pdf", large_pdf),
        Route("/l/{code}/state.json", state),
        Route("/l/{code}/events", events),
    ]

    async def refused(_request, error):
        return PlainTextResponse(error.text, status_code=error.status)

    async def broken(_request, _error):
        return PlainTextResponse("the renderer stopped; try again", status_code=503)

    async def not_found(_request, _error):
        return PlainTextResponse("not found", status_code=404)

    @asynccontextmanager
    async def lifespan(_app):
        service.start()
        try:
            yield
        finally:
            await service.stop()

    middleware = [Middleware(_Headers)]
    if allowed_hosts:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts))
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                    exception_handlers={Refused: refused, BrokenProcessPool: broken, 404: not_found,
                                        405: not_found})
    app.state.service = service
    return app


class _Headers:
    """Every response: a strict CSP (unless the route set its own), no sniffing,
    no referrer; GET and HEAD only; long query strings refused."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        refuse = None
        if scope["method"] not in ("GET", "HEAD"):
            refuse = (405, b"read-only: GET and HEAD only")
        elif len(scope.get("query_string", b"")) > MAX_QUERY:
            refuse = (400, b"query string too long")
        elif len(scope.get("path", "")) > MAX_QUERY:
            refuse = (404, b"not found")

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])]
                names = {k.lower() for k, _v in headers}
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", APP_CSP.encode()))
                headers += [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                            (b"cross-origin-resource-policy", b"same-origin"), (b"x-frame-options", b"DENY")]
                message = dict(message, headers=headers)
            await send(message)

        if refuse is not None:
            from starlette.responses import PlainTextResponse

            response = PlainTextResponse(refuse[1].decode(), status_code=refuse[0])
            return await response(scope, receive, send_with_headers)
        return await self.app(scope, receive, send_with_headers)


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(project: Project, host: str = "127.0.0.1", port: int = 8000, clinics_dir: Path | str | None = None,
          watch: bool = False, prerender: bool = True, log: Callable[[str], object] = print) -> None:
    """Run the app until interrupted."""
    import uvicorn

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host.strip("[]"), port))
    except OSError as error:
        raise HandoutError(f"cannot listen on {host}:{port}: {error.strerror or error}",
                           hint="is it already running? choose another --port") from None
    allowed = ["127.0.0.1", "localhost", "::1", "[::1]"] if is_loopback(host) else None
    app = create_app(project, clinics_dir, watch=watch, prerender=prerender, allowed_hosts=allowed)
    shown = f"[{host}]" if ":" in host else host
    log(f"serving {project.root.name} on http://{shown}:{port}/" + (" (watching for changes)" if watch else "")
        + "; Ctrl+C stops")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False,
                timeout_graceful_shutdown=2, server_header=False, h11_max_incomplete_event_size=16 * 1024)
