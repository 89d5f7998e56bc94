"""Catalog hardening: blank translations, text wider than its column, header
values, the same catalog checks for `check` and `build`, locale fallbacks."""

import re
import shutil

import pytest

from nkhandout import build, catalog, locales
from nkhandout.errors import UsageError
from tests.conftest import catalog_path, drop_locale, files_in
from tests.pdfutil import info as pdf_info, text as pdf_text

PDF = "nk-cells-recurrent-miscarriage.{}.pdf"


def set_msgstr(project, code, context, text):
    """Give ``context`` the translation ``text`` in ``code``'s catalog; return its line."""
    path = catalog_path(project, code, context)
    loaded = catalog.load(path, locale=code)
    entry = next(m for m in loaded.catalog if m.id and m.context == context)
    entry.string = text
    path.write_text(catalog.dump(loaded), "utf-8")
    return next(m for m in catalog.load(path, locale=code).catalog if m.context == context).lineno


def one_line_error(result):
    lines = [line for line in result.output.splitlines() if line.startswith("nkhandout:")]
    assert lines, result.output
    assert "Traceback" not in result.output
    return lines[0]


# -- item 8: blank translations ---------------------------------------------

@pytest.mark.parametrize("context, blank", [
    ("title", "   "),
    ("for.heading", " \t "),
    ("disclaimer", "..."),
    ("label.unreviewed", "\u200b"),
    ("do.p2", "* — *"),
])
def test_blank_translation_does_not_build(cli, project, out, context, blank):
    line = set_msgstr(project, "es", context, blank)
    result = cli("build", "--lang", "es", "--out", str(out))
    assert result.exit_code == 1
    error = one_line_error(result)
    where = project.relative(catalog_path(project, "es", context))
    assert f"{where}:{line}: {context}: translation is blank" in error
    assert "nkhandout check --lang es" in error
    assert files_in(out) == []
    checked = cli("check", "--lang", "es")
    assert checked.exit_code == 1
    assert f"{where}:{line}: {context}: translation is blank" in checked.output


def test_blank_translation_is_untranslated_everywhere(project):
    set_msgstr(project, "es", "disclaimer", "  .  ")
    inputs = build.load_inputs(project)
    state = build.locale_state(inputs, "es")
    assert not state.stats.complete and state.stats.untranslated == 1
    assert all(context != "disclaimer" for context, _ in state.translations)
    assert build.complete_locales(project, inputs).count("es") == 0


def test_draft_with_blank_notice_prints_the_english_one(cli, project, out):
    set_msgstr(project, "es", "label.unreviewed", " ")
    result = cli("build", "--lang", "es", "--draft", "--out", str(out))
    assert result.exit_code == 0, result.output
    printed = re.sub(r"\s+", " ", pdf_text(next(out.glob("*.pdf"))))
    assert "has not yet been reviewed by a qualified medical translator" in printed


# -- item 8: fit means no text wider than its column --------------------------

def test_unbreakable_word_is_refused_by_check_and_build(cli, project, out):
    path = project.catalog_file("es")
    loaded = catalog.load(path, locale="es")
    entry = next(m for m in loaded.catalog if m.context == "for.item1")
    entry.string = "Inmunoglobulinas" + "x" * 44 + " " + entry.string
    path.write_text(catalog.dump(loaded), "utf-8")
    checked = cli("check", "--lang", "es")
    assert checked.exit_code == 1, checked.output
    assert re.search(r"text runs \d+\.\d mm past its column in 'for'", checked.output)
    assert "fits one" not in checked.output
    built = cli("build", "--lang", "es", "--out", str(out))
    assert built.exit_code == 1
    error = one_line_error(built)
    assert re.search(r"locale es: text runs \d+\.\d mm past its column in 'for' at 'Inmunoglobulinasxx", error)
    assert files_in(out) == []


# -- item 9: header values ----------------------------------------------------

