"""The command line: help, exit codes, one-line errors, nothing half-written."""

import json
import os
import subprocess
import sys

from tests.conftest import ROOT, SHIPPED, files_in


def test_help_does_not_import_weasyprint():
    code = ("import sys; from nkhandout.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "for cmd in ('build', 'check', 'locales', 'update', 'init-locale'):\n"
            "    try:\n        main([cmd, '--help'])\n    except SystemExit:\n        pass\n"
            "print('WEASY' if 'weasyprint' in sys.modules else 'CLEAN')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.stdout.strip().endswith("CLEAN")
    assert "Examples:" in result.stdout and "nkhandout build --lang es" in result.stdout


def test_unknown_locale_is_a_usage_error_listing_locales(cli, out):
    for code in ("xx", "../../etc"):
        result = cli("build", "--lang", code, "--out", str(out))
        assert result.exit_code == 2
        assert f"unknown locale {code!r}" in result.output
        assert "available: " + ", ".join(sorted(SHIPPED)) in result.output
    assert files_in(out) == []


def test_no_locale_given_is_a_usage_error(cli):
    result = cli("build")
    assert result.exit_code == 2 and "--lang CODE or --all" in result.output


def test_po_syntax_error_names_file_and_line(cli, project, out):
    path = project.locales_dir / "es.po"
    lines = path.read_text("utf-8").split("\n")
    index = next(i for i, line in enumerate(lines) if line.startswith("msgstr") and i > 30)
    lines[index] = "msgstr \"unterminated"
    path.write_text("\n".join(lines), "utf-8")
    result = cli("build", "--lang", "es", "--out", str(out))
    assert result.exit_code == 1
    assert f"content/topics/nk-cells/locales/es.po:{index + 1}: PO syntax error" in result.output
    assert "Traceback" not in result.output
    assert files_in(out) == []


def test_missing_translations_are_named_and_draft_builds_anyway(cli, project, out):
    path = project.locales_dir / "es.po"
    text = path.read_text("utf-8")
    start = text.index('msgctxt "for.heading"')
    end = text.index("\n\n", start)
    entry = text[start:end]
    blank = entry[: entry.index("msgstr")] + 'msgstr ""'
    path.write_text(text.replace(entry, blank), "utf-8")
    result = cli("build", "--lang", "es", "--out", str(out))
    assert result.exit_code == 1
    assert "content/topics/nk-cells/locales/es.po" in result.output and "for.heading" in result.output
    assert files_in(out) == []
    draft = cli("build", "--lang", "es", "--draft", "--out", str(out))
    assert draft.exit_code == 0, draft.output


def test_citation_without_reference_and_unused_reference(cli, project, out):
    source = project.source_file
    original = source.read_text("utf-8")
    source.write_text(original.replace("[@yamada2001]", "[@yamada2003]"), "utf-8")
    result = cli("build", "--lang", "en", "--out", str(out))
    assert result.exit_code == 1
    assert "content/topics/nk-cells/handout.toml: citation [@yamada2003] has no entry in the references" in result.output
    refs = json.loads(project.references_file.read_text("utf-8"))
    refs.append(dict(refs[0], id="extra2020"))
    source.write_text(original, "utf-8")
    project.references_file.write_text(json.dumps(refs), "utf-8")
    result = cli("build", "--lang", "en", "--out", str(out))
    assert result.exit_code == 1 and "reference 'extra2020' is never cited" in result.output


def test_malformed_csl_json(cli, project, out):
    project.references_file.write_text('[{"id": "dosiou2005",', "utf-8")
    result = cli("build", "--lang", "en", "--out", str(out))
    assert result.exit_code == 1
    assert result.output.startswith("nkhandout: content/topics/nk-cells/references.json:1: malformed CSL-JSON")


def test_output_folder_that_cannot_be_written(cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = cli("build", "--lang", "en", "--out", str(blocker / "sub"))
    assert result.exit_code == 1 and "cannot create output folder" in result.output


def test_overflow_writes_nothing_and_says_by_how_much(cli, project, out):
    source = project.source_file
    text = source.read_text("utf-8")
    old = 'p = "NK cell treatment is still an experiment.'
    long = "Ask your care team: " + "what does this test mean for me? " * 60
    assert old in text
    source.write_text(text.replace(old, f'p = "{long} NK cell treatment is still an experiment.'), "utf-8")
    result = cli("build", "--lang", "en", "--out", str(out))
    assert result.exit_code == 1
    assert "locale en: handout takes 2 pages: it overflows one page by about" in result.output
    assert "longest section: 'do'" in result.output
    assert files_in(out) == []


def test_atomic_write_leaves_no_temporary_files(cli, out):
    assert cli("build", "--lang", "en", "--out", str(out)).exit_code == 0
    assert files_in(out) == ["nk-cells-recurrent-miscarriage.en.pdf"]
    assert files_in(out / ".nkhandout") == ["nk-cells-recurrent-miscarriage.en.pdf.json"]
    assert oct(os.stat(out / "nk-cells-recurrent-miscarriage.en.pdf").st_mode)[-3:] == "644"
