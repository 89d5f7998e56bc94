"""Translated text becomes safe HTML; nkhandout's markup is applied after escaping."""

from nkhandout.markup import render, skeleton
from nkhandout.validate import problems

NUMBERS = {"a": 1, "b": 2}
VALUES = {"share": ("percent", 0.75), "n": ("integer", 1200)}


def html(text, locale="en", rtl=False):
    return str(render(text, numbers=NUMBERS, values=VALUES, locale=locale, rtl=rtl))


def test_html_and_script_in_a_translation_are_printed_as_text():
    out = html('<b>x</b> <script>alert(1)</script> "q" & {{ 7*7 }}')
    assert "<b>" not in out and "<script>" not in out
    assert "&lt;script&gt;" in out and "&amp;" in out and "{{ 7*7 }}" in out


def test_stars_become_bold_and_citations_numbers():
    out = html("*Key* point [@a; @b].")
    assert out.startswith("<strong>Key</strong> point")
    assert '<span class="cite" dir="ltr">[1,2]</span>' in out


def test_numbers_are_formatted_for_the_locale():
    assert "75%" in html("{share}")
    assert "75\u00a0%" in html("{share}", locale="fr")
    assert "1.200" in html("{n}", locale="de")


def test_latin_runs_in_right_to_left_text_are_isolated():
    out = html("خلايا NK cells في الرحم", locale="ar", rtl=True)
    assert '<span dir="ltr">NK cells</span>' in out


def test_skeleton_and_problems_catch_dropped_markers():
    assert skeleton("a [@x] {n} *b*") == skeleton("*b* {n} [@x] a")
    assert problems("see [@a]", "voir") == [
        "citation markers differ from the English: expected [@a], found none"]
    assert any("placeholders" in p for p in problems("{n} women", "{m} femmes"))
    assert any("bold" in p for p in problems("*x*", "*x"))
    assert any("HTML" in p for p in problems("x", "<b>x</b>"))
    assert any("template code" in p for p in problems("x", "{{ x }}"))
    assert problems("*x* [@a] {n}", "*y* [@a] {n}") == []
