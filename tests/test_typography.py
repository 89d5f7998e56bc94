"""Typography of the shipped pages: direction, CJK, hyphenation, contrast.

The reading level is tested in test_content_blocks.py (textstat)."""

import ctypes
import re

import pikepdf
import pypdfium2 as pdfium
import pypdfium2.raw as raw
import pytest

from tests import pdfutil
from tests.conftest import ROOT, SHIPPED


def char_boxes(path):
    """[(char, x, baseline y)] of every character on the page, where its glyph starts."""
    document = pdfium.PdfDocument(str(path))
    try:
        textpage = document[0].get_textpage()
        found = []
        for index in range(textpage.count_chars()):
            x, y = ctypes.c_double(), ctypes.c_double()
            raw.FPDFText_GetCharOrigin(textpage, index, x, y)  # on the baseline
            found.append((chr(raw.FPDFText_GetUnicode(textpage, index)), x.value, y.value))
        return found
    finally:
        document.close()


def test_left_to_right_runs_in_arabic_lines_are_not_reversed(built):
    """Latin words and numbers inside wrapped Arabic lines keep their order."""
    boxes = char_boxes(built["ar"])
    pairs = 0
    for index, (char, x, y) in enumerate(boxes):
        if char == "N" and index + 1 < len(boxes) and boxes[index + 1][0] == "K":
            assert x < boxes[index + 1][1], "NK printed as KN"
            pairs += 1
    assert pairs >= 8  # NK appears throughout the Arabic text, on wrapped lines too
    # Numbers: 2008 and the percentages read left to right.
    line_of = {}
    for char, x, y in boxes:
        line_of.setdefault(round(y), []).append((x, char))
    rows = ["".join(c for _x, c in sorted(chars)) for chars in line_of.values()]
    assert any("2008" in row for row in rows)
    assert any("14%" in row or "14٪" in row for row in rows)


def test_arabic_page_is_right_to_left(built):
    """Headings and bullets sit at the right edge of their column."""
    boxes = char_boxes(built["ar"])
    width = pdfutil.info(built["ar"])["mediabox"][2]
    bullets = [x for char, x, _y in boxes if char == "•"]
    assert bullets and all(x > width / 2 - 40 or x < width / 2 for x in bullets)
    top = max(y for char, _x, y in boxes if "\u0600" <= char <= "\u06ff")
    title = [x for char, x, y in boxes if abs(y - top) < 1]
    assert max(title) > width - 80 and min(title) > width / 3  # set from the right margin


@pytest.mark.parametrize("code, family", [("zh_Hans", "NK-CJK-SC"), ("ko", "NK-CJK-KR")])
def test_cjk_uses_real_bold_faces_and_keeps_latin_words_whole(built, code, family):
    names = {re.sub(r"^[A-Z]{6}\+", "", name.lstrip("/")) for name in pdfutil.embedded_fonts(built[code])}
    assert family in names and f"{family}-Bold" in names
    boxes = char_boxes(built[code])
    for index, (char, x, y) in enumerate(boxes[:-1]):
        following = boxes[index + 1]
        if char.isascii() and char.isalpha() and following[0].isascii() and following[0].isalpha():
            assert abs(following[2] - y) < 1, f"Latin word split across lines at {char}{following[0]}"


def test_german_long_words_are_hyphenated(built):
    text = pdfutil.text(built["de"])
    breaks = re.findall(r"(\w+)[-\u2010\u00ad]\r?\n(\w+)", text)
    source = (ROOT / "content" / "topics" / "nk-cells" / "locales" / "de.po").read_text("utf-8")
    automatic = [(a, b) for a, b in breaks if f"{a}-{b}" not in source]
    assert automatic, "no word was hyphenated at a line end"


def _contrast(rgb):
    def channel(value):
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return 1.05 / (luminance + 0.05)  # against white


@pytest.mark.parametrize("code", SHIPPED)
def test_all_text_has_contrast_of_at_least_4_5(built, code):
    with pikepdf.open(built[code]) as pdf:
        colour, stack, worst = (0.0, 0.0, 0.0), [], 21.0
        for operands, operator in pikepdf.parse_content_stream(pdf.pages[0]):
            op = str(operator)
            if op == "q":
                stack.append(colour)
            elif op == "Q":
                colour = stack.pop() if stack else (0.0, 0.0, 0.0)
            elif op == "rg":
                colour = tuple(float(v) for v in operands)
            elif op == "g":
                colour = (float(operands[0]),) * 3
            elif op in ("Tj", "TJ"):
                worst = min(worst, _contrast(colour))
    assert worst >= 4.5, worst


def test_wrong_language_and_plural_headers_are_refused(cli, project):
    path = project.catalog_file("es")
    text = path.read_text("utf-8")
    path.write_text(text.replace('"Language: es\\n"', '"Language: fr\\n"'), "utf-8")
    result = cli("check", "--lang", "es")
    assert result.exit_code == 1
    assert re.search(r"content/topics/nk-cells/locales/es\.po:\d+: Language header is 'fr' but the file is es\.po", result.output)
    path.write_text(re.sub(r'"Plural-Forms: [^"]*"', '"Plural-Forms: nplurals=2; plural=(n !!= 1);\\\\n"', text), "utf-8")
    result = cli("check", "--lang", "es")
    assert result.exit_code == 1 and "Plural-Forms expression '(n !!= 1)' is not valid" in result.output
    path.write_text(re.sub(r'"Plural-Forms: [^"]*"', '"Plural-Forms: nplurals=3; plural=(n != 1);\\\\n"', text), "utf-8")
    result = cli("check", "--lang", "es")
    assert result.exit_code == 1 and "Plural-Forms says nplurals=3 but es has 2 plural forms" in result.output


def test_characters_the_fonts_cannot_draw_are_named(cli, project):
    from tests.test_hostile import set_msgstr

    set_msgstr(project, "ko", "title", "NK세포와 반복 유산 \U0001F600 \u4E02")
    result = cli("check", "--lang", "ko")
    assert result.exit_code == 1 and "the fonts for ko cannot draw" in result.output
    assert "U+1F600" in result.output
