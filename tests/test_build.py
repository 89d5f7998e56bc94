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
}
HEADINGS = {
    "en": "What are NK cells?",
    "es": "¿Qué son las células NK?",
}


@pytest.mark.parametrize("code", SHIPPED)
def test_every_shipped_locale_is_one_page_in_its_language(built, code):
    path = built[code]
    assert pdfutil.page_count(path) == 1
    meta = pdfutil.info(path)
    assert meta["lang"] == code.replace("_", "-")
    text = pdfutil.text(path)
    letters = [c for c in text if c.isalpha()]
    native = [c for c in letters if re.match(SCRIPTS[code], c.lower())]
    # Most letters are in the locale's script (references stay English).
    if code in ("ko", "zh_Hans", "ar", "ru"):
        assert len(native) / len(letters) > 0.35, (code, len(native), len(letters))
    else:
        assert native
    assert meta["title"] and meta["title"] in text.replace("\n", " ").replace("\r", "")


@pytest.mark.parametrize("code", ["en", "es"])
def test_headings_and_metadata(built, code):
    text = pdfutil.text(built[code])
    assert HEADINGS[code] in text
    meta = pdfutil.info(built[code])
    assert meta["created"].startswith("D:20261124")
    assert meta["subject"]
    assert meta["marked"] and meta["struct"]


def test_spanish_is_spanish(built):
    text = pdfutil.text(built["es"]).replace("\r", "")
    assert "Referencias" in text
    assert "24 de noviembre de 2026" in text
    assert "What are NK cells" not in text


def test_paper_auto_follows_the_territory(built):
    assert pdfutil.info(built["en"])["mediabox"] == [0, 0, 612, 792]  # en -> US -> letter
    assert pdfutil.info(built["es"])["mediabox"] == [0, 0, 595, 842]  # es -> ES -> A4


@pytest.mark.parametrize("code", SHIPPED)
def test_fonts_are_embedded_and_sizes_respect_the_contract(built, code):
    fonts = pdfutil.embedded_fonts(built[code])
    assert fonts and all(fonts.values()), fonts
    sizes = pdfutil.font_sizes_pt(built[code])
    assert min(size for _font, size in sizes) >= 8
    # Body text: the size most text is set in.
    body = max(sizes.items(), key=lambda item: item[1])[0][1]
    assert body >= 12


@pytest.mark.parametrize("code", ["en", "es"])
def test_every_reference_is_cited_and_listed(built, code):
    text = pdfutil.text(built[code]).replace("\r", "")
    body, refs = re.split(r"\n(?:References|Referencias)\n", text)
    cited = {int(n) for group in re.findall(r"\[([\d,]+)\]", body) for n in group.split(",")}
    listed = [int(n) for n in re.findall(r"^(\d+)\. ", refs, re.M)]
    assert cited == set(range(1, 10))
    assert listed == list(range(1, 10))
    first = [int(group.split(",")[0]) for group in re.findall(r"\[([\d,]+)\]", body)]
    assert first == sorted(first)  # numbered in order of first citation


def test_rebuilding_gives_byte_identical_pdfs(tmp_path):
    """Two separate processes, same inputs, same bytes."""
    outs = []
    for run in ("a", "b"):
        out = tmp_path / run
        subprocess.run([sys.executable, "-m", "nkhandout", "build", "--lang", "es", "--lang", "ar",
                        "--out", str(out)], check=True, cwd=ROOT, capture_output=True)
        outs.append(out)
    for name in ("nk-cells-recurrent-miscarriage.es.pdf", "nk-cells-recurrent-miscarriage.ar.pdf"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes()


def test_draft_mark_is_visible(cli, project, out):
    result = cli("build", "--lang", "en", "--draft", "--out", str(out))
    assert result.exit_code == 0, result.output
    text = pdfutil.text(out / "nk-cells-recurrent-miscarriage.en.pdf")
    assert "DRAFT" in text
