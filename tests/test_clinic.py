"""Clinic profiles: the box on the page, paper, QR code, batches, bad input."""

import re
import subprocess

import pytest

from nkhandout import clinic as clinic_lib, locales
from tests import pdfutil
from tests.conftest import ROOT, SHIPPED, files_in, write_profile

EXAMPLE = ROOT / "examples" / "clinics"
NAME = "nk-cells-recurrent-miscarriage"


@pytest.fixture(scope="session")
def clinic_built(tmp_path_factory):
    """Every shipped locale with the full example profile (US: Letter)."""
    from nkhandout import batch
    from nkhandout.project import Project

    out = tmp_path_factory.mktemp("clinic")
    project = Project.at(ROOT, fonts_dir=ROOT / "templates" / "fonts")
    result = batch.run(project, SHIPPED, out_dir=out, clinic_paths=[EXAMPLE / "riverside.toml"])
    assert not result.failures, [str(f) for f in result.failures]
    written = {path.name.split(".")[-2]: path for path in result.written}
    assert sorted(written) == sorted(SHIPPED), sorted(written)
    return written


@pytest.mark.parametrize("code", SHIPPED)
def test_full_profile_fits_and_prints_name_and_phone(clinic_built, code):
    path = clinic_built[code]
    assert pdfutil.page_count(path) == 1
    text = re.sub(r"\s+", " ", pdfutil.text(path))
    if locales.info(code).direction == "rtl":
        # pdfium extracts a wrapped right-to-left line in visual order, so the
        # words of a Latin name broken across lines come out as separate runs.
        words = set(text.split())
        assert {"Riverside", "Women's", "Health", "+1", "555", "0100"} <= words
    else:
        assert "Riverside Women's Health" in text
        assert "+1 555 0100" in text
    assert [round(x) for x in pdfutil.info(path)["mediabox"]] == [0, 0, 612, 792]  # US -> Letter


def test_call_label_is_translated(clinic_built):
    spanish = re.sub(r"\s+", " ", pdfutil.text(clinic_built["es"]))
    english = re.sub(r"\s+", " ", pdfutil.text(clinic_built["en"]))
    assert "¿Preguntas? Llame al +1 555 0100" in spanish
    assert "Questions? Call +1 555 0100" in english


@pytest.mark.parametrize("code", ["en", "ar"])
def test_qr_code_scans_to_the_website(clinic_built, tmp_path, code):
    image = tmp_path / "page.png"
    pdfutil.render_png(clinic_built[code], image, scale=300 / 72)
    result = subprocess.run(["zbarimg", "--raw", "-q", str(image)], capture_output=True, text=True)
    assert result.stdout.strip() == "https://example.org/rpl"


@pytest.mark.parametrize("code", ["en", "ar", "zh_Hans"])
def test_structure_tree_has_headings_lists_and_described_figures(clinic_built, code):
    tags, alts = pdfutil.structure(clinic_built[code])
    # The key message, four sections and the references.
    assert tags.count("H1") == 1 and tags.count("H2") == 6
    # Two bulleted lists, the checklist and the references; a list broken
    # across the columns is tagged as two fragments by WeasyPrint.
    assert tags.count("L") >= 4 and tags.count("LI") >= 13
    assert ("Figure", "Riverside Women's Health") in alts  # the logo
    assert ("Figure", "https://example.org/rpl") in alts  # the QR code
    meta = pdfutil.info(clinic_built[code])
    assert meta["lang"] == code.replace("_", "-")


@pytest.mark.parametrize("code", ["en", "es", "ar", "zh_Hans"])
def test_pdf_ua_checker_passes(clinic_built, code):
    import page

    report = page.validate_pdf(str(clinic_built[code]), profile=page.ValidationProfile.PDF_UA_1)
    assert report.is_compliant, [f.message for f in report.failures]


def test_without_a_clinic_there_is_no_box(built):
    text = pdfutil.text(built["en"])
    assert "Questions? Call" not in text
    tags, alts = pdfutil.structure(built["en"])
    # Only the icon arrays: three rows, each a Figure with its numbers in /Alt.
    assert tags.count("Figure") == 3 and len(alts) == 3


def test_paper_follows_the_clinic_country_and_paper_option_wins(cli, tmp_path, out):
    profile = write_profile(tmp_path / "p", "berlin", name="Praxis Berlin", phone="+49 30 1234", country="DE")
    assert cli("build", "--lang", "en", "--clinic", str(profile), "--out", str(out)).exit_code == 0
    assert [round(x) for x in pdfutil.info(out / "berlin" / f"{NAME}.en.pdf")["mediabox"]] == [0, 0, 595, 842]
    forced = cli("build", "--lang", "en", "--clinic", str(profile), "--paper", "letter", "--out", str(out))
    assert forced.exit_code == 0
    assert [round(x) for x in pdfutil.info(out / "berlin" / f"{NAME}.en.pdf")["mediabox"]] == [0, 0, 612, 792]


