"""Real properties of the built handouts."""

import re
import subprocess
import sys

import pytest

from tests import pdfutil
from tests.conftest import ROOT, SHIPPED

SCRIPTS = {
    "en": r"[A-Za-z]", "es": r"[ñáéíóú¿]", "fr": r"[éèàçê]", "de": r"[äöüß]", "pt_BR": r"[ãçõáê]",
    "vi": r"[ạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹđ]", "ru": r"[а-яё]",
    "ko": r"[\uac00-\ud7a3]", "zh_Hans": r"[\u4e00-\u9fff]", "ar": r"[\u0600-\u06ff]",
    "pl": r"[ąćęłńóśźż]", "uk": r"[а-щьюяєіїґ]", "ro": r"[ăâîșț]", "tr": r"[çğıöşü]", "fil": r"[a-z]",
    "ht": r"[èòà]", "so": r"[a-z]", "hi": r"[\u0900-\u097f]", "bn": r"[\u0980-\u09ff]",
    "pa": r"[\u0a00-\u0a7f]", "fa": r"[\u0600-\u06ff]", "he": r"[\u0590-\u05ff]",
    "am": r"[\u1200-\u137f]", "ja": r"[\u3040-\u30ff\u4e00-\u9fff]", "zh_Hant": r"[\u4e00-\u9fff]",
}
# Locales whose letters are nearly all of their own script ("NK" is the exception).
OWN_SCRIPT = ("ko", "zh_Hans", "ar", "ru", "uk", "hi", "bn", "pa", "fa", "he", "am", "ja", "zh_Hant")
def heading(code):
    """The first section heading as ``code``'s catalog gives it."""
    from nkhandout import build
    from nkhandout.project import Project

    inputs = build.load_inputs(Project.at(ROOT, fonts_dir=ROOT / "templates" / "fonts"))
    english = next(m.id for m in inputs.pot if m.context == "for.heading")
    if code == "en":
        return english
    return build.locale_state(inputs, code).translations[("for.heading", english)]


@pytest.mark.parametrize("code", SHIPPED)
def test_every_shipped_locale_is_one_page_in_its_language(built, code):
    path = built[code]
    assert pdfutil.page_count(path) == 1
    meta = pdfutil.info(path)
    assert meta["lang"] == code.replace("_", "-")
    text = pdfutil.text(path)
    body = text[: text.index("Dosiou C, Giudice LC")]  # the reference list stays English
    letters = [c for c in body if c.isalpha()]
    native = [c for c in letters if re.match(SCRIPTS[code], c.lower())]
    if code in OWN_SCRIPT:
        assert len(native) / len(letters) > 0.8, (code, len(native), len(letters))
    else:
        assert len(native) >= 5, (code, native)
    if code != "en":
        assert "Why some doctors test for NK cells" not in text and "Questions for my care team" not in text
    def same(value):  # no-break spaces print as spaces; a zero-width non-joiner copies as nothing
        return re.sub(r"\s+", " ", value.replace("\u00a0", " ").replace("\u200c", ""))

    assert meta["title"] and same(meta["title"]) in same(text)


@pytest.mark.parametrize("code", ["en", "es"])
def test_headings_and_metadata(built, code):
    text = pdfutil.text(built[code])
    assert heading(code) in text
    meta = pdfutil.info(built[code])
    assert meta["created"].startswith("D:20261201")
    assert meta["subject"]
    assert meta["marked"] and meta["struct"]


MESES = ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
         "octubre", "noviembre", "diciembre"]


def test_spanish_is_spanish(built):
    import tomllib

    text = pdfutil.text(built["es"]).replace("\r", "")
    assert "Referencias" in text
    reviewed = tomllib.loads((ROOT / "content" / "topics" / "nk-cells" / "handout.toml").read_text("utf-8"))["meta"]["reviewed"]
    assert f"{reviewed.day} de {MESES[reviewed.month - 1]} de {reviewed.year}" in text
    assert heading("en") not in text and heading("es") in text


