"""Drawing and writing the PDF: each object is serialised and compressed
once, and the file is the one pydyf's own writer makes at the same
compression level; SVG lengths are read by a faster parser that gives what
WeasyPrint's own gives."""

import importlib
import io
import subprocess
import zlib

import pikepdf
import pydyf
import pytest

from nkhandout import build, clinic as clinic_lib, render, workarounds
from nkhandout.project import Project
from tests.conftest import FONTS, NK, ROOT


@pytest.fixture(scope="module")
def laid_out():
    """(renderer, {code: (handout, document, html)}) for en with a clinic box, and ar."""
    project = Project.at(ROOT, fonts_dir=FONTS, topic=NK)
    inputs = build.load_inputs(project)
    renderer = render.Renderer(project, inputs.manifest)
    clinic = clinic_lib.load(ROOT / "examples" / "clinics" / "riverside.toml")
    pages = {}
    for code, who in (("en", clinic), ("ar", None)):
        value = build.prepare(inputs, code, clinic=who)
        document, html = build.render_one(renderer, value)
        pages[code] = (value, document, html)
    return renderer, pages


def _pdf(document, html, writer):
    """The PDF of ``document`` as render.Renderer.pdf_bytes makes it, written by ``writer``."""
    def finisher(doc, pdf):
        workarounds.finish_pdf(doc, pdf)
        pdf.write = lambda output, version, identifier, compress: writer(pdf, output, version, identifier, compress)

    return document.write_pdf(pdf_identifier=b"0123456789abcdef", pdf_variant="pdf/ua-1", pdf_tags=True,
                              finisher=finisher)


@pytest.mark.parametrize("code", ["en", "ar"])
def test_writer_gives_pydyfs_bytes_at_the_same_level(laid_out, code):
    _renderer, pages = laid_out
    _value, document, html = pages[code]
    ours = _pdf(document, html, lambda pdf, *args: workarounds.write_once(pdf, *args, level=9))
    theirs = _pdf(document, html, pydyf.PDF.write)  # pydyf compresses at level 9
    assert ours == theirs


def test_each_stream_is_compressed_once_and_the_pdf_is_valid(laid_out, monkeypatch, tmp_path):
    renderer, pages = laid_out
    value, document, html = pages["en"]
    calls = []
    real = zlib.compressobj

    def counting(*args, **kwargs):
        calls.append(kwargs.get("level"))
        return real(*args, **kwargs)

    monkeypatch.setattr(zlib, "compressobj", counting)
    data = renderer.pdf_bytes(value, document, html)
    monkeypatch.setattr(zlib, "compressobj", real)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        flate = sum(1 for obj in pdf.objects if isinstance(obj, pikepdf.Stream)
                    and obj.get("/Filter") == pikepdf.Name.FlateDecode)
        # every compressed stream (the object and cross-reference streams among them) once
        assert len(calls) == flate, (len(calls), flate)
    assert set(calls) == {workarounds.COMPRESSION_LEVEL}
    path = tmp_path / "en.pdf"
    path.write_bytes(data)
    check = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No syntax or stream encoding errors" in check.stdout


def test_same_document_same_bytes(laid_out):
    renderer, pages = laid_out
    value, document, html = pages["ar"]
    first = renderer.pdf_bytes(value, document, html)
    assert renderer.pdf_bytes(value, document, html) == first


def test_svg_lengths_read_as_weasyprint_reads_them(laid_out):
    modules = [importlib.import_module(f"weasyprint.svg{name}") for name in (".utils", "", ".defs", ".text")]
    fast = modules[0].size
    assert fast._nkhandout_patched and all(module.size is fast for module in modules)
    slow = fast.original
    cases = [("3.6", None, None), ("-3", None, None), ("1e2", None, None), (" 7 ", None, None),
             ("12pt", None, None), ("2mm", None, None), ("50%", None, 80), ("1.5em", 10, None), ("2ex", 10, None),
             ("1rem", 16, None), ("", None, None), (None, None, None), (0, None, None), (2.5, None, None),
             (4, None, None), ("nan", None, None), ("abc", None, None), ("3 4", None, None)]
    for case in cases:
        assert repr(fast(*case)) == repr(slow(*case)), case
    with pytest.raises(AssertionError):  # a percentage with nothing to take it of, as before
        slow("50%")
    with pytest.raises(AssertionError):
        fast("50%")
