"""Catalogs stay valid for GNU gettext, Poedit and Weblate: every command
that writes a catalog leaves one `msgfmt -c` accepts, the old English of a
changed string survives any number of updates, and what translators' tools
and text editors write is read and written back without needless changes."""

import json
import os
import re
import shutil
import subprocess

import polib
import pytest
from babel.messages.catalog import Catalog
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from nkhandout import build, catalog
from tests.conftest import drop_locale

pytestmark = pytest.mark.skipif(shutil.which("msgfmt") is None, reason="GNU gettext's msgfmt is not installed")

ITEM1 = "Many studies found more NK cells, or more active ones, after repeated miscarriages. [@dosiou2005]"
# Long, and with line breaks inside, as a translator's tool may see them.
LONG_A = ("Some studies found more NK cells, or more active ones, in the womb lining or in the blood of "
          "women who had several miscarriages in a row, but they measured them in different ways.\n"
          "What such a count means for a next pregnancy is not known, and no test of NK cells has been "
          "shown to tell who will have a baby. [@dosiou2005]\n"
          "Ask what a result would change before you pay for a test.")
LONG_B = LONG_A.replace("several miscarriages in a row", "two or more miscarriages, one after another")
LONG_C = LONG_B.replace("Ask what a result", "Ask your doctor what a result")


def msgfmt(path):
    """(exit status, messages) of `msgfmt -c` on ``path``."""
    done = subprocess.run(["msgfmt", "-c", "-o", os.devnull, str(path)], capture_output=True, text=True)
    return done.returncode, done.stderr


def assert_msgfmt_accepts(*paths):
    for path in paths:
        status, messages = msgfmt(path)
        assert status == 0, f"{path.name}: {messages}"


def set_english(project, old, new):
    """Change one English string of the source (a TOML basic string)."""
    source = project.source_file
    text = source.read_text("utf-8")
    quoted_old, quoted_new = (json.dumps(s, ensure_ascii=False) for s in (old, new))
    assert quoted_old in text
    source.write_text(text.replace(quoted_old, quoted_new), "utf-8")


def translate_everything(path, code, prefix="IT "):
    """What a translator does: every entry translated, fuzzy flags and old
    English removed."""
    loaded = catalog.load(path, locale=code)
    for message in loaded.catalog:
        if message.id:
            message.string = prefix + message.id
            message.flags.discard("fuzzy")
            message.previous_id = []
    path.write_text(catalog.dump(loaded), "utf-8")


def entry(path, context):
    """The entry of ``context`` as GNU-compatible polib reads the file."""
    return next(e for e in polib.pofile(str(path)) if e.msgctxt == context and not e.obsolete)


def all_catalogs(project):
    """Every catalog of the project: the topic's and the shared labels'."""
    return sorted(project.locales_dir.glob("*.po")) + sorted(project.labels_dir.glob("*.po"))


def catalogs(project):
    return {project.relative(path): path.read_bytes() for path in all_catalogs(project)}


def without_entry(text, context):
    """``text`` with the entry of ``context`` cut out (it runs from its
    comments to the blank line after it)."""
    at = text.index(f'msgctxt "{context}"')
    start = text.rindex("\n\n", 0, at) + 2
    end = text.index("\n\n", at)
    return text[:start] + text[end + 2:]


# -- every command that writes a catalog leaves one msgfmt -c accepts ----------

def test_shipped_catalogs_and_update_on_unchanged_english_are_byte_for_byte_the_same(cli, project):
    before = catalogs(project)
    assert_msgfmt_accepts(*all_catalogs(project))
    result = cli("update")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "all catalogs are up to date"
    assert catalogs(project) == before


def test_init_update_mark_reviewed_each_leave_a_catalog_msgfmt_accepts(cli, project):
    assert cli("init-locale", "it").exit_code == 0
    it = project.locales_dir / "it.po"
    assert_msgfmt_accepts(it, project.labels_file("it"))
    translate_everything(it, "it")
    translate_everything(project.labels_file("it"), "it")
    set_english(project, ITEM1, LONG_A)
    result = cli("update")
    assert result.exit_code == 0, result.output
    assert_msgfmt_accepts(*all_catalogs(project))
    translate_everything(it, "it")
    marked = cli("mark-reviewed", "it", "--by", "Test Reviewer, medical translator", "--date", "2026-11-20")
    assert marked.exit_code == 0, marked.output
    assert_msgfmt_accepts(it)
    assert entry(it, "for.item1").msgid == LONG_A


