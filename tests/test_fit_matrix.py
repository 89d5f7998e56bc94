"""`check` and `locales` measure the fit where the sheet prints: A4 and
Letter, without a clinic box and with the example clinic's, per topic; and a
draft's English gaps stay English (left-to-right on right-to-left pages)."""

import json
import re

from nkhandout import catalog
from tests.conftest import catalog_path


def lengthen(project, code, context, extra):
    path = catalog_path(project, code, context)
    loaded = catalog.load(path, locale=code)
    entry = next(m for m in loaded.catalog if m.id and m.context == context)
    entry.string = entry.string.rstrip(".") + extra
    path.write_text(catalog.dump(loaded), "utf-8")


def test_check_reports_every_paper_and_box_for_every_topic(library):
    from click.testing import CliRunner

    from nkhandout.cli import main

    result = CliRunner().invoke(main, ["--root", str(library.root), "check", "--lang", "es"])
    assert result.exit_code == 0, result.output
    for topic in ("nk-cells", "progesterone"):
        line = next(l for l in result.output.splitlines() if l.startswith(f"{topic} es: ok"))
        room = dict((name, int(mm)) for name, mm in re.findall(r"(A4|A4 with clinic|Letter|Letter with clinic) (-?\d+) mm", line))
        assert set(room) == {"A4", "A4 with clinic", "Letter", "Letter with clinic"}, line
        assert room["A4"] > room["A4 with clinic"] and room["Letter"] > room["Letter with clinic"], line


def test_overflow_names_the_combination_and_the_section_that_grew(cli, project):
    # A sentence added to one 'against' item: it still fits without the box, not with it.
    lengthen(project, "es", "against.item1", ". " + "Es importante hablarlo con calma. " * 4)
    result = cli("check", "--lang", "es", "--topic", "nk-cells")
    assert result.exit_code == 1
    problems = [l for l in result.output.splitlines() if "does not fit" in l]
    assert problems, result.output
    assert any("with the clinic box" in l for l in problems), problems
    assert all("grew most against the English: 'against'" in l for l in problems), problems
    assert not any("'references'" in l for l in problems)


def test_locales_json_is_structured(cli, project):
    lengthen(project, "fr", "for.item1", " [@yamada2001]")  # a citation the English does not have
    result = cli("locales", "--format", "json", "--topic", "nk-cells")
    assert result.exit_code == 0, result.output
    rows = {row["code"]: row for row in json.loads(result.output)}
    es = rows["es"]
    assert es["topic"] == "nk-cells" and es["english_name"] == "Spanish" and es["name"] == "español"
    assert es["percent"] == 100 and es["fonts_ok"] and es["content_version"] == "2.0"
    assert [f["combination"] for f in es["fit"]] == ["A4", "A4 with clinic", "Letter", "Letter with clinic"]
    assert all(f["fits"] and f["spare_mm"] > 0 for f in es["fit"])
    (problem,) = rows["fr"]["problems"]
    assert problem["code"] == "markers" and problem["file"] == "content/topics/nk-cells/locales/fr.po"
    assert isinstance(problem["line"], int) and problem["line"] > 0


def test_locales_table_aligns_wide_scripts(cli):
    result = cli("locales", "--no-layout", "--topic", "nk-cells")
    lines = [l for l in result.output.splitlines() if " zh_Hans " in l or " es " in l]
    import unicodedata

    def columns(text):
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)

    starts = {columns(l[: l.index("%")]) for l in lines}
    assert len(lines) == 2 and len(starts) == 1, lines


def test_draft_gaps_in_a_right_to_left_page_are_english_left_to_right(cli, project, out):
    path = project.catalog_file("ar")
    loaded = catalog.load(path, locale="ar")
    entry = next(m for m in loaded.catalog if m.context == "for.item2")
    entry.string = ""
    path.write_text(catalog.dump(loaded), "utf-8")
    result = cli("build", "--lang", "ar", "--draft", "--format", "html", "--topic", "nk-cells", "--out", str(out))
    assert result.exit_code == 0, result.output
    html = next(out.glob("*.ar.html")).read_text("utf-8")
    assert re.search(r'<span lang="en" dir="ltr">In miscarriage tissue, one study saw NK cells', html)
    assert html.count('lang="en" dir="ltr"') == 1
