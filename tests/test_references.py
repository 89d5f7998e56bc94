"""CSL-JSON loading, numbering and NLM style."""

import json

import pytest

from nkhandout import references
from nkhandout.errors import HandoutError
from tests.conftest import ROOT

REFS = references.load(ROOT / "content" / "topics" / "nk-cells" / "references.json")


def test_nlm_style_of_a_journal_article():
    assert references.format_nlm(REFS["moffett2004"]) == (
        "Moffett A, Regan L, Braude P. Natural killer cells, miscarriage, and infertility. "
        "BMJ. 2004;329(7477):1283-5. doi:10.1136/bmj.329.7477.1283")


def test_more_than_six_authors_become_et_al_in_the_locale_words():
    text = references.format_nlm(REFS["nakashima2008"], et_al="и др.")
    assert text.startswith("Nakashima A, Shiozaki A, Myojo S, Ito M, Tatematsu M, Sakai M, и др. Granulysin")
    assert "Takamori" not in text


def test_group_author_follows_the_people_after_a_semicolon():
    text = references.format_nlm(REFS["rcog2023"])
    assert text.startswith("Regan L, Rai R, Saravelos S, Li TC; Royal College of Obstetricians and Gynaecologists. ")


def test_no_run_together_dates_or_numbers():
    # The failure modes of citeproc's vancouver style: "2019Jan24", "1.Smith".
    for item in REFS.values():
        text = references.format_nlm(item)
        assert not any(a.isdigit() and b.isalpha() and b.isupper() for a, b in zip(text, text[1:]) if a != "e")


@pytest.mark.parametrize("page, expected", [("1283-1285", "1283-5"), ("653-664", "653-64"),
                                            ("e9-e39", "e9-e39"), ("980-984", "980-4"), ("44-62", "44-62")])
def test_page_ranges_are_abbreviated_as_nlm_does(page, expected):
    assert references._pages(page) == expected


def test_author_names_are_spelled_as_the_fact_base_corrects_them():
    text = " ".join(references.format_nlm(i) for i in REFS.values())
    assert "Giudice LC" in text and "Nakashima A" in text and "Loewenthal R" in text
    assert "Giuduce" not in text and "Nakashimura" not in text


def test_numbering_follows_first_citation():
    order = references.number(["a [@b] c [@a; @b]", "[@c]"], {"a": {}, "b": {}, "c": {}}, "x")
    assert order == {"b": 1, "a": 2, "c": 3}


def test_a_marker_without_reference_is_refused():
    with pytest.raises(HandoutError, match=r"\[@nobody\] has no entry"):
        references.number(["text [@nobody]"], {}, "content/topics/nk-cells/handout.toml")


def test_a_reference_never_cited_is_refused():
    with pytest.raises(HandoutError, match="'lonely' is never cited"):
        references.number(["text"], {"lonely": {}}, "content/topics/nk-cells/handout.toml")


@pytest.mark.parametrize("payload, message", [
    (b"[{", "malformed CSL-JSON"),
    (b'{"id": "x"}', "must be a list"),
    (b'[{"id": "x", "id": "y"}]', "duplicate key"),
    (b'[{"id": "x", "title": "t", "container-title": "j", "author": []}]', "needs 'author'"),
    (b"\xff\xfe", "not valid UTF-8"),
])
def test_malformed_csl_json_is_one_clear_error(tmp_path, payload, message):
    path = tmp_path / "references.json"
    path.write_bytes(payload)
    with pytest.raises(HandoutError, match=message) as caught:
        references.load(path, "content/topics/nk-cells/references.json")
    assert str(caught.value).startswith("content/topics/nk-cells/references.json")


def test_every_shipped_reference_is_valid_csl_json_fields():
    data = json.loads((ROOT / "content" / "topics" / "nk-cells" / "references.json").read_text())
    for item in data:
        assert item["type"] == "article-journal"
        assert isinstance(item["issued"]["date-parts"][0][0], int)
