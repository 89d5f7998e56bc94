"""Clinic profiles an attacker or a careless user writes: every field readable
on paper, logos checked before anything reads or draws them, a QR code that scans."""

import base64
import os
import re
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from nkhandout import clinic as clinic_lib
from nkhandout.errors import HandoutError
from tests.conftest import ROOT, files_in, write_profile

NAME = "nk-cells-recurrent-miscarriage"


def refused(profile, *needles):
    """clinic_lib.load refuses ``profile`` with one line holding every needle."""
    with pytest.raises(HandoutError) as caught:
        clinic_lib.load(profile)
    line = str(caught.value)
    assert "\n" not in line
    for needle in needles:
        assert needle in line, line
    return line


def one_line_failure(result, *needles):
    assert result.exit_code == 1, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in result.output, result.output


# -- item 5: what cannot be read is refused ----------------------------------

TEXT_FIELDS = ["name", "department", "phone", "address", "website", "email", "note"]
HIDDEN = {
    "\u202e": "U+202E",  # right-to-left override: an e-mail printed reversed
    "\u2066": "U+2066",  # left-to-right isolate
    "\u200f": "U+200F",  # right-to-left mark
    "\u061c": "U+061C",  # Arabic letter mark
    "\u200b": "U+200B",  # zero-width space
    "\u2060": "U+2060",  # word joiner
    "\ufeff": "U+FEFF",  # zero-width no-break space
    "\u00ad": "U+00AD",  # soft hyphen (Cf)
}
VALID = {"name": "North Clinic", "department": "Obstetrics", "phone": "555 0100",
         "address": "1 Main St", "website": "https://example.org/x", "email": "a@example.org",
         "note": "Bring this sheet."}


@pytest.mark.parametrize("field", TEXT_FIELDS)
@pytest.mark.parametrize("char", list(HIDDEN))
def test_bidi_controls_and_invisible_characters_are_refused_in_every_field(tmp_path, field, char):
    values = dict(VALID)
    value = values[field]
    values[field] = value[:3] + char + value[3:]
    profile = write_profile(tmp_path / "p", **values)
    line = refused(profile, f"'{field}'", HIDDEN[char], str(profile))
    assert re.search(rf"clinic\.toml:{list(values).index(field) + 1}:", line)


@pytest.mark.parametrize("phone, message", [
    ("+", "'phone' has 0 digit(s); a number to call needs at least 3"),
    ("- - -", "'phone' has 0 digit(s)"),
    ("(1)", "'phone' has 1 digit(s)"),
    ("\uff15\uff15\uff15 \uff10\uff11\uff10\uff10", "digits other than 0-9: \uff15 (U+FF15)"),
    ("\u0665\u0665\u0665 \u0660\u0661\u0660\u0660", "digits other than 0-9: \u0665 (U+0665)"),
    ("555 0100 x\u0663\u0664", "digits other than 0-9: \u0663 (U+0663)"),
])
def test_phone_needs_ascii_digits(tmp_path, phone, message):
    profile = write_profile(tmp_path / "p", name="A", phone=phone)
    line = refused(profile, message, "clinic.toml:2")
    if "other than" in message:
        assert "write the number with the digits 0-9" in line


def test_ordinary_phones_are_accepted(tmp_path):
    for phone in ("+1 555 0100", "(030) 1234-56", "555 0100 ext. 12", "112"):
        assert clinic_lib.load(write_profile(tmp_path / "p", name="A", phone=phone)).phone == phone


@pytest.mark.parametrize("field, value", [
    ("email", "a" * 55 + "@example.org"),          # 67 characters, one unbreakable word
    ("name", "Z" * 60),                            # 60 characters, the most allowed
    ("department", "Reproduktionsimmunologieambulanzzentrum" * 1 + "sprechstunde"),
    ("address", "Hauptbahnhofstraßenunterführungsdurchgangsbereichszugangsweg 12345"),
])
def test_a_field_wider_than_the_clinic_box_is_refused_by_build_and_check(cli, tmp_path, out, field, value):
    values = {"name": "A", "phone": "555 0100", field: value}
    profile = write_profile(tmp_path / "p", **values)
    result = cli("build", "--lang", "en", "--clinic", str(profile), "--out", str(out))
    one_line_failure(result, f"the clinic's '{field}' does not fit its box in en", str(profile))
    too_wide = float(re.search(r"runs ([\d.]+) mm too wide", result.output).group(1))
    assert too_wide > 1
    assert files_in(out / "clinic") == []
    checked = cli("check", "--lang", "en", "--clinic", str(profile))
    assert checked.exit_code == 1
    assert f"the clinic's '{field}' does not fit its box in en: it runs {too_wide:.1f} mm too wide" in checked.output


