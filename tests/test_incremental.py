"""Incremental and parallel builds."""

import os
import subprocess
import sys

import pytest

from nkhandout import incremental
from tests.conftest import ROOT

NAME = "nk-cells-recurrent-miscarriage"


def built_line(result):
    return [line for line in result.output.splitlines() if line.startswith("built ")][-1]


def test_nothing_changed_means_nothing_built_and_no_renderer_loaded(project, out):
    env = dict(os.environ, NKHANDOUT_ROOT=str(project.root))
    command = [sys.executable, "-m", "nkhandout", "build", "--lang", "es", "--lang", "de", "--out", str(out)]
    subprocess.run(command, check=True, env=env, capture_output=True)
    probe = ("import sys\nfrom nkhandout.cli import main\n"
             f"try:\n    main({command[3:]!r})\nexcept SystemExit:\n    pass\n"
             "print('LOADED', sorted(m for m in ('weasyprint', 'babel', 'jinja2') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, cwd=ROOT)
    assert "built 0, up to date 2" in result.stdout
    assert "LOADED []" in result.stdout


@pytest.mark.parametrize("change", [
    "source", "references", "catalog", "template", "stylesheet", "font manifest", "font file",
    "clinic profile", "clinic logo", "paper option", "draft option", "software version",
])
def test_every_kind_of_input_invalidates(project, tmp_path, monkeypatch, change):
    clinic_dir = tmp_path / "clinic"
    clinic_dir.mkdir()
    (clinic_dir / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>', "utf-8")
    profile = clinic_dir / "c.toml"
    profile.write_text('name = "C"\nphone = "112"\nlogo = "logo.svg"\n', "utf-8")
    fonts = tmp_path / "fonts"
    fonts.mkdir()
    (fonts / "x.ttf").write_bytes(b"font")
    project = type(project)(root=project.root, fonts_dir=fonts, topic_name=project.topic_name)
    options = (("paper", "auto"), ("draft", False))

    def key(opts=options):
        from nkhandout import clinic

        return incremental.input_hash(project, "es", clinic.load(profile), opts)

    before = key()
    assert key() == before  # stable when nothing changes
    files = {
        "source": project.source_file, "references": project.references_file,
        "catalog": project.catalog_file("es"), "template": project.templates_dir / "handout.html.j2",
        "stylesheet": project.templates_dir / "print.css", "font manifest": project.templates_dir / "fonts.toml",
        "clinic profile": profile, "clinic logo": clinic_dir / "logo.svg",
    }
    if change == "clinic profile":
        text = profile.read_text("utf-8")
        assert 'phone = "112"' in text
        profile.write_text(text.replace('phone = "112"', 'phone = "113"'), "utf-8")
        after = key()
    elif change == "clinic logo":
        (clinic_dir / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"><g/></svg>', "utf-8")
        after = key()
    elif change in files:
        with open(files[change], "a", encoding="utf-8") as handle:
            handle.write("\n")
        after = key()
    elif change == "font file":
        (fonts / "x.ttf").write_bytes(b"font2")
        after = key()
    elif change == "paper option":
        after = key((("paper", "letter"), ("draft", False)))
    elif change == "draft option":
        after = key((("paper", "auto"), ("draft", True)))
    else:
        real = incremental.package_versions()
        monkeypatch.setattr(incremental, "package_versions", lambda: dict(real, weasyprint="999"))
        after = key()
    assert after != before


def test_changed_catalog_rebuilds_only_that_locale_and_force_rebuilds_all(cli, project, out):
    assert built_line(cli("build", "--lang", "es", "--lang", "fr", "--out", str(out))) == f"built 2, up to date 0 in {out}"
    path = project.catalog_file("fr")
    path.write_text(path.read_text("utf-8").replace("Cellules NK", "Les cellules NK", 1), "utf-8")
    assert built_line(cli("build", "--lang", "es", "--lang", "fr", "--out", str(out))) == f"built 1, up to date 1 in {out}"
    assert built_line(cli("build", "--lang", "es", "--lang", "fr", "--out", str(out), "--force")) == f"built 2, up to date 0 in {out}"


def test_a_damaged_or_missing_pdf_is_rebuilt(cli, project, out):
    cli("build", "--lang", "es", "--out", str(out))
    pdf = out / f"{NAME}.es.pdf"
    good = pdf.read_bytes()
    pdf.write_bytes(good[:1000])
    assert built_line(cli("build", "--lang", "es", "--out", str(out))).startswith("built 1,")
    assert pdf.read_bytes() == good
    pdf.unlink()
    assert built_line(cli("build", "--lang", "es", "--out", str(out))).startswith("built 1,")


def test_parallel_build_is_byte_identical_to_serial(cli, project, tmp_path):
    locales = ["en", "ar", "zh_Hans", "vi"]
    codes = [arg for code in locales for arg in ("--lang", code)]
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    assert cli("build", *codes, "--jobs", "1", "--out", str(serial)).exit_code == 0
    assert cli("build", *codes, "--jobs", "2", "--out", str(parallel)).exit_code == 0
    for code in locales:
        name = f"{NAME}.{code}.pdf"
        assert (serial / name).read_bytes() == (parallel / name).read_bytes(), code

def test_parallel_errors_are_reported_per_handout(cli, project, out):
    path = project.catalog_file("de")
    path.write_text(path.read_text("utf-8") + '\nmsgid "x"\nmsgstr "unclosed\n', "utf-8")
    result = cli("build", "--lang", "en", "--lang", "de", "--lang", "es", "--jobs", "2", "--out", str(out))
    assert result.exit_code == 1
    assert "de: content/topics/nk-cells/locales/de.po:" in result.output and "PO syntax error" in result.output
    assert (out / f"{NAME}.en.pdf").exists() and (out / f"{NAME}.es.pdf").exists()