@pytest.mark.parametrize("reviewer", [
    "Ana Ruiz\nMD", "Ana Ruiz\rMD", "Ana\\nLanguage: fr", "Ana \u202eDM", "Ana\x00", "Ana\u2028MD",
])
def test_mark_reviewed_refuses_what_would_break_the_header(cli, project, reviewer):
    before = project.catalog_file("es").read_bytes()
    result = cli("mark-reviewed", "es", "--by", reviewer)
    assert result.exit_code == 2
    error = one_line_error(result)
    assert "--by value" in error and "catalog header" in error
    assert project.catalog_file("es").read_bytes() == before


def test_header_values_are_checked_wherever_a_catalog_is_written(project):
    loaded = catalog.load(project.catalog_file("es"), locale="es")
    loaded.extra_headers["X-Reviewed-By"] = "Ana\nLanguage: fr"
    with pytest.raises(catalog.HandoutError, match="cannot go into a catalog header"):
        catalog.dump(loaded)


def test_a_good_reviewer_still_round_trips(cli, project):
    result = cli("mark-reviewed", "es", "--by", 'Ana Ruiz, "MD" — médica')
    assert result.exit_code == 0, result.output
    loaded = catalog.load(project.catalog_file("es"), locale="es")
    assert loaded.extra_headers["X-Reviewed-By"] == "Ana Ruiz, 'MD' — médica"
    assert loaded.raw_language == "es"


# -- item 10: build runs the catalog checks of check ---------------------------

def test_build_refuses_a_catalog_whose_language_header_is_another(cli, project, out):
    shutil.copy(project.catalog_file("fr"), project.catalog_file("es"))
    result = cli("build", "--lang", "es", "--out", str(out))
    assert result.exit_code == 1
    error = one_line_error(result)
    assert re.search(r"content/topics/nk-cells/locales/es\.po:\d+: Language header is 'fr' but the file is es\.po", error)
    assert files_in(out) == []
    checked = cli("check", "--lang", "es")
    assert "Language header is 'fr' but the file is es.po" in checked.output


@pytest.mark.parametrize("header, code, same", [
    ("es", "es", True), ("es_ES", "es", True), ("es-ES", "es", True), ("pl_PL", "pl", True),
    ("zh_CN", "zh_Hans", True), ("pt", "pt_BR", True), ("iw", "he", True),
    ("fr", "es", False), ("zh_TW", "zh_Hans", False), ("pt_PT", "pt_BR", False), ("", "es", False),
    ("xx", "es", False),
])
def test_language_header_matches_by_babel(header, code, same):
    assert locales.same_language(header, code) is same


def test_regional_language_header_builds(project):
    path = project.catalog_file("es")
    path.write_text(path.read_text("utf-8").replace('"Language: es\\n"', '"Language: es-ES\\n"'), "utf-8")
    state = build.locale_state(build.load_inputs(project), "es")
    assert state.problems == []


def test_build_refuses_wrong_plural_forms(cli, project, out):
    path = project.catalog_file("es")
    text = path.read_text("utf-8")
    assert "nplurals=2" in text
    path.write_text(text.replace("nplurals=2", "nplurals=3"), "utf-8")
    result = cli("build", "--lang", "es", "--out", str(out))
    assert result.exit_code == 1
    assert "Plural-Forms says nplurals=3 but es has 2 plural forms" in one_line_error(result)
    assert files_in(out) == []


def test_build_refuses_characters_the_fonts_cannot_draw(cli, project, out):
    # Thai, with the citation marker the English lead has, so that only the
    # characters are wrong.
    set_msgstr(project, "es", "lead", "ภาษาไทย " * 3 + "[@dosiou2005]")
    result = cli("build", "--lang", "es", "--out", str(out))
    assert result.exit_code == 1
    assert "the fonts for es cannot draw" in one_line_error(result)
    assert files_in(out) == []


# -- item 18: locale fallbacks --------------------------------------------------

