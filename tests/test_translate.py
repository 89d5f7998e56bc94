"""Translator round trips through the real commands on a copy of content/."""

import re

from babel.messages.pofile import read_po, write_po

from tests.conftest import SHIPPED


def translate_all(path, prefix="Testo "):
    """Fill every msgstr of the catalog at ``path`` (keeping markers)."""
    with open(path, "rb") as handle:
        catalog = read_po(handle)
    for message in catalog:
        if message.id:
            message.string = prefix + message.id
            message.flags.discard("fuzzy")
    text = path.read_text("utf-8")
    headers = re.findall(r'^"X-[^"]*"\n', text, re.M)
    with open(path, "wb") as handle:
        write_po(handle, catalog, width=76)
    out = path.read_text("utf-8")
    out = out.replace('"Generated-By', "".join(headers) + '"Generated-By', 1) if headers else out
    out = re.sub(r'("Generated-By: [^"]*"\n)((?:"X-[^"]*"\n)+)', r"\2\1", out)
    path.write_text(out, "utf-8")


def translate_locale(project, code, prefix="Testo "):
    """Fill every msgstr of ``code``: the shared labels and every topic."""
    translate_all(project.labels_file(code), prefix)
    for topic in project.topic_names():
        path = project.for_topic(topic).catalog_file(code)
        if path.exists():
            translate_all(path, prefix)


def test_init_creates_a_complete_empty_catalog(cli, project):
    result = cli("init-locale", "it")
    assert result.exit_code == 0, result.output
    text = (project.locales_dir / "it.po").read_text("utf-8")
    assert '"Language: it\\n"' in text
    assert '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"' in text
    assert "charset=utf-8" in text
    assert "X-Review-Status: unreviewed" in text
    assert 'msgctxt "for.heading"' in text and "#: content/topics/nk-cells/handout.toml:" in text
    with open(project.locales_dir / "it.po", "rb") as handle:
        catalog = read_po(handle)
    assert all(not m.string for m in catalog if m.id)


def test_init_refuses_bad_and_existing_codes(cli):
    bad = cli("init-locale", "xx-nowhere")
    assert bad.exit_code == 2 and "not a locale Babel knows" in bad.output
    again = cli("init-locale", "ES")
    assert again.exit_code == 2 and "locale es already exists" in again.output


def test_round_trip_init_translate_check_build(cli, project, out):
    assert cli("init-locale", "it").exit_code == 0
    refused = cli("build", "--lang", "it", "--out", str(out))
    assert refused.exit_code == 1 and "untranslated" in refused.output
    translate_locale(project, "it", prefix="")  # as long as the English, so it fits like it
    checked = cli("check", "--lang", "it")
    assert checked.exit_code == 0, checked.output
    assert re.search(r"^it: ok, fits one page; free under the text: A4 \d+ mm, A4 with clinic \d+ mm, "
                     r"Letter \d+ mm, Letter with clinic \d+ mm; not reviewed", checked.output, re.M), checked.output
    built = cli("build", "--lang", "it", "--out", str(out))
    assert built.exit_code == 0, built.output
    assert (out / "nk-cells-recurrent-miscarriage.it.pdf").exists()


def test_changed_english_is_fuzzy_in_every_catalog_and_blocks_the_build(cli, project, out):
    assert cli("init-locale", "it").exit_code == 0
    translate_locale(project, "it")
    source = project.source_file
    old = "Why some doctors test for NK cells"
    before = {path.name: path.read_text("utf-8") for path in project.locales_dir.glob("*.po")}
    source.write_text(source.read_text("utf-8").replace(old, "Why some doctors test NK cells"), "utf-8")
    result = cli("update")
    assert result.exit_code == 0, result.output
    catalogs = sorted(project.locales_dir.glob("*.po"))
    assert len(catalogs) == len(SHIPPED)  # the shipped translations plus it
    for path in catalogs:
        with open(path, "rb") as handle:
            catalog = read_po(handle)
        entry = catalog.get("Why some doctors test NK cells", context="for.heading")
        assert entry.fuzzy, path.name
        was_fuzzy = re.search(r'#, fuzzy\n(?:#\|.*\n)*msgctxt "for.heading"', before[path.name])
        if was_fuzzy:
            # Already waiting for its translator: the English it last translated stays the old one.
            assert was_fuzzy.group(0).split("msgctxt")[0] in path.read_text("utf-8")
        else:
            assert [m.context for m in catalog if m.id and m.fuzzy] == ["for.heading"], path.name
            assert f'#| msgid "{old}"' in path.read_text("utf-8")
    assert "for.heading" in result.output
    again = cli("update")
    assert again.output.strip() == "all catalogs are up to date"
    refused = cli("build", "--lang", "it", "--out", str(out))
    assert refused.exit_code == 1 and "for.heading" in refused.output
    checked = cli("check", "--lang", "it")
    assert checked.exit_code == 1 and "for.heading: fuzzy (the English changed)" in checked.output
    translate_locale(project, "it")
    assert cli("build", "--lang", "it", "--out", str(out)).exit_code == 0


def test_removed_english_becomes_obsolete(cli, project):
    assert cli("init-locale", "it").exit_code == 0
    translate_locale(project, "it")
    source = project.source_file
    source.write_text(source.read_text("utf-8").replace(
        '  "What are the risks of steroids?",\n', ""), "utf-8")
    assert cli("update").exit_code == 0
    text = (project.locales_dir / "it.po").read_text("utf-8")
    assert '#~ msgid "What are the risks of steroids?"' in text


def test_review_status_round_trip(cli, project, out):
    assert cli("init-locale", "it").exit_code == 0
    translate_locale(project, "it")
    refused = cli("build", "--lang", "it", "--require-reviewed", "--out", str(out))
    assert refused.exit_code == 1 and "not reviewed by a qualified medical translator" in refused.output
    marked = cli("mark-reviewed", "it", "--by", "Test Reviewer, medical translator", "--date", "2026-11-20")
    assert marked.exit_code == 0, marked.output
    text = (project.locales_dir / "it.po").read_text("utf-8")
    assert '"X-Reviewed-By: Test Reviewer, medical translator\\n"' in text
    assert '"X-Review-Date: 2026-11-20\\n"' in text
    assert cli("build", "--lang", "it", "--require-reviewed", "--out", str(out)).exit_code == 0
    checked = cli("check", "--lang", "it")
    assert "reviewed by Test Reviewer, medical translator on 2026-11-20" in checked.output
    # A new content version needs a new review.
    source = project.source_file
    source.write_text(source.read_text("utf-8").replace('version = "2.0"', 'version = "2.1"'), "utf-8")
    again = cli("build", "--lang", "it", "--require-reviewed", "--out", str(out))
    assert again.exit_code == 1 and "content version 2.1" in again.output