def test_long_old_english_survives_many_updates_whole(cli, project):
    """The issue's case: a long, wrapped, multi-line string that changes, then
    changes again; the #| msgid holds the English the translation was made
    from, all of it, and GNU msgfmt accepts the catalog after every update."""
    assert cli("init-locale", "it").exit_code == 0
    it = project.locales_dir / "it.po"
    set_english(project, ITEM1, LONG_A)
    assert cli("update").exit_code == 0
    translate_everything(it, "it")
    fr_translation = entry(project.locales_dir / "fr.po", "for.item1").msgstr
    for new, old in ((LONG_B, LONG_A), (LONG_C, LONG_B)):
        set_english(project, old, new)
        result = cli("update")
        assert result.exit_code == 0, result.output
        assert "for.item1" in result.output
        assert_msgfmt_accepts(*all_catalogs(project))
        found = entry(it, "for.item1")
        assert found.msgid == new and "fuzzy" in found.flags
        assert found.previous_msgid == LONG_A  # the English the Italian translates
        assert found.msgstr == "IT " + LONG_A
        text = it.read_text("utf-8")
        assert len(re.findall(r"^#\| ", text, re.M)) >= 4  # wrapped over several #| lines
        fr = entry(project.locales_dir / "fr.po", "for.item1")
        assert fr.previous_msgid == ITEM1 and fr.msgstr == fr_translation
        # Our own reader reads back what GNU-compatible readers read.
        reread = catalog.load(it, locale="it").catalog.get(new, context="for.item1")
        assert reread.previous_id == [LONG_A] and reread.fuzzy
    before = catalogs(project)
    again = cli("update")
    assert again.output.strip() == "all catalogs are up to date"
    assert catalogs(project) == before


def test_update_changes_only_the_lines_of_the_changed_string(cli, project):
    fr = project.locales_dir / "fr.po"
    before = fr.read_text("utf-8")
    set_english(project, ITEM1, LONG_A)
    assert cli("update").exit_code == 0
    after = fr.read_text("utf-8")
    assert without_entry(after, "for.item1") == without_entry(before, "for.item1")
    # Within the entry, the French translation's lines are the file's own.
    old_msgstr = re.search(r'msgctxt "for.item1"\n(?:.*\n)*?(msgstr (?:.*\n)+?)\n', before).group(1)
    assert old_msgstr in after


# -- what translators' tools write -------------------------------------------------

def test_crlf_catalog_is_read_and_written_back_with_crlf(cli, project):
    es = project.catalog_file("es")
    crlf = es.read_bytes().replace(b"\n", b"\r\n")
    es.write_bytes(crlf)
    state = build.locale_state(build.load_inputs(project), "es")
    assert state.stats.complete and state.problems == []
    assert cli("update").output.strip() == "all catalogs are up to date"
    assert es.read_bytes() == crlf
    set_english(project, ITEM1, LONG_A)
    assert cli("update").exit_code == 0
    written = es.read_bytes()
    assert written.count(b"\n") == written.count(b"\r\n")  # every line still ends in CRLF
    assert_msgfmt_accepts(es)
    assert entry(es, "for.item1").previous_msgid == ITEM1


