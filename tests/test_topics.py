"""A library of topics: every command works on every topic, --topic picks
some, labels are translated once for all, and a locale may lack a topic."""

import pytest
from click.testing import CliRunner

from nkhandout.cli import main
from tests.conftest import ROOT_TOPICS, files_in


@pytest.fixture
def run(library):
    def invoke(*args):
        return CliRunner().invoke(main, ["--root", str(library.root), *args], catch_exceptions=False)
    return invoke


def test_build_makes_every_topic_and_topic_picks_one(run, library, tmp_path):
    both = run("build", "--lang", "es", "--out", str(tmp_path / "both"))
    assert both.exit_code == 0, both.output
    assert files_in(tmp_path / "both") == ["nk-cells-recurrent-miscarriage.es.pdf", "progesterone-miscarriage.es.pdf"]
    one = run("build", "--lang", "es", "--topic", "progesterone", "--out", str(tmp_path / "one"))
    assert one.exit_code == 0 and files_in(tmp_path / "one") == ["progesterone-miscarriage.es.pdf"]
    unknown = run("build", "--lang", "es", "--topic", "vitamins", "--out", str(tmp_path / "x"))
    assert unknown.exit_code == 2 and "unknown topic 'vitamins'" in unknown.output
    assert "nk-cells, progesterone" in unknown.output


def test_a_locale_may_lack_a_topic(run, library, tmp_path):
    codes = {topic: {p.stem for p in (library.topics_dir / topic / "locales").glob("*.po")} for topic in ROOT_TOPICS}
    lacking = sorted(codes["nk-cells"] - codes["progesterone"])
    if not lacking:
        (library.topics_dir / "progesterone" / "locales" / "es.po").unlink()
        lacking = ["es"]
    code = lacking[0]
    built = run("build", "--lang", code, "--out", str(tmp_path / "one"))
    assert built.exit_code == 0, built.output
    assert files_in(tmp_path / "one") == [f"nk-cells-recurrent-miscarriage.{code}.pdf"]
    assert f"skipped progesterone: {code}: no catalog in this topic" in built.output
    every = run("build", "--all", "--out", str(tmp_path / "all"))
    assert every.exit_code == 0, every.output
    names = files_in(tmp_path / "all")
    assert f"progesterone-miscarriage.{code}.pdf" not in names and "progesterone-miscarriage.en.pdf" in names


def test_labels_are_translated_once_for_every_topic(run, library, tmp_path):
    labels = library.labels_file("es")
    labels.write_text(labels.read_text("utf-8").replace('msgstr "Referencias"', 'msgstr "Bibliografía"'), "utf-8")
    built = run("build", "--lang", "es", "--out", str(tmp_path / "out"))
    assert built.exit_code == 0, built.output
    from tests.pdfutil import text as pdf_text

    for pdf in sorted((tmp_path / "out").glob("*.pdf")):
        assert "Bibliografía" in pdf_text(pdf) and "Referencias" not in pdf_text(pdf), pdf.name


def test_init_locale_starts_labels_and_every_topic(run, library):
    made = run("init-locale", "it")
    assert made.exit_code == 0, made.output
    assert library.labels_file("it").exists()
    for topic in ROOT_TOPICS:
        assert (library.topics_dir / topic / "locales" / "it.po").exists()
    assert 'msgctxt "label.references"' in library.labels_file("it").read_text("utf-8")
    assert 'msgctxt "label.references"' not in (library.topics_dir / "nk-cells" / "locales" / "it.po").read_text("utf-8")


def test_init_topic_starts_a_topic_that_builds_in_english(run, library, tmp_path):
    made = run("init-topic", "vitamin-d")
    assert made.exit_code == 0, made.output
    assert (library.topics_dir / "vitamin-d" / "handout.toml").exists()
    assert run("update").exit_code == 0
    built = run("build", "--lang", "en", "--topic", "vitamin-d", "--out", str(tmp_path / "out"))
    assert built.exit_code == 0, built.output
    assert files_in(tmp_path / "out") == ["vitamin-d.en.pdf"]
    again = run("init-topic", "vitamin-d")
    assert again.exit_code == 2 and "already exists" in again.output
    bad = run("init-topic", "../up")
    assert bad.exit_code == 2 and "may hold only" in bad.output


def test_two_topics_may_not_share_a_handout_name(run, library, tmp_path):
    source = library.topics_dir / "progesterone" / "handout.toml"
    source.write_text(source.read_text("utf-8").replace('name = "progesterone-miscarriage"',
                                                        'name = "nk-cells-recurrent-miscarriage"'), "utf-8")
    result = run("build", "--lang", "en", "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and "both name their handouts" in result.output
    assert files_in(tmp_path / "out") == []


def test_a_fallback_is_announced_once_for_every_topic(run, tmp_path):
    result = run("build", "--lang", "es_MX", "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert result.output.count("es_MX: using the es catalog, Letter paper") == 1
    assert files_in(tmp_path / "out") == ["nk-cells-recurrent-miscarriage.es.pdf", "progesterone-miscarriage.es.pdf"]


def test_results_of_papers_and_topics_add_up():
    from nkhandout.batch import Result

    one = Result(written=["a"], not_built={"fr": "fuzzy"}, outdated=["x"])
    two = Result(skipped=["b"], failures=["f"], not_built={"de": "empty"}, outdated=["y"])
    merged = one.merge(two)
    assert merged is one
    assert (merged.written, merged.skipped, merged.failures) == (["a"], ["b"], ["f"])
    assert merged.not_built == {"fr": "fuzzy", "de": "empty"} and merged.outdated == ["x", "y"]