def test_batch_builds_every_clinic_and_lists_every_failure(cli, project, tmp_path, out):
    folder = tmp_path / "clinics"
    write_profile(folder, "north", name="North Clinic", phone="555 0101")
    write_profile(folder, "south", name="South Clinic", phone="555 0102", country="MX")
    # Break Spanish so that its combinations fail and the others go on.
    path = project.locales_dir / "es.po"
    text = path.read_text("utf-8")
    start = text.index('msgctxt "title"')
    entry = text[start:text.index("\n\n", start)]
    path.write_text(text.replace(entry, entry[: entry.index("msgstr")] + 'msgstr ""'), "utf-8")
    result = cli("build", "--lang", "en", "--lang", "es", "--lang", "fr", "--clinic", str(folder), "--out", str(out))
    assert result.exit_code == 1
    assert files_in(out) == ["north", "south"]
    assert files_in(out / "north") == [f"{NAME}.en.pdf", f"{NAME}.fr.pdf"]
    assert files_in(out / "south") == [f"{NAME}.en.pdf", f"{NAME}.fr.pdf"]
    assert "north / es: content/topics/nk-cells/locales/es.po" in result.output
    assert "south / es: content/topics/nk-cells/locales/es.po" in result.output
    assert "2 of 6 handouts failed" in result.output


LOGO_SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10"/></svg>'


@pytest.mark.parametrize("values, files, message", [
    ({"name": "A"}, {}, "missing key 'phone'"),
    ({"name": "A", "phone": "112", "phnoe": "2"}, {}, "unknown key 'phnoe' (did you mean 'phone'?)"),
    ({"name": "A", "phone": "112", "website": "ftp://x.org"}, {}, "'website' must be an http:// or https:// address"),
    ({"name": "A", "phone": "112", "website": "javascript:alert(1)"}, {}, "'website' must be an http"),
    ({"name": "A", "phone": "112", "country": "XX"}, {}, "'country' 'XX' is not an ISO 3166 country code"),
    ({"name": "A", "phone": "112", "logo": "missing.svg"}, {}, "logo 'missing.svg' not found"),
    ({"name": "A", "phone": "112", "logo": "logo.gif"}, {"logo.gif": b"GIF89a"}, "logo must be an SVG or PNG file"),
    ({"name": "A", "phone": "112", "logo": "big.png"}, {"big.png": b"\x89PNG\r\n\x1a\n" + b"0" * (2 * 1024 * 1024)}, "the limit is 2 MB"),
    ({"name": "A", "phone": "112", "logo": "../../etc/passwd"}, {}, "'logo' must be a file name inside the profile's folder"),
    ({"name": "A", "phone": "112", "logo": "/etc/passwd"}, {}, "'logo' must be a file name inside the profile's folder"),
    ({"name": "A", "phone": "112", "logo": "x.svg"}, {"x.svg": LOGO_SVG.replace("<rect", '<image href="file:///etc/passwd"/><rect')}, "refers to something outside itself"),
    ({"name": "A", "phone": "112", "logo": "x.svg"}, {"x.svg": LOGO_SVG.replace("<rect", '<use href="http://example.org/a.svg#x"/><rect')}, "refers to something outside itself"),
    ({"name": "A", "phone": "112", "logo": "x.svg"}, {"x.svg": LOGO_SVG.replace("<rect", '<rect style="fill:url(http://evil/)"/><rect')}, "refers to something outside itself"),
    ({"name": "A", "phone": "112", "logo": "fake.png"}, {"fake.png": b"<svg/>"}, "not a PNG image"),
    ({"name": "A" * 61, "phone": "112"}, {}, "at most 60 fit on the page at a readable size"),
    ({"name": "A", "phone": "call me <now>"}, {}, "'phone' may hold digits"),
    ({"name": "A", "phone": "112", "email": "not-an-address"}, {}, "'email' is not an e-mail address"),
])
def test_bad_profiles_give_one_line_and_no_pdf(cli, tmp_path, out, values, files, message):
    folder = tmp_path / "profile"
    profile = write_profile(folder, **values)
    for name, data in files.items():
        (folder / name).write_bytes(data.encode() if isinstance(data, str) else data)
    result = cli("build", "--lang", "en", "--clinic", str(profile), "--out", str(out))
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert str(profile) in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert files_in(out) in ([], ["clinic"]) and files_in(out / "clinic") == []


def test_wrong_type_and_syntax_name_the_line(cli, tmp_path, out):
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "c.toml").write_text('name = "A"\nphone = 5550100\n', "utf-8")
    result = cli("build", "--lang", "en", "--clinic", str(folder / "c.toml"), "--out", str(out))
    assert result.exit_code == 1 and "c.toml:2: 'phone' must be text in quotes, not int" in result.output
    (folder / "c.toml").write_text('name = "A"\nphone = "1\n', "utf-8")
    result = cli("build", "--lang", "en", "--clinic", str(folder / "c.toml"), "--out", str(out))
    assert result.exit_code == 1 and "c.toml:2: TOML syntax error" in result.output


def test_logo_symlink_leaving_the_folder_is_refused(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    secret = tmp_path / "secret.svg"
    secret.write_text(LOGO_SVG, "utf-8")
    (folder / "logo.svg").symlink_to(secret)
    profile = write_profile(folder, name="A", phone="112", logo="logo.svg")
    with pytest.raises(Exception, match="leads outside the profile's folder"):
        clinic_lib.load(profile)


def test_example_profile_is_valid_and_documented():
    profile = clinic_lib.load(EXAMPLE / "riverside.toml")
    assert profile.slug == "riverside" and profile.country == "US"
    assert profile.logo_uri.startswith("data:image/svg+xml;base64,")
    readme = (ROOT / "README.md").read_text("utf-8")
    assert "examples/clinics/riverside.toml" in readme
