"""The handout as a web page (build --format html) and the `serve` app, in-process."""

import base64
import hashlib
import re
from html.parser import HTMLParser

import pytest

from tests.conftest import files_in, write_profile


class Page(HTMLParser):
    """The parts of an HTML page the tests look at."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.root = {}
        self.tags = []
        self.attrs = []  # (tag, name, value)
        self.meta = {}
        self.styles = []
        self.scripts = 0
        self._in_style = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "html":
            self.root = dict(attrs)
        if tag == "meta":
            attrs_ = dict(attrs)
            key = attrs_.get("http-equiv") or attrs_.get("name")
            if key:
                self.meta[key.lower()] = attrs_.get("content", "")
        if tag == "style":
            self._in_style = True
            self.styles.append("")
        if tag == "script":
            self.scripts += 1
        self.attrs += [(tag, name, value or "") for name, value in attrs]

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles[-1] += data


@pytest.fixture
def pages(cli, out, tmp_path):
    """en, ar and zh_Hans as web pages, with a clinic whose name holds markup."""
    profile = write_profile(tmp_path / "clinics", "hostile", name="Dr <b>Smith</b> & Co",
                            phone="+44 20 7946 0000", website="https://example.org/x")
    result = cli("build", "--lang", "en", "--lang", "ar", "--lang", "zh-Hans", "--format", "html",
                 "--clinic", str(profile), "--out", str(out))
    assert result.exit_code == 0, result.output
    folder = out / "hostile"
    assert files_in(folder) == sorted(f"nk-cells-recurrent-miscarriage.{c}.html" for c in ("en", "ar", "zh_Hans"))
    assert files_in(out) == ["hostile"]  # no PDF: only the web pages were asked for
    return {p.name.split(".")[-2]: p.read_text("utf-8") for p in folder.iterdir()}


@pytest.mark.parametrize("code, lang, direction", [("en", "en", "ltr"), ("ar", "ar", "rtl"),
                                                   ("zh_Hans", "zh-Hans", "ltr")])
def test_web_page_has_language_direction_and_structure(pages, code, lang, direction):
    page = Page(pages[code])
    assert page.root == {"lang": lang, "dir": direction}
    assert page.tags.count("h1") == 1 and page.tags.count("h2") >= 4
    assert "ul" in page.tags and "li" in page.tags
    assert "ol" in page.tags  # references are a numbered list
    assert "width=device-width" in page.meta["viewport"]


@pytest.mark.parametrize("code", ["en", "ar", "zh_Hans"])
def test_web_page_loads_nothing_and_its_policy_allows_only_its_own_style(pages, code):
    text = pages[code]
    page = Page(text)
    for tag, name, value in page.attrs:
        if name in ("src", "href", "srcset", "action", "poster", "data"):
            assert value.startswith("data:"), (tag, name, value[:80])
    assert not re.search(r"url\(|@import", "".join(page.styles), re.IGNORECASE)
    assert page.scripts == 0 and "<link" not in text
    policy = page.meta["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    (style,) = page.styles
    digest = base64.b64encode(hashlib.sha256(style.encode("utf-8")).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in policy


def test_clinic_text_is_escaped_in_the_web_page(pages):
    text = pages["en"]
    assert "Dr &lt;b&gt;Smith&lt;/b&gt; &amp; Co" in text
    assert "<b>Smith" not in text
    assert "+44 20 7946 0000" in text
    assert 'src="data:image/svg+xml;base64,' in text  # the QR code, inline


def test_inline_styles_the_template_writes_are_allowed_by_hash_and_nothing_else(cli, project, out):
    """Figures in the template (inline SVG, say) may carry style attributes and
    <style> elements; the page's policy allows exactly those."""
    template = project.templates_dir / "handout.html.j2"
    text = template.read_text("utf-8")
    figure = ('<svg role="img" aria-label="7 of 20" viewBox="0 0 10 10"><style>rect { fill: #0b3b60; }</style>'
              '<rect style="opacity: 0.5" width="10" height="10"/></svg>')
    template.write_text(text.replace("</header>", figure + "</header>", 1), "utf-8")
    result = cli("build", "--lang", "en", "--format", "html", "--out", str(out))
    assert result.exit_code == 0, result.output
    page = Page((out / "nk-cells-recurrent-miscarriage.en.html").read_text("utf-8"))
    policy = page.meta["content-security-policy"]
    allowed = set(re.findall(r"'sha256-([^']+)'", policy))

    def digest(value):
        return base64.b64encode(hashlib.sha256(value.encode("utf-8")).digest()).decode()

    # The template's own write-in block sets its ruled lines' height inline: allowed too, by hash.
    lines = {value for tag, name, value in page.attrs if tag == "div" and name == "style"}
    assert lines and all(re.fullmatch(r"height: \d+mm", value) for value in lines), lines
    assert allowed == {digest(page.styles[0]), digest("rect { fill: #0b3b60; }"), digest("opacity: 0.5"),
                       *(digest(value) for value in lines)}
    assert "'unsafe-hashes'" in policy and "unsafe-inline" not in policy


