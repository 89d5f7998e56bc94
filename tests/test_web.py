"""The handout as a web page (build --format html) and the `serve` app, in-process."""

import base64
import hashlib
import re
from html.parser import HTMLParser

import pytest

from conftest import files_in


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


def write_profile(folder, stem="clinic", **values):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.toml"
    path.write_text("".join(f'{k} = "{v}"\n' for k, v in values.items()), "utf-8")
    return path


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
