"""Korean words stay whole on the printed page (keep_words in templates/fonts.toml).

WeasyPrint breaks a line between any two Hangul syllables; Korean breaks
between words. The printed page puts a word joiner (U+2060) between each two
characters of a Korean word (markup.join_words): no line breaks inside the
word, the joiner is drawn as nothing and never reaches the PDF's text. The
web page leaves the text as written and asks the browser for
`word-break: keep-all`.
"""

import dataclasses
import html as html_lib
import re
import shutil
import subprocess

import pytest

from nkhandout import build, catalog, clinic as clinic_lib, htmlout, markup, render
from nkhandout.project import Project
from tests import pdfutil
from tests.conftest import FONTS, NK, ROOT, ROOT_TOPICS, catalog_path, write_profile

JOINER = "\u2060"
HANGUL = re.compile(r"[\uac00-\ud7a3]")
CLINIC = ROOT / "examples" / "clinics" / "riverside.toml"
# A Korean clinic: its own lines are Korean text the page must keep whole too.
KOREAN_CLINIC = {
    "name": "서울여성건강의원 반복유산클리닉",
    "department": "산부인과 난임·반복유산 전문진료실",
    "phone": "02-555-0100",
    "address": "서울특별시 송파구 올림픽로43길 88 신관 동편 외래진료동 3층 산부인과 접수창구",
    "note": "다음 진료 때 이 안내문과 지금까지 받으신 혈액검사 결과지를 빠짐없이 가져오시고 접수창구에 먼저 말씀해 주세요.",
}


@pytest.fixture(scope="module")
def renderers():
    """(inputs, renderer) per topic of the shipped project."""
    made = {}
    for topic in ROOT_TOPICS:
        inputs = build.load_inputs(Project.at(ROOT, fonts_dir=FONTS, topic=topic))
        made[topic] = inputs, render.Renderer(inputs.project, inputs.manifest)
    return made


def text_of(html):
    """The text a page's HTML sets in lines: no tags, head, SVG; entities read."""
    body = html[html.find("<body"):]
    body = re.sub(r"<(svg|title|style)\b.*?</\1\s*>", " ", body, flags=re.DOTALL)
    body = re.sub(r"</?(p|li|h1|h2|div|figure|figcaption|section|aside|ul|ol)\b[^>]*>", " ", body)
    return html_lib.unescape(re.sub(r"<[^>]*>", "", body))


def words_of(html):
    """The page's words: its text split at spaces, word joiners dropped."""
    return set(text_of(html).replace(JOINER, "").split())


def line_texts(document):
    """The text of each line box of the page, in order, word joiners dropped."""
    return [line.replace(JOINER, "") for line in pdfutil.line_texts(document)]


def split_words(html, document):
    """Korean pieces of lines that are no whole word of the page: a line broke inside them."""
    words = words_of(html)
    return [(piece, line) for line in line_texts(document) for piece in line.split()
            if HANGUL.search(piece) and piece not in words]


@pytest.mark.parametrize("paper", ["a4", "letter"])
@pytest.mark.parametrize("topic", ROOT_TOPICS)
def test_no_korean_word_is_split_across_lines(renderers, topic, paper, tmp_path):
    inputs, renderer = renderers[topic]
    korean = clinic_lib.load(write_profile(tmp_path, **KOREAN_CLINIC))
    for clinic in (None, clinic_lib.load(CLINIC), korean):
        value, html, document = build.laid_out(inputs, renderer, "ko", build.Options(paper=paper), clinic)
        lines = line_texts(document)
        assert sum(1 for line in lines if HANGUL.search(line)) > 40, lines  # the page was really set
        assert not split_words(html, document), (clinic and clinic.name, split_words(html, document))


def test_long_words_stay_whole(project):
    """Stress: long compound words and a Korean clinic in the box; the
    lines still break only between words (and the words really wrap)."""
    path = catalog_path(project, "ko", "for.item1")
    loaded = catalog.load(path, locale="ko")
    entry = next(m for m in loaded.catalog if m.id and m.context == "for.item1")
    entry.string = ("자궁내막생검조직면역염색검사결과를 반복유산원인불명여성집단과 비교했습니다. "
                    "항인지질항체증후군진단기준을 만족하지않는 여성에게서도 자연살해세포활성도가 "
                    "높게측정되는 경우가 있었습니다\u2060[@dosiou2005].")
    path.write_text(catalog.dump(loaded), "utf-8")
    inputs = build.load_inputs(Project.at(project.root, fonts_dir=FONTS, topic=NK))
    renderer = render.Renderer(inputs.project, inputs.manifest)
    clinic = clinic_lib.load(write_profile(project.root / "clinics", **KOREAN_CLINIC))
    _value, html, document = build.laid_out(inputs, renderer, "ko", build.Options(paper="a4"), clinic)
    lines = line_texts(document)
    assert any("자궁내막생검조직면역염색검사결과를" in line for line in lines), lines
    assert not split_words(html, document)