def test_pdf_and_html_together(cli, out):
    result = cli("build", "--lang", "es", "--format", "pdf", "--format", "html", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert files_in(out) == ["nk-cells-recurrent-miscarriage.es.html", "nk-cells-recurrent-miscarriage.es.pdf"]
    assert "built 2," in result.output


def test_a_stylesheet_that_would_load_something_is_refused(cli, project, out):
    css = project.templates_dir / "screen.css"
    css.write_text(css.read_text("utf-8") + "\nbody { background: url(https://example.org/x.png); }\n", "utf-8")
    result = cli("build", "--lang", "en", "--format", "html", "--out", str(out))
    assert result.exit_code == 1
    assert "templates/screen.css:" in result.output and "url(" in result.output
    assert "Traceback" not in result.output
    assert files_in(out) == []


# -- nkhandout serve --------------------------------------------------------

import threading  # noqa: E402
import time  # noqa: E402

from tests import pdfutil  # noqa: E402
from tests.conftest import SHIPPED  # noqa: E402
from tests.webutil import Server  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = Server(tmp_path_factory.mktemp("serve"))
    yield running
    running.stop()


def test_index_lists_every_locale_with_names_and_review(server):
    status, headers, body = server.get("/")
    assert status == 200
    text = body.decode()
    page = Page(text)
    links = {value for tag, name, value in page.attrs if tag == "a" and name == "href"}
    for code in SHIPPED:
        assert f"/l/{code}" in links
    for native, english in [("español", "Spanish"), ("العربية", "Arabic"), ("中文 (简体)", "Chinese (Simplified)"),
                            ("Deutsch", "German"), ("English", "English")]:
        assert f">{native}</a>" in text and f"<td>{english}</td>" in text
    assert "source text" in text and "not reviewed" in text
    assert "/?clinic=harbour" in links
    assert "default-src 'none'" in headers["content-security-policy"]


def test_spanish_with_a_clinic_prints_one_page_with_its_phone(server, tmp_path):
    status, _headers, body = server.get("/l/es?clinic=harbour")
    assert status == 200
    page = Page(body.decode())
    hrefs = {value for tag, name, value in page.attrs if name in ("href", "src")}
    pdf_url = next(h for h in hrefs if h.startswith("/l/es/handout.pdf") and "download" not in h)
    png_url = next(h for h in hrefs if h.startswith("/l/es/preview.png"))
    status, headers, pdf = server.get(pdf_url)
    assert status == 200 and headers["content-type"] == "application/pdf"
    assert "content-security-policy" in headers
    path = tmp_path / "es.pdf"
    path.write_bytes(pdf)
    assert pdfutil.page_count(path) == 1
    assert pdfutil.info(path)["lang"] == "es"
    assert [round(x) for x in pdfutil.info(path)["mediabox"][2:]] == [595, 842]  # ES clinic: A4
    assert "+34 910 555 777" in pdfutil.text(path)
    status, headers, png = server.get(png_url)
    assert status == 200 and headers["content-type"] == "image/png" and png.startswith(b"\x89PNG")
    status, headers, web = server.get(png_url.replace("preview.png", "handout.html"))
    assert status == 200 and "style-src 'sha256-" in headers["content-security-policy"]
    assert "Harbour Women&#39;s Clinic &amp; Fertility" in web.decode()


def test_letter_paper_and_download(server, tmp_path):
    status, headers, pdf = server.get("/l/en/handout.pdf?paper=letter&download=1")
    assert status == 200 and headers["content-disposition"].startswith("attachment;")
    path = tmp_path / "en.pdf"
    path.write_bytes(pdf)
    assert [round(x) for x in pdfutil.info(path)["mediabox"][2:]] == [612, 792]


def test_large_print_from_the_locale_page(server, tmp_path):
    status, _headers, body = server.get("/l/ru?clinic=harbour")
    assert status == 200
    page = Page(body.decode())
    url = next(v for t, n, v in page.attrs if n == "href" and v.startswith("/l/ru/large.pdf"))
    status, headers, pdf = server.get(url)
    assert status == 200 and headers["content-type"] == "application/pdf"
    assert headers["content-disposition"].endswith('.ru.harbour.large.pdf"')
    path = tmp_path / "large.pdf"
    path.write_bytes(pdf)
    assert pdfutil.page_count(path) == 2 and pdfutil.info(path)["lang"] == "ru"
    import pypdfium2

    document = pypdfium2.PdfDocument(str(path))
    text = "".join(page.get_textpage().get_text_range() for page in document)
    document.close()
    assert "+34 910 555 777" in text  # the clinic's box, in large print too


HOSTILE = [
    "/l/es/large.pdf?clinic=../harbour",
    "/l/../large.pdf",
    "/l/../../etc/passwd",
    "/l/..%2f..%2f..%2fetc%2fpasswd",
    "/l/%2e%2e/%2e%2e/pyproject.toml",
    "/l/es/../../../content/topics/nk-cells/locales/es.po",
    "/l/es%2f..%2f..%2fcontent%2flocales%2fes.po/preview.png",
    "/l/..%5c..%5cpyproject.toml/handout.pdf",
    "/l/es/preview.png?clinic=../../clinics/harbour",
    "/l/es/handout.pdf?clinic=..%2fharbour",
    "/l/es/handout.pdf?clinic=%2fetc%2fpasswd",
    "/l/es/handout.html?clinic=harbour.toml",
    "/l/es?paper=..%2f..%2fetc%2fpasswd",
    "/l/es/preview.png?paper=A4%00",
    "/l/es/events?clinic=../harbour",
    "/l/es/state.json?paper=legal",
    "/l/ES",
    "/l/es_ES/handout.pdf",
    "/l/xx/preview.png",
    "/l/es%00/preview.png",
    "/l/es?lang=../../etc/passwd",
    "/content/topics/nk-cells/locales/es.po",
    "/templates/print.css",
    "/static/../pyproject.toml",
    "//etc/passwd",
    "/l/es?" + "a=1&" * 400,
    "/l/es/preview.png?clinic=" + "x" * 5000,
    "/?clinic=" + "%2e" * 3000,
]


@pytest.mark.parametrize("path", HOSTILE)
def test_hostile_requests_get_an_error_and_never_a_file(server, path):
    status, headers, body = server.get(path)
    assert status in (400, 404, 405), (path, status)
    assert len(body) < 200
    for secret in (b"root:", b"msgid", b"[project]", b"%PDF", b"\x89PNG", b"name ="):
        assert secret not in body
    assert "default-src 'none'" in headers.get("content-security-policy", ""), path


def test_only_get_and_head(server):
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("POST", "/l/es", body=b"x=1")
    response = connection.getresponse()
    assert response.status == 405 and response.getheader("content-security-policy")
    connection.close()


def test_other_host_names_are_refused_on_loopback(server):
    """No DNS rebinding: a page on another site cannot reach the app through a name it controls."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", "/", headers={"Host": "attacker.example"})
    response = connection.getresponse()
    assert response.status == 400 and b"Patient handouts" not in response.read()
    connection.close()
    assert server.get("/")[0] == 200


def _hammer(port, path, count, out):
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    statuses = []
    for _ in range(count):
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        statuses.append((response.status, len(body)))
    connection.close()
    out.put(statuses)


def test_many_concurrent_requests_from_another_process(server):
    """8 connections x 40 requests from a second process, on 127.0.0.1 only."""
    import multiprocessing

    path = "/l/en/preview.png?paper=a4"
    status, _headers, png = server.get(path)
    assert status == 200
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    workers = [context.Process(target=_hammer, args=(server.port, path, 40, out)) for _ in range(8)]
    start = time.monotonic()
    for worker in workers:
        worker.start()
    results = [out.get(timeout=240) for _ in workers]
    for worker in workers:
        worker.join(10)
    elapsed = time.monotonic() - start
    flat = [item for statuses in results for item in statuses]
    assert len(flat) == 320 and set(flat) == {(200, len(png))}
    assert elapsed < 30


def test_a_port_in_use_is_one_line(cli):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = cli("serve", "--port", str(port), "--no-watch")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"nkhandout: cannot listen on 127.0.0.1:{port}: Address already in use "
        "(is it already running? choose another --port)"]


def test_another_host_gets_a_warning(cli):
    """--host other than this machine warns (the port is taken, so nothing listens)."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = cli("serve", "--host", "0.0.0.0", "--port", str(port), "--no-watch")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[0].startswith(f"nkhandout: warning: offering the app to every machine that can reach 0.0.0.0:{port}")
    assert "no login" in lines[0] and "cannot listen" in lines[1]


def test_header_too_large_is_refused(server):
    status, _headers, _body = server.get("/" + "a" * 70000)
    assert status in (400, 404, 414, 431)


def test_stays_responsive_while_rendering(server):
    """A render runs in the worker process; the server answers meanwhile."""
    done = {}

    def render():
        start = time.monotonic()
        done["status"] = server.get("/l/de/preview.png?paper=letter&clinic=harbour")[0]
        done["seconds"] = time.monotonic() - start

    thread = threading.Thread(target=render)
    thread.start()
    time.sleep(0.05)
    latencies = []
    while thread.is_alive() and len(latencies) < 200:
        start = time.monotonic()
        assert server.get("/app.css")[0] == 200
        latencies.append(time.monotonic() - start)
    thread.join()
    assert done["status"] == 200
    assert latencies, "the render finished before any other request"
    assert max(latencies) < 0.5, (max(latencies), done["seconds"])


# -- nkhandout site ---------------------------------------------------------


def test_site_lists_every_locale_with_pdf_web_page_and_picture(cli, tmp_path):
    from PIL import Image

    out = tmp_path / "site"
    result = cli("site", str(out))
    assert result.exit_code == 0, result.output
    assert f"site of {len(SHIPPED)} handout(s)" in result.output
    text = (out / "index.html").read_text("utf-8")
    page = Page(text)
    links = [value for tag, name, value in page.attrs if name in ("href", "src")]
    for code in SHIPPED:
        for suffix in ("pdf", "html", "png"):
            assert f"nk-cells-recurrent-miscarriage.{code}.{suffix}" in links
    for link in links:
        assert not re.match(r"[a-z]+:|/|\.\.", link), link  # relative, inside the site
        assert (out / link).is_file()
    with Image.open(out / "nk-cells-recurrent-miscarriage.ar.png") as image:
        assert image.width <= 220 and image.height > image.width
    assert pdfutil.page_count(out / "nk-cells-recurrent-miscarriage.zh_Hans.pdf") == 1
    assert "img-src 'self'" in page.meta["content-security-policy"]
    assert ">العربية</span>" in text and "(Arabic)" in text
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.suffix in (".pdf", ".png")}
    again = cli("site", str(out))
    assert again.exit_code == 0, again.output
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.suffix in (".pdf", ".png")} == stamps  # PDFs and pictures kept