def test_nothing_in_the_clinic_box_is_clipped():
    css = (ROOT / "templates" / "print.css").read_text("utf-8")
    rule = css[css.index(".clinic {"):]
    rule = rule[: rule.index("}")]
    assert "overflow" not in rule


@pytest.mark.parametrize("code, field, value, shown", [
    ("en", "name", "คลินิกริมน้ำ", "U+0E04"),                # Thai: no font of the page has it
    ("zh_Hans", "department", "산부인과", "U+C0B0"),          # Hangul in the Chinese fonts
    ("en", "note", "Bring this ሰነድ", "U+1230"),              # Ethiopic
    ("ru", "address", "1 Main St ☎", "U+260E"),
])
def test_clinic_text_the_fonts_cannot_draw_is_refused_before_building(cli, tmp_path, out, code, field, value, shown):
    profile = write_profile(tmp_path / "p", **{"name": "A", "phone": "555 0100", field: value})
    result = cli("build", "--lang", code, "--clinic", str(profile), "--out", str(out))
    one_line_failure(result, f"'{field}' has characters the fonts for {code} cannot draw", shown,
                     "write it in a script the page's fonts have")
    assert files_in(out / "clinic") == []
    checked = cli("check", "--lang", code, "--clinic", str(profile))
    assert checked.exit_code == 1 and shown in checked.output


def test_the_example_clinic_still_builds_in_every_script(cli, out):
    profile = ROOT / "examples" / "clinics" / "riverside.toml"
    result = cli("build", "--lang", "en", "--lang", "ar", "--lang", "zh_Hans", "--clinic", str(profile),
                 "--out", str(out))
    assert result.exit_code == 0, result.output
    assert len(files_in(out / "riverside")) == 3


# -- item 6: malformed profiles are one line -----------------------------------

@pytest.mark.parametrize("body, message", [
    ('name = "A"\nphone = "555 0100"\nx = ' + "1" * 5000 + "\n", "clinic.toml:3: a number is too long to read"),
    ('name = "A"\nphone = "555 0100"\nx = ' + "[" * 3000 + "]" * 3000 + "\n", "values are nested too deeply"),
])
@pytest.mark.parametrize("command", ["build", "check"])
def test_huge_numbers_and_deep_nesting_are_one_line(cli, tmp_path, out, body, message, command):
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "clinic.toml").write_text(body, "utf-8")
    args = ["--out", str(out)] if command == "build" else []
    result = cli(command, "--lang", "en", "--clinic", str(folder / "clinic.toml"), *args)
    one_line_failure(result, message)
    assert files_in(out) in ([], ["clinic"]) and files_in(out / "clinic") == []


# -- item 7: a logo is checked before anything reads it ---------------------

