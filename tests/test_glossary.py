"""Glossary check: agreed translations of key terms, flagged like Weblate's check."""

import re

import pytest

from nkhandout import glossary
from tests.test_hostile import set_msgstr

LASKIN = ("*Les corticoïdes ont des risques.* Chez {laskin_women} femmes, une forte dose n'a pas "
          "clairement donné plus de bébés. Mais {early_steroid} bébés sur {hundred} sont nés tôt, "
          "contre {early_none} sur {hundred}. [@laskin1997]")


def write_glossary(project, code, body):
    path = project.content_dir / "glossary" / f"{code}.toml"
    path.write_text(body, "utf-8")
    return path


def stand_in_catalog(project, code):
    """Replace ``code``'s catalog in the copy with a fixture of its own: every
    entry translated by its English (complete, valid, and free of any French
    term), so that the glossary tests do not depend on the shipped
    translation. Returns {msgctxt: English}."""
    from nkhandout import build, catalog

    path = project.catalog_file(code)
    loaded = catalog.load(path, locale=code)
    english = {}
    for message in loaded.catalog:
        if message.id:
            message.string = message.id
            message.flags.discard("fuzzy")
            message.previous_id = []
            english[message.context] = message.id
    path.write_text(catalog.dump(loaded), "utf-8")
    assert code in build.complete_locales(project)
    return english


def test_english_term_matches_whole_words_any_case_and_plural():
    term = glossary.Term("NK cell", ("cellule NK",), 1)
    assert term.in_english("Many NK cells were found.") and term.in_english("an nk cell")
    assert not term.in_english("NK-cellular") and not term.in_english("NK alone")
    steroid = glossary.Term("steroid", ("corticoïde",), 1)
    assert steroid.in_english("Steroids have risks.") and not steroid.in_english("steroidal")
    assert steroid.in_translation("Les CORTICOÏDES") and not steroid.in_translation("les stéroïdes")


def test_entry_missing_the_agreed_word_is_one_line_with_file_line_context_and_word(cli, project):
    english = stand_in_catalog(project, "fr")  # none says "corticoïde"
    set_msgstr(project, "fr", "against.p1", LASKIN)
    set_msgstr(project, "fr", "do.check3", "Quels sont les risques des corticoïdes ?")
    write_glossary(project, "fr", '[terms]\n"steroid" = ["corticoïde"]\n"placebo" = "placebo"\n')
    result = cli("check", "--lang", "fr")
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if "glossary:" in line]
    flagged = {line.split(": ")[1] for line in lines}
    # Every entry whose English says steroid(s) (as a word, not inside a
    # placeholder such as {tang_steroid}), except the two translated with the
    # agreed word above.
    says_steroid = {context for context, text in english.items() if re.search(r"(?<!\w)steroids?\b", text, re.I)}
    assert {"against.p1", "do.check3"} < says_steroid and len(says_steroid) > 2, says_steroid
    assert flagged == says_steroid - {"against.p1", "do.check3"}, lines
    catalog_lines = (project.locales_dir / "fr.po").read_text("utf-8").splitlines()
    for line in lines:
        where, context = line.split(": ")[:2]
        assert where.startswith("content/topics/nk-cells/locales/fr.po:")
        number = int(where.rsplit(":", 1)[1])
        entry = "\n".join(catalog_lines[max(0, number - 3):number + 1])
        assert f'msgctxt "{context}"' in entry, (line, entry)
        assert line.endswith('glossary: the English has "steroid", the translation lacks "corticoïde" '
                             "(content/glossary/fr.toml)")


def test_a_term_not_in_the_english_list_is_refused_with_its_line(cli, project):
    write_glossary(project, "fr", '[terms]\n"placebo" = "placebo"\n"steroids" = "corticoïdes"\n')
    result = cli("check", "--lang", "fr")
    assert result.exit_code == 1
    assert ("content/glossary/fr.toml:3: 'steroids' is not a term of the English glossary" in result.output)
    assert "Traceback" not in result.output


@pytest.mark.parametrize("body, message", [
    ('[terms]\n"placebo" = \n', "TOML syntax error"),
    ('[terms]\n"placebo" = 3\n', "give the agreed translation as text"),
    ('placebo = "placebo"\n', "a glossary has one table, [terms]"),
])
def test_broken_glossary_is_one_clear_line(cli, project, body, message):
    write_glossary(project, "fr", body)
    result = cli("check", "--lang", "fr")
    assert result.exit_code == 1 and message in result.output
    assert "content/glossary/fr.toml" in result.output and "Traceback" not in result.output


def test_without_a_glossary_nothing_is_flagged(cli, project):
    stand_in_catalog(project, "fr")
    assert "glossary:" in cli("check", "--lang", "fr").output  # the French glossary flags it
    (project.content_dir / "glossary" / "fr.toml").unlink()
    result = cli("check", "--lang", "fr")
    assert "glossary" not in result.output