@pytest.mark.parametrize("tool, width, header", [
    ("Poedit", 79, {"Language": "es_ES", "X-Generator": "Poedit 3.4.2", "X-Poedit-Basepath": "..",
                    "X-Poedit-SearchPath-0": "content", "Language-Team": "Spanish <es@li.org>"}),
    ("Weblate", 77, {"Language": "es", "X-Generator": "Weblate 5.8.1",
                     "Language-Team": "Spanish <https://hosted.weblate.org/projects/nkhandout/handout/es/>",
                     "Report-Msgid-Bugs-To": ""}),
])
def test_a_catalog_saved_by_a_translation_tool_is_kept_as_the_tool_wrote_it(cli, project, tool, width, header):
    es = project.catalog_file("es")
    text = es.read_text("utf-8")
    for name, value in header.items():
        if re.search(rf'^"{name}: ', text, re.M):
            text = re.sub(rf'^"{name}: .*\\n"$', f'"{name}: {value}\\\\n"', text, count=1, flags=re.M)
        else:
            text = text.replace('"X-Review-Status:', f'"{name}: {value}\\n"\n"X-Review-Status:', 1)
    es.write_text(text, "utf-8")
    # GNU gettext wraps as Poedit and Weblate do: at their widths, by its own rules.
    subprocess.run(["msgcat", f"--width={width}", "-o", str(es), str(es)], check=True)
    saved = es.read_bytes()
    assert saved != text.encode("utf-8")  # the tool did rewrap
    state = build.locale_state(build.load_inputs(project), "es")
    assert state.stats.complete and state.problems == [], state.problems
    assert state.loaded.extra_headers["X-Generator"] == header["X-Generator"]
    assert cli("update").output.strip() == "all catalogs are up to date"
    assert es.read_bytes() == saved
    marked = cli("mark-reviewed", "es", "--by", "Ana Ruiz, médica", "--date", "2026-11-20")
    assert marked.exit_code == 0, marked.output
    changed = [line for line in es.read_text("utf-8").splitlines()
               if line not in saved.decode("utf-8").splitlines()]
    assert changed == ['"X-Review-Status: reviewed\\n"', '"X-Reviewed-By: Ana Ruiz, médica\\n"',
                       '"X-Review-Date: 2026-11-20\\n"', '"X-Reviewed-Version: 2.0\\n"']
    assert_msgfmt_accepts(es)
    assert polib.pofile(str(es)).metadata["X-Generator"] == header["X-Generator"]


def test_polish_catalog_with_a_regional_language_header(cli, project):
    drop_locale(project, "pl")  # Polish ships: start it again, as a translator with Poedit would
    assert cli("init-locale", "pl").exit_code == 0
    pl = project.locales_dir / "pl.po"
    text = pl.read_text("utf-8").replace('"Language: pl\\n"', '"Language: pl_PL\\n"')
    poedit = ('"Plural-Forms: nplurals=3; plural=(n==1 ? 0 : n%10>=2 && n%10<=4 && (n%100<12 || '
              'n%100>14) ? 1 : 2);\\n"\n')
    text = re.sub(r'"Plural-Forms: .*\\n"\n', lambda _: poedit, text)
    pl.write_text(text, "utf-8")
    translate_everything(pl, "pl", prefix="PL ")
    translate_everything(project.labels_file("pl"), "pl", prefix="PL ")
    state = build.locale_state(build.load_inputs(project), "pl")
    assert state.problems == [] and state.stats.complete
    assert state.loaded.raw_language == "pl_PL"
    before = pl.read_bytes()
    assert b'"Language: pl_PL\\n"' in before
    assert cli("update").output.strip() == "all catalogs are up to date"
    assert pl.read_bytes() == before
    assert_msgfmt_accepts(pl)


def test_a_text_editor_s_rewrapping_is_kept_by_the_first_update(cli, project):
    de = project.catalog_file("de")
    text = de.read_text("utf-8")
    # A translator joined the wrapped lines of one translation and fixed a word
    # in another, by hand.
    lead = re.search(r'(msgctxt "lead"\nmsgid (?:.*\n)+?msgstr )((?:".*"\n)+)', text)
    joined = '"' + "".join(re.findall(r'^"(.*)"$', lead.group(2), re.M)) + '"\n'
    text = text.replace(lead.group(0), lead.group(1) + joined)
    edited = text.replace("Hebamme", "Hebamme oder Ihrem Pflegeteam", 1)
    assert edited != text
    de.write_text(edited, "utf-8")
    set_english(project, ITEM1, LONG_A)
    assert cli("update").exit_code == 0
    after = de.read_text("utf-8")
    assert without_entry(after, "for.item1") == without_entry(edited, "for.item1")
    assert_msgfmt_accepts(de)


# -- what msgfmt -c refuses is refused ------------------------------------------------

