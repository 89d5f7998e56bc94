"""Property-based tests: arbitrary and mutated input to every loader and checker.

The only exception that may escape is HandoutError, which the CLI prints as
one line; anything else would be a traceback in front of a translator.
"""

import string

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from nkhandout import catalog, clinic, content, markup, references, validate
from nkhandout.errors import HandoutError
from tests.conftest import ROOT

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
REAL = {
    "po": (ROOT / "content" / "locales" / "es.po").read_bytes(),
    "toml": (ROOT / "content" / "handout.toml").read_bytes(),
    "json": (ROOT / "content" / "references.json").read_bytes(),
    "clinic": (ROOT / "examples" / "clinics" / "riverside.toml").read_bytes(),
}


@st.composite
def mutated(draw, kind):
    """A real file with bytes cut, flipped, inserted or duplicated."""
    data = bytearray(REAL[kind])
    for _ in range(draw(st.integers(1, 6))):
        action = draw(st.sampled_from(["cut", "flip", "insert", "duplicate", "truncate"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if action == "cut":
            del data[at:at + draw(st.integers(1, 200))]
        elif action == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif action == "insert":
            data[at:at] = draw(st.binary(max_size=40)) or b'"'
        elif action == "duplicate":
            data[at:at] = data[at:at + draw(st.integers(1, 400))]
        else:
            del data[at:]
    return bytes(data)


def inputs(kind):
    return st.one_of(st.binary(max_size=2000), mutated(kind),
                     st.text(max_size=500).map(lambda t: t.encode("utf-8")))


def only_handout_errors(load, data, tmp_path, name):
    path = tmp_path / name
    path.write_bytes(data)
    try:
        load(path)
    except HandoutError as error:
        assert "\n" not in str(error)


LOADERS = {
    "po": lambda path: catalog.load(path, "x.po"),
    "toml": lambda path: content.load(path, "handout.toml"),
    "json": lambda path: references.load(path, "r.json"),
}


@pytest.mark.parametrize("kind", sorted(LOADERS))
@SETTINGS
@given(data=st.data())
def test_content_loaders(tmp_path_factory, kind, data):
    raw = data.draw(inputs(kind))
    only_handout_errors(LOADERS[kind], raw, tmp_path_factory.mktemp(kind), f"x.{kind}")


@SETTINGS
@given(data=inputs("clinic"))
def test_clinic_loader(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("c")
    (folder / "riverside-logo.svg").write_bytes(
        (ROOT / "examples" / "clinics" / "riverside-logo.svg").read_bytes())
    only_handout_errors(clinic.load, data, folder, "c.toml")


TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300) | st.text(
    alphabet=string.printable + "*{}[]@<>&\"';%", max_size=300)


@SETTINGS
@given(msgid=TEXT, msgstr=TEXT)
def test_string_checks_never_raise(msgid, msgstr):
    for problem in validate.problems(msgid, msgstr):
        assert isinstance(problem, str) and "\n" not in problem


@SETTINGS
@given(text=TEXT, rtl=st.booleans(), korean=st.booleans())
def test_markup_never_lets_html_through(text, rtl, korean):
    html = str(markup.render(text, numbers={"a": 1}, values={"n": ("integer", 3)},
                             locale="ar" if rtl else "ko" if korean else "en", rtl=rtl, keep_words=korean))
    stripped = (html.replace('<span dir="ltr">', "").replace('<span class="cite" dir="ltr">', "")
                .replace('<span class="num">', "").replace('<span class="num" dir="ltr">', "")
                .replace('<span class="w">', "").replace("</span>", "")
                .replace("<strong>", "").replace("</strong>", ""))
    assert "<" not in stripped and ">" not in stripped