def run_cli(*args, timeout=60):
    env = dict(os.environ, NKHANDOUT_FONTS=str(ROOT / "templates" / "fonts"))
    return subprocess.run([sys.executable, "-m", "nkhandout", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


def logo_cases(tmp_path):
    cases = []
    folder = tmp_path / "absolute"
    cases.append((write_profile(folder, name="A", phone="555 0100", logo="/proc/kmsg"),
                  "'logo' must be a file name inside the profile's folder"))
    folder = tmp_path / "link"
    folder.mkdir()
    (folder / "logo.png").symlink_to("/proc/kmsg")
    cases.append((write_profile(folder, name="A", phone="555 0100", logo="logo.png"),
                  "'logo' leads outside the profile's folder"))
    folder = tmp_path / "fifo"
    folder.mkdir()
    os.mkfifo(folder / "logo.svg")
    cases.append((write_profile(folder, name="A", phone="555 0100", logo="logo.svg"),
                  "'logo' is not a regular file"))
    return cases


@pytest.mark.skipif(not Path("/proc/kmsg").exists(), reason="needs /proc")
def test_logo_in_proc_a_link_to_it_or_a_pipe_never_blocks_the_build(tmp_path, project):
    for profile, message in logo_cases(tmp_path):
        for command in (["build", "--out", str(tmp_path / "out")], ["check"]):
            started = time.monotonic()
            try:
                result = run_cli("--root", str(project.root), command[0], "--lang", "en",
                                 "--clinic", str(profile), *command[1:])
            except subprocess.TimeoutExpired:
                pytest.fail(f"{command[0]} with {profile} blocked")
            assert result.returncode == 1, result.stderr
            assert message in result.stderr and str(profile) in result.stderr
            assert "Traceback" not in result.stderr
            assert time.monotonic() - started < 60


@pytest.mark.skipif(not Path("/proc/kmsg").exists(), reason="needs /proc")
@pytest.mark.parametrize("command", [["build", "--out", "OUT"], ["check"]])
def test_a_profile_that_would_block_is_one_line_not_a_hang(tmp_path, project, command):
    command = [str(tmp_path / "out") if arg == "OUT" else arg for arg in command]
    try:
        result = run_cli("--root", str(project.root), command[0], "--lang", "en", "--clinic", "/proc/kmsg",
                         *command[1:], timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{command[0]} --clinic /proc/kmsg blocked")
    assert result.returncode == 1
    assert "/proc/kmsg" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_incremental_hash_never_reads_a_logo_the_loader_refuses(tmp_path, project, monkeypatch):
    # The hash is made from the profile as clinic.load() read it: a profile
    # whose logo the loader refuses has no hash, and its logo is never opened.
    from nkhandout import incremental

    opened = []

    def spying(real):
        def spy(path, *args, **kwargs):
            name = os.fsdecode(path) if isinstance(path, (str, bytes, os.PathLike)) else ""
            if name.startswith("/proc") or name.endswith(("logo.png", "logo.svg")):
                opened.append(name)
                raise OSError("a refused logo was opened")  # never block on it
            return real(path, *args, **kwargs)
        return spy

    monkeypatch.setattr("builtins.open", spying(open))
    monkeypatch.setattr(os, "open", spying(os.open))
    for profile, message in logo_cases(tmp_path):
        refused(profile, message, str(profile))  # so there is no loaded clinic to hash
        with pytest.raises(HandoutError) as caught:  # given a path, it loads the profile first
            incremental.input_hash(project, "en", profile)
        assert message in str(caught.value)
    assert opened == []


# -- item 13: images are decoded and measured before rendering -----------------

def png_bytes(width, height, rows=None):
    """A valid greyscale PNG, written chunk by chunk (no image library)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    compressor = zlib.compressobj(9)
    body = b""
    for y in range(height if rows is None else rows):
        body += compressor.compress(b"\x00" + bytes((x * 7 + y * 3) % 256 for x in range(width)))
    body += compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def huge_png(width, height):
    """A 1-bit PNG of width x height white pixels, small on disk."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    compressor = zlib.compressobj(9)
    row = b"\x00" + b"\xff" * ((width + 7) // 8)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def logo_profile(tmp_path, name, data):
    folder = tmp_path / "p"
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(data)
    return write_profile(folder, name="A", phone="555 0100", logo=name)


def test_a_whole_png_logo_is_accepted(tmp_path):
    assert clinic_lib.load(logo_profile(tmp_path, "logo.png", png_bytes(120, 40))).logo_uri


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_a_truncated_png_logo_is_refused(tmp_path, cut):
    data = png_bytes(300, 120)
    iend = data.rindex(b"IEND") - 4
    idat = data.index(b"IDAT") + 4
    truncated = data[: idat + int((iend - idat) * cut)]
    profile = logo_profile(tmp_path, "logo.png", truncated)
    refused(profile, "PNG logo 'logo.png' cannot be decoded", str(profile), "export the logo again")


def test_a_png_with_a_wrong_checksum_is_refused(tmp_path):
    data = bytearray(png_bytes(120, 40))
    data[data.index(b"IDAT") + 20] ^= 0xFF
    refused(logo_profile(tmp_path, "logo.png", bytes(data)), "PNG logo 'logo.png' cannot be decoded")


def test_an_88_megapixel_png_is_refused_from_its_header_quickly(tmp_path):
    data = huge_png(11000, 8000)
    assert len(data) < clinic_lib.MAX_LOGO_BYTES
    profile = logo_profile(tmp_path, "big.png", data)
    started = time.monotonic()
    refused(profile, "PNG logo 'big.png' is 11000 x 8000 pixels (88 megapixels); the limit is 25 megapixels",
            str(profile))
    assert time.monotonic() - started < 2


def test_a_bad_png_names_the_profile_and_the_file_in_the_build(cli, tmp_path, out):
    data = png_bytes(300, 120)
    profile = logo_profile(tmp_path, "logo.png", data[: len(data) // 2])
    result = cli("build", "--lang", "en", "--clinic", str(profile), "--out", str(out))
    one_line_failure(result, str(profile), "'logo.png'", "cannot be decoded")
    assert "data:image" not in result.output
    assert files_in(out / "clinic") == []


def test_renderer_messages_name_the_logo_not_its_data(tmp_path):
    clinic = clinic_lib.load(logo_profile(tmp_path, "logo.svg", SVG.format("<rect width='4' height='4'/>").encode()))
    message = f"Failed to load image at '{clinic.logo_uri}': broken"
    described = clinic_lib.describe_uris(message, clinic)
    assert "data:" not in described
    assert f"logo 'logo.svg' of {clinic.path}" in described


# -- item 3 (SVG part) and item 6: SVG logos that are too costly or malformed --

SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">{}</svg>'


def use_bomb(levels=9, fan_out=10):
    parts = ['<g id="l0"><rect width="1" height="1"/></g>']
    for level in range(1, levels + 1):
        parts.append(f'<g id="l{level}">' + f'<use href="#l{level - 1}"/>' * fan_out + "</g>")
    return SVG.format("<defs>" + "".join(parts) + f'</defs><use href="#l{levels}"/>')


@pytest.mark.parametrize("svg, message", [
    (use_bomb(), "draws more than 20000 elements once its <use> references are expanded; the limit is 20000"),
    (use_bomb(levels=12, fan_out=1), "nests <use> references more than 8 deep; the limit is 8"),
    (SVG.format('<rect id="a" width="1" height="1"/>' + '<use href="#a"/>' * 501), "more than 500 <use> elements"),
    (SVG.format('<rect width="1" height="1"/>' * 5001), "has more than 5000 elements; the limit is 5000"),
    (SVG.format("<g>" * 70 + "</g>" * 70), "nests elements more than 64 deep; the limit is 64"),
    (SVG.format('<g id="a"><use href="#a"/></g>'), "has a <use> that refers to itself"),
    ('<svg xmlns="http://www.w3.org/2000/svg" width="1e400" viewBox="0 0 10 10"/>',
     'width="1e400": the number 1e400 is out of range'),
    (SVG.format('<rect width="10" height="' + "9" * 400 + '"/>'), "is out of range (the limit is 1,000,000)"),
    (SVG.format('<path d="M0 0 L1e9 5"/>'), "the number 1e9 is out of range"),
    (SVG.format("<style>rect { stroke-width: 1e400px }</style><rect width='1' height='1'/>"),
     "has a <style> with 'rect { stroke-width: 1e400px }': the number 1e400 is out of range"),
    (SVG.format("<rect"), "is not well-formed XML"),
])
def test_costly_or_malformed_svg_logos_are_refused_quickly(tmp_path, svg, message):
    profile = logo_profile(tmp_path, "logo.svg", svg.encode())
    started = time.monotonic()
    refused(profile, "SVG logo 'logo.svg'", message, str(profile))
    assert time.monotonic() - started < 2


def test_entities_are_never_declared_or_expanded(tmp_path):
    laughs = ('<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">'
              '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>' + SVG.format("<text>&b;</text>"))
    refused(logo_profile(tmp_path, "logo.svg", laughs.encode()), "SVG logo")


def test_an_svg_within_the_limits_builds(cli, tmp_path, out):
    group = "".join(f'<rect x="{i % 10}" y="{i // 10}" width="1" height="1" fill="#1e4000"/>' for i in range(30))
    group += "<style>.a1e400 { fill: #2e9999; stroke-width: .5 }</style>"
    svg = SVG.format(f'<defs><g id="g">{group}</g></defs>' + '<use href="#g" x="2"/>' * 100)
    profile = logo_profile(tmp_path, "logo.svg", svg.encode())
    result = cli("build", "--lang", "en", "--clinic", str(profile), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert files_in(out / "clinic") == [f"{NAME}.en.pdf"]


# -- item 17: a QR code that scans from a 150 dpi print -------------------------

def qr_viewbox_modules(clinic):
    svg = base64.b64decode(clinic.qr_uri.split(",", 1)[1]).decode()
    return int(float(re.search(r'viewBox="0 0 ([\d.]+)', svg).group(1)))


def test_the_qr_code_has_a_four_module_quiet_zone(tmp_path):
    import segno

    url = "https://example.org/rpl"
    clinic = clinic_lib.load(write_profile(tmp_path / "p", name="A", phone="555 0100", website=url))
    symbol = segno.make(url, error="m", micro=False, boost_error=False).symbol_size(scale=1, border=0)[0]
    assert qr_viewbox_modules(clinic) == symbol + 2 * 4


@pytest.mark.parametrize("length, fill, code", [
    (20, "abcdefghij", "en"), (60, "abcdefghij", "en"), (75, "abcdefghij", "en"), (90, "abcdefghij", "en"),
    (90, "rpl/page?id=", "en"), (90, "AbcdefGhij-_~", "en"), (90, "abcdefghij", "ar"), (60, "rpl/page?id=", "ar"),
])
def test_every_accepted_website_scans_from_a_150_dpi_grey_render(cli, tmp_path, out, length, fill, code):
    base = "https://example.org/"
    url = base + (fill * 10)[: length - len(base)]
    assert len(url) == length
    profile = write_profile(tmp_path / "p", "q", name="A", phone="555 0100", website=url)
    result = cli("build", "--lang", code, "--clinic", str(profile), "--out", str(out))
    assert result.exit_code == 0, result.output
    pdf = out / "q" / f"{NAME}.{code}.pdf"
    subprocess.run(["pdftoppm", "-r", "150", "-gray", "-singlefile", str(pdf), str(tmp_path / "page")], check=True)
    decoded = subprocess.run(["zbarimg", "--raw", "-q", str(tmp_path / "page.pgm")], capture_output=True, text=True)
    assert decoded.stdout.strip() == url


def test_the_longest_website_allowed_still_prints_scannably():
    assert clinic_lib.max_qr_url() >= clinic_lib.FIELDS["website"][1]


def test_a_website_too_long_for_a_scannable_code_is_refused(monkeypatch):
    monkeypatch.setattr(clinic_lib, "MAX_QR_MM", 20.0)
    clinic_lib.max_qr_url.cache_clear()
    try:
        with pytest.raises(HandoutError) as caught:
            clinic_lib._qr("https://example.org/" + "a" * 70, "clinic.toml:3")
        longest = clinic_lib.max_qr_url()
        assert f"use an address of at most {longest} characters" in str(caught.value)
        assert "too long to print as a QR code that scans" in str(caught.value)
        clinic_lib._qr("https://example.org/" + "a" * (longest - 20), "clinic.toml:3")  # the longest fits
    finally:
        clinic_lib.max_qr_url.cache_clear()


# -- a sibling of item 5: a Latin clinic line on a right-to-left page keeps its order --

def word_x(pdf, word):
    import pypdfium2

    document = pypdfium2.PdfDocument(str(pdf))
    try:
        textpage = document[0].get_textpage()
        searcher = textpage.search(word, match_case=True, match_whole_word=True)
        found = searcher.get_next()
        assert found is not None, word
        return textpage.get_charbox(found[0])[0]
    finally:
        document.close()


def test_latin_clinic_lines_read_left_to_right_on_an_arabic_page(cli, tmp_path, out):
    profile = write_profile(tmp_path / "p", name="North Clinic", department="Obstetrics", phone="555 0100",
                            address="1 Main St", email="desk@example.org")
    result = cli("build", "--lang", "ar", "--clinic", str(profile), "--out", str(out))
    assert result.exit_code == 0, result.output
    pdf = out / "clinic" / f"{NAME}.ar.pdf"
    assert word_x(pdf, "North") < word_x(pdf, "Obstetrics")  # not "Obstetrics · North Clinic"
    assert word_x(pdf, "Main") < word_x(pdf, "desk")  # not "desk@example.org · 1 Main St"