def test_paper_auto_follows_the_territory(built):
    assert [round(x) for x in pdfutil.info(built["en"])["mediabox"]] == [0, 0, 612, 792]  # US letter
    assert [round(x) for x in pdfutil.info(built["es"])["mediabox"]] == [0, 0, 595, 842]  # A4


def first_paragraph(code):
    """The start of the first list item in ``code``, as printed."""
    from nkhandout import build
    from nkhandout.project import Project

    inputs = build.load_inputs(Project.at(ROOT, fonts_dir=ROOT / "templates" / "fonts"))
    text = next(m.id for m in inputs.pot if m.context == "for.item1")
    if code != "en":
        state = build.locale_state(inputs, code)
        text = state.translations[("for.item1", text)]
    text = text.replace("\u200c", "").replace("\u2060", "")  # joiners copy as nothing
    return re.sub(r"\s+", " ", re.sub(r"\[@[^\]]*\]|\*", "", text))[:12].strip()


@pytest.mark.parametrize("code", SHIPPED)
def test_fonts_are_embedded_and_sizes_respect_the_contract(built, code):
    fonts = pdfutil.embedded_fonts(built[code])
    assert fonts and all(fonts.values()), fonts
    text, sizes = pdfutil.char_sizes(built[code])
    printed = [size for char, size in zip(text, sizes) if not char.isspace()]
    assert min(printed) >= 7.99, min(printed)
    start = text.replace("\r\n", "  ").replace("\u200c", "").find(first_paragraph(code))
    assert start >= 0, first_paragraph(code)
    paragraph = [size for char, size in zip(text[start:start + 12], sizes[start:start + 12]) if not char.isspace()]
    assert paragraph and min(paragraph) >= 11.99, paragraph


@pytest.mark.parametrize("code", ["en", "es"])
def test_every_reference_is_cited_and_listed(built, code):
    text = pdfutil.text(built[code]).replace("\r", "")
    body, refs = re.split(r"\n(?:References|Referencias)\n", text)
    cited = {int(n) for group in re.findall(r"\[([\d,]+)\]", body) for n in group.split(",")}
    # One run-in list: each number, then its first author's family name
    # (which may end a line).
    listed = [int(n) for n in re.findall(r"(?:^|\s)(\d+)\.\s[A-Z][A-Za-z-]+\s", refs)]
    assert cited == set(range(1, 12))
    assert listed == list(range(1, 12))
    seen = []  # numbered in order of first citation: each new number is the next one
    for group in re.findall(r"\[([\d,]+)\]", body):
        for number in (int(n) for n in group.split(",")):
            if number not in seen:
                assert number == len(seen) + 1, (number, seen)
                seen.append(number)


def test_rebuilding_gives_byte_identical_pdfs(tmp_path):
    """Two separate processes, same inputs, same bytes."""
    import os

    from tests.conftest import FONTS, copy_project

    project = copy_project(tmp_path / "project")
    env = dict(os.environ, NKHANDOUT_ROOT=str(project.root), NKHANDOUT_FONTS=str(FONTS))
    outs = []
    for run in ("a", "b"):
        out = tmp_path / run
        subprocess.run([sys.executable, "-m", "nkhandout", "build", "--lang", "es", "--lang", "ar",
                        "--out", str(out)], check=True, cwd=ROOT, capture_output=True, env=env)
        outs.append(out)
    for name in ("nk-cells-recurrent-miscarriage.es.pdf", "nk-cells-recurrent-miscarriage.ar.pdf"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes()


def test_draft_mark_is_visible(cli, project, out):
    result = cli("build", "--lang", "en", "--draft", "--out", str(out))
    assert result.exit_code == 0, result.output
    text = pdfutil.text(out / "nk-cells-recurrent-miscarriage.en.draft.pdf")
    assert "DRAFT" in text