def test_qr_code_image_is_a_standalone_svg_a_browser_draws(pages):
    """A data: URI image is a document of its own: without the SVG namespace browsers show only its alt text."""
    page = Page(pages["en"])
    (uri,) = [value for tag, name, value in page.attrs
              if tag == "img" and name == "src" and value.startswith("data:image/svg+xml;base64,")]
    svg = base64.b64decode(uri.split(",", 1)[1]).decode("utf-8")
    assert re.match(r'<svg xmlns="http://www.w3.org/2000/svg"[ >]', svg), svg[:80]


def test_site_never_blocks_on_a_pipe_left_as_a_page_picture(cli, project, tmp_path):
    # The picture of an unchanged PDF is reused; one that is a pipe (or a
    # link) is never opened, and is made again in its place.
    import os
    import stat
    import subprocess
    import sys

    from tests.conftest import FONTS

    out = tmp_path / "site"
    assert cli("site", str(out)).exit_code == 0
    picture = out / "nk-cells-recurrent-miscarriage.en.png"
    picture.unlink()
    os.mkfifo(picture)
    env = dict(os.environ, NKHANDOUT_ROOT=str(project.root), NKHANDOUT_FONTS=str(FONTS))
    again = subprocess.run([sys.executable, "-m", "nkhandout", "site", str(out)], env=env,
                           capture_output=True, text=True, timeout=240)
    assert again.returncode == 0, again.stderr
    assert stat.S_ISREG(picture.lstat().st_mode)


def test_a_render_the_worker_cannot_stop_is_killed_from_outside(project, monkeypatch):
    # The worker's own alarm only covers renders; whatever swallows it (here a
    # call with no alarm at all) is stopped by the server, which then starts
    # a fresh worker for the next request.
    import asyncio
    import time as clock
    from concurrent.futures.process import BrokenProcessPool

    from nkhandout import web

    monkeypatch.setenv("NKHANDOUT_TIMEOUT", "1")

    async def scenario():
        service = web.Service(project)
        service.start()
        try:
            started = clock.monotonic()
            with pytest.raises(BrokenProcessPool, match="longer than 1 s"):
                await service._call(clock.sleep, 60)
            stopped = clock.monotonic() - started
            assert await service._call(abs, -3) == 3  # a new worker answers
            return stopped
        finally:
            await service.stop()

    assert asyncio.run(scenario()) < 20