def test_msgstr_ending_in_a_line_break_the_english_lacks_is_refused_like_msgfmt(cli, project, out):
    es = project.catalog_file("es")
    text = es.read_text("utf-8")
    title = re.search(r'msgctxt "title"\nmsgid .*\nmsgstr "(.*)"\n', text)
    es.write_text(text.replace(title.group(0), title.group(0).replace(
        f'"{title.group(1)}"', f'"{title.group(1)}\\n"')), "utf-8")
    status, messages = msgfmt(es)
    assert status != 0 and "end with '\\n'" in messages
    line = text[: title.start()].count("\n") + 2  # the msgid line
    checked = cli("check", "--lang", "es")
    assert checked.exit_code == 1
    assert f"content/topics/nk-cells/locales/es.po:{line}: title: the translation ends with a line break" in checked.output
    built = cli("build", "--lang", "es", "--out", str(out))
    assert built.exit_code == 1 and f"es.po:{line}: title: the translation ends with a line break" in built.output


def test_broken_old_english_lines_are_refused_with_their_line(cli, project):
    es = project.catalog_file("es")
    text = es.read_text("utf-8")
    text = text.replace('msgctxt "for.heading"', '#, fuzzy\n#| msgid ""\n#| "Why some doctors"\n'
                        '#| are testing\nmsgctxt "for.heading"', 1)
    es.write_text(text, "utf-8")
    status, messages = msgfmt(es)
    assert status != 0 and 'keyword "are" unknown' in messages
    line = text.split("\n").index("#| are testing") + 1
    result = cli("update")
    assert result.exit_code == 1
    assert f"content/topics/nk-cells/locales/es.po:{line}: PO syntax error in the old English (#| line)" in result.output
    assert "Traceback" not in result.output


# -- an edited msgid ------------------------------------------------------------------

def test_an_edited_msgid_is_diagnosed_as_such_with_its_line(cli, project, out):
    es = project.catalog_file("es")
    text = es.read_text("utf-8")
    old = 'msgid "Why some doctors test for NK cells"'
    assert text.count(old) == 1
    es.write_text(text.replace(old, 'msgid "Why some doctors test NK cells"'), "utf-8")
    line = text.split("\n").index(old) + 1
    checked = cli("check", "--lang", "es")
    assert checked.exit_code == 1
    assert f"content/topics/nk-cells/locales/es.po:{line}: for.heading: msgid edited" in checked.output
    assert 'put the English back (msgid "Why some doctors test for NK cells"' in checked.output
    built = cli("build", "--lang", "es", "--out", str(out))
    assert built.exit_code == 1 and f"es.po:{line}: for.heading: msgid edited" in built.output


# -- translators' comments say what each placeholder holds ----------------------------

def test_placeholder_comments_say_what_each_placeholder_holds(project):
    pot = build.load_inputs(project).pot
    comments = {m.context: " ".join(m.auto_comments) for m in pot if m.id}
    assert "{minutes} = 20, a number: minutes between two blood tests." in comments["against.item1"]
    assert "{nk_before} = 14% in English, a percentage:" in comments["for.item4"]
    assert "{quenby_women} = 29, a number" in comments["for.item4"]
    shipped = entry(project.catalog_file("fr"), "for.item4")
    assert "{nk_after} = 9% in English, a percentage" in " ".join(shipped.comment.split())


@pytest.mark.parametrize("change, msgfmt_refuses", [
    (lambda s: s, False),
    (lambda s: s + " }", False),  # msgfmt takes a lone } in Python brace format
    (lambda s: s + " {", True),
    (lambda s: s.replace("{minutes}", "{Minutes}"), True),
    (lambda s: s.replace("{minutes}", "{ minutes }"), True),
    (lambda s: s.replace("{minutes}", "{minutes:d}"), True),
    (lambda s: s.replace("{minutes}", ""), True),
    (lambda s: s + "\n", True),
    (lambda s: "\n" + s, True),
])
def test_what_msgfmt_refuses_in_a_translation_check_refuses(project, change, msgfmt_refuses):
    es = project.catalog_file("es")
    loaded = catalog.load(es, locale="es")
    message = next(m for m in loaded.catalog if m.context == "against.item1")
    assert "{minutes}" in message.id and "python-brace-format" in message.flags
    message.string = change(message.string)
    es.write_text(catalog.dump(loaded), "utf-8")
    status, messages = msgfmt(es)
    assert (status != 0) == msgfmt_refuses, messages
    state = build.locale_state(build.load_inputs(project), "es")
    refused = [text for _where, line, text in state.problems if text.startswith("against.item1:")]
    assert bool(refused) == msgfmt_refuses, refused
    if refused:
        assert all(line == message.lineno for _where, line, text in state.problems)


