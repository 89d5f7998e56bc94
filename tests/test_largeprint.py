"""Large print: every text patients read at 16pt or more, at most two pages, same content."""

import re

import pypdfium2 as pdfium
import pytest

from tests import pdfutil
from tests.conftest import ROOT, files_in

EXAMPLE = ROOT / "examples" / "clinics" / "riverside.toml"
CODES = ["en", "es", "ar", "zh_Hans", "ru"]


def page_texts(path):
    document = pdfium.PdfDocument(str(path))
    try:
        return [page.get_textpage().get_text_range() for page in document]
    finally:
        document.close()


def small_text(path, below):
    """{page number: the characters set at less than ``below`` pt}."""
    import pypdfium2.raw as raw

    scale = pdfutil._page_scale(path)
    document = pdfium.PdfDocument(str(path))
    found = {}
    try:
        for number, page in enumerate(document):
            textpage = page.get_textpage()
            found[number] = "".join(
                chr(raw.FPDFText_GetUnicode(textpage, index)) for index in range(textpage.count_chars())
                if 0 < raw.FPDFText_GetFontSize(textpage, index) * scale < below - 0.01)
    finally:
        document.close()
    return found


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    """Large print of five locales with the example clinic (US: Letter, the shorter page)."""
    from click.testing import CliRunner

    from nkhandout.cli import main

    out = tmp_path_factory.mktemp("large")
    result = CliRunner().invoke(main, ["--root", str(ROOT), "build", "--large-print", "--clinic", str(EXAMPLE),
                                       "--out", str(out), *sum((["--lang", c] for c in CODES), [])])
    assert result.exit_code == 0, result.output
    return {code: out / "riverside" / f"nk-cells-recurrent-miscarriage.{code}.large.pdf" for code in CODES}


@pytest.mark.parametrize("code", CODES)
def test_large_print_is_at_most_two_pages_with_text_at_16pt(large, code):
    path = large[code]
    assert pdfutil.page_count(path) <= 2
    info = pdfutil.info(path)
    assert info["lang"] == code.replace("_", "-") and info["struct"]
    assert [round(x) for x in info["mediabox"][2:]] == [612, 792]
    # page 1 holds only text patients read: nothing under 16pt
    assert small_text(path, 16)[0].strip() == ""
    # the reference list and the footer line at 12pt; nothing smaller but the
    # words drawn inside the clinic's logo (a picture)
    assert {number: re.sub(r"[Riversd\s]", "", text) for number, text in small_text(path, 12).items()} == \
        {number: "" for number in range(pdfutil.page_count(path))}
    text = "".join(page_texts(path))
    assert "555" in text and "0100" in text and "Riverside Women's Health" in text


@pytest.mark.parametrize("code", ["en", "es"])
def test_large_print_has_the_same_text_as_the_sheet(large, built, code):
    def letters(text):
        return re.sub(r"[\s\u00ad\ufffe\u2010•-]+", "", text)  # line breaks and hyphens differ

    large_text = letters("".join(page_texts(large[code])))
    sheet = letters("".join(page_texts(built[code])))
    for line in re.split(r"[.:]", sheet):  # every sentence of the sheet, in the large print
        if len(line) > 12:
            assert line in large_text, line


def test_large_print_that_needs_three_pages_is_refused(cli, project, out):
    po = project.catalog_file("es")
    text = po.read_text("utf-8")
    long = "Texto largo de prueba, " * 60
    start = text.index('msgctxt "advise.p1"')
    at = text.index('msgstr ""\n"', start) + len('msgstr ""\n"')
    po.write_text(text[:at] + long + text[at:], "utf-8")
    result = cli("build", "--lang", "es", "--large-print", "--out", str(out))
    assert result.exit_code == 1
    assert re.search(r"es: locale es: large print takes \d pages: it overflows 2 pages by about \d+ mm", result.output)
    assert "Traceback" not in result.output
    assert files_in(out) == []


def test_large_print_is_skipped_when_nothing_changed_and_not_with_html(cli, out):
    assert cli("build", "--lang", "en", "--large-print", "--out", str(out)).exit_code == 0
    again = cli("build", "--lang", "en", "--large-print", "--out", str(out))
    assert "built 0, up to date 1" in again.output
    both = cli("build", "--lang", "en", "--large-print", "--format", "html", "--out", str(out))
    assert both.exit_code == 2 and "--large-print makes PDFs" in both.output
