"""`nkhandout serve` in a real browser: Debian's Chromium driven by Playwright.

Skipped only where Chromium cannot start (the reason is given), and never
under CI (CI=true), where `make setup` has installed it. NKHANDOUT_CHROMIUM names another Chromium binary. With
NKHANDOUT_SCREENSHOTS=1 the README's screenshots in docs/ are taken again.
"""

import os
import re
import shutil
import statistics
import time

import pytest

from tests import pdfutil
from tests.conftest import SHIPPED
from tests.webutil import ROOT, Server

CHROMIUM = os.environ.get("NKHANDOUT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
SAVE_LATENCY = 2.0  # seconds from a catalog save to the new page in the browser


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as error:
        if os.environ.get("CI"):
            pytest.fail(f"Playwright is not installed ({error})")
        pytest.skip(f"Playwright is not installed ({error}); run make setup")
    manager = sync_playwright().start()
    try:
        # The renderer hides the system's fonts from this process (FONTCONFIG_FILE,
        # see render.isolate_fonts); the browser must see them.
        env = {k: v for k, v in os.environ.items() if k != "FONTCONFIG_FILE"}
        chromium = manager.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=30000, env=env)
    except Error as error:
        manager.stop()
        reason = f"Chromium cannot start ({CHROMIUM}): {str(error).splitlines()[0]}"
        if os.environ.get("CI"):  # CI installs Chromium (make setup): never skip there
            pytest.fail(reason)
        pytest.skip(reason)
    yield chromium
    chromium.close()
    manager.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = Server(tmp_path_factory.mktemp("browser"), watch=True, prerender=True)
    yield running
    running.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.requests = requests
    yield page
    context.close()


def screenshot(page, name, **options):
    """Save a screenshot for the README (NKHANDOUT_SCREENSHOTS=1), or to a throw-away place."""
    target = ROOT / "docs" / name if os.environ.get("NKHANDOUT_SCREENSHOTS") else None
    if target is not None:
        target.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(target), **options)
    return page.screenshot(**options)


def image_loaded(page, selector="#preview"):
    return page.eval_on_selector(selector, "img => img.complete && img.naturalWidth > 0")


def test_nurse_prints_the_spanish_sheet_with_her_clinic_in_three_clicks(page, server, tmp_path):
    deadline = time.monotonic() + 240
    while True:  # the server checks every locale on both papers in the background
        page.goto(server.url + "/")
        if "not checked yet" not in page.content() or time.monotonic() > deadline:
            break
        page.wait_for_timeout(500)
    assert page.locator("h1").inner_text() == "Patient handouts"
    fits = page.locator("tbody td:nth-child(6), tbody td:nth-child(7)").all_inner_texts()
    assert fits == ["yes"] * (2 * len(SHIPPED)), fits
    screenshot(page, "serve.png")
    page.get_by_role("link", name="Harbour Women's Clinic & Fertility").click()   # 1: her clinic
    page.get_by_role("link", name="español").click()                    # 2: the language
    # a function, not an expression: Playwright polls an expression with eval(),
    # which the app's Content-Security-Policy (rightly) refuses
    page.wait_for_function("() => document.getElementById('preview').complete && "
                           "document.getElementById('preview').naturalWidth > 0")
    assert image_loaded(page)
    alt = page.get_attribute("#preview", "alt")
    assert "Spanish" in alt and "A4" in alt and "Harbour Women's Clinic & Fertility" in alt
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download PDF").click()           # 3: the PDF
    path = tmp_path / "sheet.pdf"
    download_info.value.save_as(path)
    assert download_info.value.suggested_filename.endswith(".es.harbour.pdf")
    assert pdfutil.page_count(path) == 1
    assert pdfutil.info(path)["lang"] == "es"
    assert "+34 910 555 777" in pdfutil.text(path)
    assert all(url.startswith(server.url + "/") for url in page.requests), page.requests
    screenshot(page, "preview.png", full_page=True)


def _title_edit(po_path, old, new):
    text = po_path.read_text("utf-8")
    assert f'msgstr "{old}"' in text
    po_path.write_text(text.replace(f'msgstr "{old}"', f'msgstr "{new}"'), "utf-8")


