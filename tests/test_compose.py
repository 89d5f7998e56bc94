"""Clinic handouts are composed from a body laid out once per locale and
paper and a box laid out per clinic (nkhandout/compose.py). A composed page
must be the page laid out whole: the same PDF, byte for byte (and with it the
same text, drawing and PDF/UA structure tree)."""

import shutil
from pathlib import Path

import pytest

from nkhandout import build, clinic as clinic_lib, compose, render
from tests import pdfutil
from tests.conftest import ROOT, write_profile

EXAMPLE = ROOT / "examples" / "clinics" / "riverside.toml"


def example_clinic(tmp_path):
    folder = tmp_path / "example"
    folder.mkdir(exist_ok=True)
    shutil.copy(EXAMPLE, folder / "clinic.toml")
    shutil.copy(EXAMPLE.parent / "riverside-logo.svg", folder / "riverside-logo.svg")
    return clinic_lib.load(folder / "clinic.toml")


def whole_and_composed(project, code, clinic, paper="auto"):
    inputs = build.load_inputs(project)
    renderer = render.Renderer(project, inputs.manifest)
    value = build.prepare(inputs, code, build.Options(paper=paper), clinic)
    html = render.to_html(value, renderer.env)
    whole = renderer.layout(value, html, compose=False)
    composed = renderer.layout(value, html, compose=True)
    assert renderer._bodies.misses == 1, "the page was not composed"
    build.require_fit(value, composed)
    return (renderer.pdf_bytes(value, whole, html), renderer.pdf_bytes(value, composed, html))


@pytest.mark.parametrize("code,paper", [("en", "letter"), ("ar", "a4"), ("ko", "a4"), ("hi", "letter")])
def test_composed_page_is_the_page_laid_out_whole(project, tmp_path, code, paper):
    whole, composed = whole_and_composed(project, code, example_clinic(tmp_path), paper)
    assert composed == whole


def test_a_box_without_logo_and_a_tall_box_compose_exactly(project, tmp_path):
    small = clinic_lib.load(write_profile(tmp_path / "small", name="Clinic", phone="+1 555 0100"))
    tall = clinic_lib.load(write_profile(
        tmp_path / "tall", name="Northern Community Hospital Women's Health Service", phone="+44 20 7946 0000",
        department="Early Pregnancy and Recurrent Miscarriage Unit", address="1 Long Road, Springfield",
        email="epu@example.org", website="https://example.org/early-pregnancy-unit",
        note="Please bring this sheet and a list of your medicines to your next appointment."))
    for clinic in (small, tall):
        whole, composed = whole_and_composed(project, "es", clinic)
        assert composed == whole


def test_one_body_serves_every_clinic_and_is_left_as_it_was(project, tmp_path):
    """Distinct clinics (names, websites, QR codes) share one body; each page
    shows its own clinic; building one clinic again gives the same bytes."""
    inputs = build.load_inputs(project)
    renderer = render.Renderer(project, inputs.manifest, compose=True)
    options = build.Options(paper="a4")
    pdfs = {}
    for number in range(4):
        profile = write_profile(tmp_path / f"c{number}", name=f"Clinic Number {number}", phone="+1 555 0100",
                                website=f"https://example.org/clinic/{number}")
        pdfs[number] = (profile, build.build_pdf(inputs, renderer, "en", options, clinic_lib.load(profile)))
    assert (renderer._bodies.misses, renderer._bodies.hits, len(renderer._bodies)) == (1, 3, 1)
    for number, (profile, pdf) in pdfs.items():
        path = tmp_path / f"c{number}.pdf"
        path.write_bytes(pdf)
        text = pdfutil.text(path)
        assert f"Clinic Number {number}" in text
        assert f"example.org/clinic/{number}" in "".join(text.split())  # the website may wrap
        others = [n for n in pdfs if n != number]
        assert not any(f"Clinic Number {n}" in text for n in others)
    profile, first = pdfs[0]
    assert build.build_pdf(inputs, renderer, "en", options, clinic_lib.load(profile)) == first
    fresh = render.Renderer(project, inputs.manifest)
    assert build.build_pdf(inputs, fresh, "en", options, clinic_lib.load(profile)) == first


def test_kept_bodies_are_bounded(project, tmp_path):
    inputs = build.load_inputs(project)
    renderer = render.Renderer(project, inputs.manifest, compose=True)
    renderer._bodies.limit = 2
    clinic = clinic_lib.load(write_profile(tmp_path / "c", name="Clinic", phone="+1 555 0100"))
    for code in ("en", "es", "fr", "de"):
        build.build_pdf(inputs, renderer, code, build.Options(paper="a4"), clinic)
        assert len(renderer._bodies) <= 2
    assert renderer._bodies.misses == 4


def test_split_finds_exactly_one_box():
    page = '<html><body><main><p>x</p><aside class="clinic" aria-label="A">a</aside><p>y</p></main></body></html>'
    before, box, after = compose.split(page)
    assert box == '<aside class="clinic" aria-label="A">a</aside>'
    assert compose.box_page(before, box) == (
        '<!DOCTYPE html>\n<html><body><main>\n<aside class="clinic" aria-label="A">a</aside>\n</main></body></html>')
    assert compose.split(page.replace("</main>", '<aside class="clinic">b</aside></main>')) is None
    assert compose.split("<html><body></body></html>") is None


def test_a_batch_composes_and_matches_one_by_one(project, tmp_path):
    """A batch of several clinics (worker processes, which compose, locale
    after locale) writes the same bytes as handouts laid out whole."""
    from nkhandout import batch

    folder = tmp_path / "clinics"
    folder.mkdir()
    for number in range(3):
        write_profile(folder, stem=f"clinic-{number}", name=f"Clinic {number}", phone="+1 555 0100",
                      website=f"https://example.org/{number}")
    out = tmp_path / "out"
    result = batch.run(project, ["en", "es"], out_dir=out, clinic_paths=[folder], jobs=2, paper="a4")
    assert not result.failures and len(result.written) == 6
    inputs = build.load_inputs(project)
    renderer = render.Renderer(project, inputs.manifest)
    for pdf in sorted(Path(out).rglob("*.pdf")):
        code = pdf.name.split(".")[-2]
        clinic = clinic_lib.load(folder / f"{pdf.parent.name}.toml")
        value = build.prepare(inputs, code, build.Options(paper="a4"), clinic)
        html = render.to_html(value, renderer.env)
        whole = renderer.layout(value, html)
        assert not renderer._bodies.misses  # a renderer composes only when asked
        assert pdf.read_bytes() == renderer.pdf_bytes(value, whole, html), pdf