def test_the_printed_page_joins_korean_words_and_the_web_page_does_not(renderers):
    inputs, renderer = renderers[NK]
    value = build.prepare(inputs, "ko", build.Options(paper="a4"))
    printed = render.to_html(value, renderer.env)
    web = htmlout.to_web_html(value, renderer.env, htmlout.screen_css(inputs.project))
    assert "세\u2060포" in text_of(printed)
    # Title, description and the figures' alternative text are not set in
    # lines: no joiners there (not even the catalogs' own).
    alt = re.findall(r"<title>(.*?)</title>|content=\"([^\"]*)\"", printed)
    assert len(alt) > 5 and not any(JOINER in a + b for a, b in alt), alt
    # The web page carries the text as written (the catalogs' own joiners
    # at a number or a citation marker only), and the browser keeps words.
    assert not re.search(r"[\uac00-\ud7a3]\u2060[\uac00-\ud7a3]", web)
    assert re.search(r":lang\(ko\) \{[^}]*word-break: keep-all;", web)
    # Nothing but joiners was added to the printed page.
    plain = render.to_html(dataclasses.replace(value, keep_words=False), renderer.env)
    assert printed.replace(JOINER, "") == plain.replace(JOINER, "")
    english = build.prepare(inputs, "en", build.Options(paper="a4"))
    assert JOINER not in render.to_html(english, renderer.env)


def test_join_words_joins_text_only():
    page = ('<html><head><title>자궁 내막</title></head><body>'
            '<p title="자궁내막">NK세포와 A&amp;B세포 29</span>\u2060명의 있습니다\u2060'
            '<span class="cite">[1]</span> 두\u200b단어</p>'
            '<svg><title>자궁내막</title></svg></body></html>')
    joined = markup.join_words(page)
    J = JOINER
    assert f"<p title=\"자궁내막\">N{J}K{J}세{J}포{J}와 A{J}&amp;{J}B{J}세{J}포 29</span>{J}명{J}의 " in joined
    assert f"있{J}습{J}니{J}다{J}<span" in joined  # a joiner already there is not doubled
    assert f"두\u200b단{J}어" in joined  # a zero-width space still allows a break
    assert "<title>자궁 내막</title>" in joined and "<svg><title>자궁내막</title></svg>" in joined
    assert joined.replace(J, "") == page.replace(J, "")


def catalog_texts(inputs, value):
    """Each printed text of the topic as plain text: the catalog's words
    with numbers formatted and citation markers numbered, joiners dropped."""
    texts = [value.title, value.lead, value.key, value.disclaimer]
    for section in value.sections:
        texts.append(section["heading"])
        for block in section["blocks"]:
            texts.extend(block["texts"])
    return [html_lib.unescape(re.sub(r"<[^>]*>", "", str(t))).replace(JOINER, "") for t in texts if t]


def squeeze(text):
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("topic", ROOT_TOPICS)
def test_text_copied_from_the_korean_pdf_is_the_catalogs(renderers, topic, tmp_path):
    inputs, renderer = renderers[topic]
    clinic = clinic_lib.load(write_profile(tmp_path, **KOREAN_CLINIC))
    value = build.prepare(inputs, "ko", build.Options(paper="a4"), clinic)
    path = tmp_path / "ko.pdf"
    path.write_bytes(build.build_pdf(inputs, renderer, "ko", build.Options(paper="a4"), clinic))
    copied = {"pdfium": pdfutil.text(path)}
    if shutil.which("pdftotext"):
        copied["pdftotext"] = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True,
                                             capture_output=True, text=True).stdout
    expected = catalog_texts(inputs, value) + [KOREAN_CLINIC["note"], KOREAN_CLINIC["address"]]
    assert len(expected) > 15
    described = pdfutil.info(path)
    assert JOINER not in described["title"] + described["subject"], described
    for tool, text in copied.items():
        assert JOINER not in text, tool
        assert "\ufffd" not in text, tool
        flat = squeeze(text)
        missing = [t for t in expected if squeeze(t) not in flat]
        assert not missing, (tool, missing)


# The web page in Chromium (see tests/test_browser.py: skipped only where
# Chromium cannot start): the browser keeps the words, by keep-all. It may
# break after a middle dot inside a word (유럽·|영국), as Korean typesetting
# does, never between two syllables.
from tests.test_browser import browser  # noqa: E402,F401  (the fixture)

SPLIT_WORDS = """() => {
  const split = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.parentElement.closest("svg")) continue;
    for (const match of node.data.matchAll(/[\\uac00-\\ud7a3]{2,}/g)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
      if (tops.size > 1) split.push(match[0]);
    }
  }
  return split;
}"""


def test_the_web_page_breaks_korean_lines_between_words(browser, renderers, tmp_path):  # noqa: F811
    inputs, renderer = renderers[NK]
    clinic = clinic_lib.load(write_profile(tmp_path, **KOREAN_CLINIC))
    value = build.prepare(inputs, "ko", build.Options(paper="a4"), clinic)
    web = htmlout.to_web_html(value, renderer.env, htmlout.screen_css(inputs.project))
    context = browser.new_context(viewport={"width": 320, "height": 740})
    try:
        page = context.new_page()
        page.set_content(web)
        assert page.evaluate("document.body.innerText").count("\n") > 60  # narrow: many lines
        assert page.evaluate(SPLIT_WORDS) == []
        # Without keep-all, Chromium breaks between syllables: the check sees it.
        page.evaluate("document.styleSheets[0].insertRule('* { word-break: normal !important; }')")
        assert page.evaluate(SPLIT_WORDS)
    finally:
        context.close()