def test_translator_sees_each_save_within_two_seconds(page, server, tmp_path):
    po = server.project.catalog_file("fr")
    original = po.read_text("utf-8")
    title = re.search(r'msgctxt "title"\nmsgid "[^"]*"\nmsgstr "([^"]*)"', original).group(1)
    page.goto(server.url + "/l/fr")
    page.wait_for_function("() => document.getElementById('preview').naturalWidth > 0")
    page.wait_for_timeout(300)  # the event stream is open
    latencies = []
    try:
        for attempt in range(5):
            before = page.get_attribute("#preview", "src")
            # each edit keeps the glossary's agreed words, so the only problem is the one planted below
            new_title = f"Cellules NK et fausses couches répétées, version {attempt}"
            start = time.monotonic()
            _title_edit(po, title, new_title)
            page.wait_for_function(
                "old => { const img = document.getElementById('preview');"
                " return img.getAttribute('src') !== old && img.complete && img.naturalWidth > 0; }",
                arg=before, timeout=SAVE_LATENCY * 1000)
            latencies.append(time.monotonic() - start)
            title = new_title
            pdf_url = page.get_attribute("#download", "href")
            response = page.request.get(server.url + pdf_url)
            path = tmp_path / f"fr{attempt}.pdf"
            path.write_bytes(response.body())
            assert new_title in pdfutil.text(path)
        # a broken translation: the page shows check's problem with file and line
        before = page.get_attribute("#preview", "src")
        text = po.read_text("utf-8")
        lines = text.split("\n")
        entry = range(lines.index('msgctxt "title"') + 1, lines.index(f'msgstr "{title}"') + 2)
        po.write_text(text.replace(f'msgstr "{title}"', f'msgstr "{title} {{{{ x }}}}"'), "utf-8")
        page.wait_for_function("old => document.getElementById('preview').getAttribute('src') !== old",
                               arg=before, timeout=SAVE_LATENCY * 1000)
        problems = page.locator("#problems li").all_inner_texts()
        assert len(problems) == 1, problems
        where = re.match(r"content/topics/nk-cells/locales/fr\.po:(\d+) title: contains template code", problems[0])
        assert where and int(where.group(1)) in entry, problems
        assert page.locator("#actions").is_hidden()  # nothing to print while it is broken
    finally:
        po.write_text(original, "utf-8")
    print(f"\nsave-to-page latency over {len(latencies)} saves: median {statistics.median(latencies):.2f} s, "
          f"max {max(latencies):.2f} s")
    assert max(latencies) < SAVE_LATENCY


AXE_PAGES = ["/", "/l/es?clinic=harbour", "/l/ar", "/l/en/handout.html?clinic=harbour",
             "/l/ar/handout.html", "/l/zh_Hans/handout.html"]


@pytest.mark.parametrize("path", AXE_PAGES)
def test_no_serious_accessibility_violations(browser, server, path):
    from axe_playwright_python.sync_playwright import Axe

    # The pages' policy forbids scripts they do not carry; axe is the test's own.
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    try:
        page.goto(server.url + path)
        results = Axe().run(page)
        bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
               for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
        assert not bad, bad
        assert results.response["testEngine"]["name"] == "axe-core"  # axe really ran
    finally:
        context.close()


def test_handout_web_page_narrow_screen_has_no_sideways_scroll(browser, server):
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    try:
        for code in ("de", "ar", "ko"):
            page.goto(server.url + f"/l/{code}/handout.html?clinic=harbour")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 360, (code, width)
    finally:
        context.close()


def test_static_site_index_is_accessible_and_loads_only_its_own_files(browser, server, tmp_path):
    from axe_playwright_python.sync_playwright import Axe

    from nkhandout import site

    count, failures = site.build_site(server.project, tmp_path / "site", jobs=1)
    assert count == len(SHIPPED) and not failures
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    try:
        page.goto((tmp_path / "site" / "index.html").as_uri())
        assert page.eval_on_selector_all("img", "imgs => imgs.every(i => i.complete && i.naturalWidth > 0)")
        results = Axe().run(page)
        bad = [(v["id"], v["impact"]) for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
        assert not bad, bad
        assert all(url.startswith((tmp_path / "site").as_uri()) for url in requests), requests
    finally:
        context.close()