TEXT = st.lists(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"))
                | st.sampled_from(['"', "\\", "\t", "\n", " ", "\\n", '\\"', "word "]),
                min_size=1, max_size=120).map("".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(msgid=TEXT, msgstr=TEXT, old=TEXT)
def test_any_text_round_trips_through_dump_msgfmt_and_load(tmp_path, msgid, msgstr, old):
    """Quotes, backslashes, tabs, line breaks and long lines: what dump writes
    msgfmt -c accepts, and load (and polib) read back the same strings."""
    def edges(text):
        return text.startswith("\n"), text.endswith("\n")

    assume(msgid.strip() and edges(msgstr) == edges(msgid))
    po = Catalog(locale="it", fuzzy=False)
    # Only the flags given: none of the format flags Babel adds by looking at the text.
    po.add(msgid, msgstr, context="ctx", previous_id=[old]).flags = {"fuzzy"}
    po.add(msgid, msgstr, context="ctx2").flags = set()
    path = tmp_path / "it.po"
    path.write_text(catalog.dump(catalog.Loaded(po, {"X-Review-Status": "unreviewed"}, "it")), "utf-8")
    status, messages = msgfmt(path)
    assert status == 0, messages
    loaded = catalog.load(path, locale="it")
    fuzzy = loaded.catalog.get(msgid, context="ctx")
    assert (fuzzy.string, fuzzy.previous_id, fuzzy.fuzzy) == (msgstr, [old], True)
    assert loaded.catalog.get(msgid, context="ctx2").string == msgstr
    assert entry(path, "ctx").previous_msgid == old
    assert catalog.dump(loaded) == path.read_text("utf-8")


HEADER = 'msgid ""\nmsgstr ""\n"Language: es\\n"\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'


@pytest.mark.parametrize("body, line, message", [
    ('msgid "a"\nmsgstr "b\\qc"\n', 7, "unknown escape '\\\\q'"),
    ('msgid "a"\nmsgstr "caf\\u00e9"\n', 7, "unknown escape '\\\\u'"),
    ('#| msgid "x"\n#| are you\nmsgid "a"\nmsgstr "b"\n', 7, "old English (#| line): unknown keyword 'are'"),
    ('#| msgstr "x"\nmsgid "a"\nmsgstr "b"\n', 6, "old English (#| line): unknown keyword 'msgstr'"),
    ('#~ msgid "a"\n#~ are "b"\n', 7, "unknown keyword 'are'"),
    ('msgid "a"\nmsgstr "b"\n\n#~ msgid "a\n#~ msgstr "b"\n', 9, "string not closed"),
])
def test_syntax_msgfmt_refuses_is_refused_with_its_line(tmp_path, body, line, message):
    path = tmp_path / "es.po"
    path.write_text(HEADER + body, "utf-8")
    status, messages = msgfmt(path)
    assert status != 0 and f"es.po:{line}:" in messages
    with pytest.raises(catalog.HandoutError) as caught:
        catalog.load(path, "content/topics/nk-cells/locales/es.po")
    assert str(caught.value).startswith(f"content/topics/nk-cells/locales/es.po:{line}: PO syntax error")
    assert message in str(caught.value)


@pytest.mark.parametrize("body", [
    'msgid "a"\nmsgstr "b\\\\qc \\"quoted\\" \\t"\n',
    '# translator\'s note\n#. comment\n#: content/handout.toml:3\n#, fuzzy\n#| msgctxt "old"\n#| msgid ""\n'
    '#| "long "\n#| "old"\nmsgctxt "c"\nmsgid "a"\nmsgstr "b"\n',
    'msgid "a"\nmsgstr "b"\n\n#~ msgctxt "gone"\n#~ msgid ""\n#~ "x"\n#~ msgstr "y"\n',
    'msgid "a"\nmsgstr ""\n"b"\n"c"\n\n\n\nmsgid "d"\nmsgstr "e"\n# a note at the end\n',
    'msgid "a"\nmsgstr "no line end after the last line"',
])
def test_what_msgfmt_accepts_is_read_and_written_back_unchanged(tmp_path, body):
    path = tmp_path / "es.po"
    path.write_text(HEADER + body, "utf-8")
    assert msgfmt(path)[0] == 0
    loaded = catalog.load(path, "content/topics/nk-cells/locales/es.po")
    assert catalog.dump(loaded) == HEADER + body