AVAILABLE = ["en", "es", "fr", "pt_BR", "zh_Hans", "ar", "he", "fil"]


@pytest.mark.parametrize("typed, code, paper", [
    ("es_MX", "es", "letter"), ("es-419", "es", None), ("pt", "pt_BR", None),
    ("zh-CN", "zh_Hans", "a4"), ("iw", "he", None), ("tl", "fil", None), ("en-GB", "en", "a4"),
])
def test_fallbacks_resolve_with_babel(typed, code, paper):
    choice = locales.choose(typed, AVAILABLE)
    assert (choice.code, choice.paper) == (code, paper)
    assert locales.resolve(typed, AVAILABLE) == code


def test_traditional_chinese_never_falls_back_to_simplified():
    with pytest.raises(UsageError, match=r"zh_Hans is written in another script \(Hans, not Hant\)") as error:
        locales.choose("zh-TW", AVAILABLE)
    assert "init-locale zh_Hant" in str(error.value)
    assert locales.choose("zh-TW", AVAILABLE + ["zh_Hant"]).code == "zh_Hant"
    with pytest.raises(UsageError, match="pt_BR is for another country"):
        locales.choose("pt_PT", AVAILABLE)


def test_build_es_mx_uses_es_on_letter_and_says_so(cli, out):
    result = cli("build", "--lang", "es_MX", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "es_MX: using the es catalog, Letter paper" in result.output
    pdf = out / PDF.format("es")
    assert pdf_info(pdf)["mediabox"][2:] == [612, 792]


def test_build_zh_tw_is_refused_without_zh_hant(cli, project, out):
    traditional = cli("build", "--lang", "zh-TW", "--out", str(out / "hant"))
    assert traditional.exit_code == 0, traditional.output  # the zh_Hant catalog, on Taiwan's paper
    assert "zh-TW: using the zh_Hant catalog" in traditional.output
    drop_locale(project, "zh_Hant")
    result = cli("build", "--lang", "zh-TW", "--out", str(out / "none"))
    assert result.exit_code == 2
    assert "not used in its place" in one_line_error(result)
    assert files_in(out / "none") == []


@pytest.mark.parametrize("old, new", [("iw", "he"), ("tl", "fil"), ("in", "id")])
def test_init_locale_deprecated_code_finds_the_existing_catalog(cli, project, old, new):
    drop_locale(project, new)
    assert cli("init-locale", new).exit_code == 0
    before = sorted(p.name for p in project.locales_dir.iterdir())
    result = cli("init-locale", old)
    assert result.exit_code == 2
    assert f"locale {new} already exists" in one_line_error(result)
    assert sorted(p.name for p in project.locales_dir.iterdir()) == before


def test_init_locale_deprecated_code_creates_the_current_one(cli, project):
    drop_locale(project, "he")
    result = cli("init-locale", "iw")
    assert result.exit_code == 0, result.output
    assert (project.locales_dir / "he.po").exists()
    assert not (project.locales_dir / "iw.po").exists() and not (project.locales_dir / "he_IL.po").exists()


# -- beyond the list: characters that print reversed or not at all ----------------

@pytest.mark.parametrize("bad, shown", [("\u202e", "U+202E"), ("\x07", "U+0007"), ("\u2067", "U+2067")])
def test_bidi_overrides_and_control_characters_in_a_translation_are_refused(cli, project, out, bad, shown):
    line = set_msgstr(project, "es", "do.heading", f"Qué {bad}puede hacer")
    result = cli("build", "--lang", "es", "--out", str(out))
    assert result.exit_code == 1
    error = one_line_error(result)
    assert f"content/topics/nk-cells/locales/es.po:{line}: do.heading: contains" in error and shown in error
    assert files_in(out) == []


def test_direction_marks_and_joiners_stay_allowed():
    assert catalog.text_problem("\u200fنص\u200e \u200c\u200d") is None
