"""Catalogs: the template, reading with clear errors, merging."""

import pytest

from nkhandout import build, catalog, translate
from nkhandout.errors import HandoutError
from tests.conftest import ROOT, ROOT_TOPICS


def test_template_covers_source_labels_and_reference_words(project):
    """The topic's template holds its English; the shared labels' template
    the page's own words and the reference list's."""
    inputs = build.load_inputs(project)
    entries = {(m.context, m.id): m for pot in inputs.pots for m in pot if m.id}
    assert not {c for c, _ in entries if c.startswith("label.") or c == "reference"} & {
        m.context for m in inputs.pot if m.id}
    contexts = {c for c, _ in entries}
    assert {"title", "lead", "key", "disclaimer", "for.heading", "for.item1", "do.p1", "do.check1", "do.write1", "against.trial.caption", "against.trial.alt1", "against.trial.row1"} <= contexts
    label = entries[("label.references", "References")]
    assert label.locations[0][0] == "templates/handout.html.j2"
    assert label.auto_comments == ["Heading of the reference list."]
    assert ("label.reviewed", "Content reviewed {date}") in entries
    assert ("reference", "et al.") in entries
    source = entries[("for.item4", next(i for c, i in entries if c == "for.item4"))]
    assert source.locations[0][0] == "content/topics/nk-cells/handout.toml" and source.locations[0][1] > 0
    assert "python-brace-format" in source.flags


@pytest.mark.parametrize("topic", ROOT_TOPICS)
def test_committed_templates_are_current(library, topic):
    """Each topic's messages.pot, and the labels' one, are what `nkhandout update` writes."""
    inputs = build.load_inputs(library.for_topic(topic))
    assert (ROOT / "content" / "topics" / topic / "messages.pot").read_text("utf-8") == translate.pot_text(inputs.pot)
    assert (ROOT / "content" / "labels" / "messages.pot").read_text("utf-8") == translate.pot_text(inputs.labels_pot)


def write(tmp_path, text, name="xx.po", raw=None):
    path = tmp_path / name
    path.write_bytes(raw if raw is not None else text.encode("utf-8"))
    return path


HEADER = 'msgid ""\nmsgstr ""\n"Language: es\\n"\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'


@pytest.mark.parametrize("raw, message, where", [
    (b"\xef\xbb\xbf" + HEADER.encode(), "byte order mark", "es.po:1"),
    # CRLF line ends are accepted (tests/test_po_tools.py); a CR alone is not a line end.
    (HEADER.encode() + b'msgid "a"\rmsgstr "b"\n', "carriage return (CR)", "es.po:6"),
    (HEADER.encode() + 'msgid "a"\nmsgstr "\xe9"\n'.encode("latin-1"), "not valid UTF-8", "es.po:7"),
    (HEADER.encode() + b'msgid "a"\nmsgstr "b"\n\nmsgid "a"\nmsgstr "c"\n', "duplicate entry (first at line 6)", "es.po:9"),
    (HEADER.encode() + b'msgid "a"\nmsgstr "b\n', "string not closed", "es.po:7"),
    (HEADER.encode() + b'msgid "a"\nmsgstrr "b"\n', "unknown keyword 'msgstrr'", "es.po:7"),
    (b'msgid "a"\nmsgstr "b"\n', "no header entry", "es.po:1"),
    (HEADER.replace("UTF-8", "ISO-8859-1").encode(), "charset=UTF-8", "es.po:1"),
    (b"\x00\x01binary", "NUL", "es.po"),
])
def test_broken_catalogs_give_one_line_with_file_and_line(tmp_path, raw, message, where):
    path = write(tmp_path, "", "es.po", raw=raw)
    with pytest.raises(HandoutError) as caught:
        catalog.load(path, "content/topics/nk-cells/locales/es.po")
    line = str(caught.value)
    assert message in line
    assert line.startswith("content/topics/nk-cells/locales/" + where)
    assert "\n" not in line


def test_merge_marks_changed_english_fuzzy_and_keeps_the_old_text(project):
    inputs = build.load_inputs(project)
    translate.init_locale(project, "it")
    loaded = catalog.load(project.catalog_file("it"), locale="it")
    for message in loaded.catalog:
        if message.id:
            message.string = "IT " + message.id
    source = project.source_file
    text = source.read_text("utf-8")
    old = "Why some doctors test for NK cells"
    long_old = next(m.id for m in inputs.pot if m.context == "lead")
    source.write_text(text.replace(old, "What NK cells are").replace(long_old, long_old + " More."), "utf-8")
    pot = build.load_inputs(project).pot
    merged, changed = catalog.merge(loaded, pot)
    assert changed == ["lead", "for.heading"]
    entry = merged.catalog.get("What NK cells are", context="for.heading")
    assert entry.fuzzy and entry.previous_id == [old] and entry.string == "IT " + old
    dumped = catalog.dump(merged)
    assert f'#| msgid "{old}"' in dumped
    assert "X-Review-Status: unreviewed" in dumped
    project.catalog_file("it").write_text(dumped, "utf-8")
    reread = catalog.load(project.catalog_file("it"), locale="it")
    assert reread.catalog.get("What NK cells are", context="for.heading").previous_id == [old]
    # A long old English (several quoted lines) reads back whole, so a second update changes nothing.
    assert reread.catalog.get(long_old + " More.", context="lead").previous_id == [long_old]
    again, changed_again = catalog.merge(reread, pot)
    assert catalog.dump(again) == dumped and changed_again == []
    del inputs
