"""Property-based tests: arbitrary and mutated input to every loader and checker.

The only exception that may escape is HandoutError, which the CLI prints as
one line; anything else would be a traceback in front of a translator.
"""

import string

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings, strategies as st

from nkhandout import catalog, clinic, content, markup, references, validate
from nkhandout.errors import HandoutError
from tests.conftest import ROOT

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
REAL = {
    "po": (ROOT / "content" / "topics" / "nk-cells" / "locales" / "es.po").read_bytes(),
    "toml": (ROOT / "content" / "topics" / "nk-cells" / "handout.toml").read_bytes(),
    "json": (ROOT / "content" / "topics" / "nk-cells" / "references.json").read_bytes(),
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
                             locale="ar" if rtl else "ko" if korean else "en", rtl=rtl))
    if korean:  # the printed page's word joiners (markup.join_words)
        html = markup.join_words(html)
    stripped = (html.replace('<span dir="ltr">', "").replace('<span class="cite" dir="ltr">', "")
                .replace('<span class="num">', "").replace('<span class="num" dir="ltr">', "")
                .replace("</span>", "")
                .replace("<strong>", "").replace("</strong>", ""))
    assert "<" not in stripped and ">" not in stripped


# -- structure-aware fuzzing ------------------------------------------------
#
# Valid TOML, JSON, PO and SVG whose values are hostile: wrong types, extreme
# numbers, deep nesting, control characters and mixed scripts in any field.
# The property, end to end through `nkhandout build`: only one-line errors
# escape (no traceback, no other exception), the output folder holds only
# complete PDFs that pass `qpdf --check`, and nothing outside it changes.

import copy
import datetime
import hashlib
import io
import json
import re
import shutil
import subprocess
import tomllib

from click.testing import CliRunner

from nkhandout import build as builder
from nkhandout.cli import main
from tests.conftest import FONTS, copy_project


class Raw(str):
    """Text written into TOML or JSON as it is (5,000 digits, 1e400, deep nesting)."""


WEIRD = ("\x00\x01\x07\x08\x0b\x0c\x1b\x7f\u0085\u200b\u200d\u202e\u2066\u2028\ufeff\ufffe"
         "Ωжعبری中文한국어ไทยदेवნ𝔘😀\u0301*{}[]@<>&\"'\\%#;\n\t ")
HOSTILE_TEXT = st.one_of(
    st.text(alphabet=st.sampled_from(WEIRD), max_size=40),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40),
    st.sampled_from(["", " ", "\u00a0", "x" * 300, "Ана ﻋﻠﻲ 李 Ruiz", "[@nobody]", "{nk_before}",
                     "*bold*", "<b>x</b>", "{{ 7*7 }}", "../../etc/passwd", "file:///etc/passwd"]),
)
NUMBER = st.one_of(
    st.integers(), st.floats(), st.sampled_from([0, -1, 2**63, -(2**64), 10**30]),
    st.sampled_from([Raw("1" * 5000), Raw("1e400"), Raw("-1e400"), Raw("1e-400")]),
)
DEEP = st.sampled_from([20, 200, 3000]).map(lambda depth: Raw("[" * depth + "]" * depth))
SCALAR = st.one_of(HOSTILE_TEXT, NUMBER, st.booleans(), st.dates(), DEEP)
WILD = st.recursive(SCALAR, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["a", "id", "p", "x y"]), inner, max_size=3)),
    max_leaves=6)


def toml_value(value):
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return {"inf": "inf", "-inf": "-inf", "nan": "nan"}.get(repr(value), repr(value))
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, str):
        return '"' + "".join(
            c if c.isprintable() and c not in '"\\' or c == " " else f"\\U{ord(c):08X}"
            for c in value) + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_value(str(k))} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def to_toml(data):
    """A dict as TOML text: top-level keys, everything below them inline."""
    return "".join(f"{toml_value(str(key))} = {toml_value(value)}\n" for key, value in data.items())


def json_value(value):
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, float) and value != value:
        return "NaN"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "1e400" if value > 0 else "-1e400"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return json.dumps(value.isoformat())
    if isinstance(value, list):
        return "[" + ", ".join(json_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {json_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def _places(value, path=()):
    """Every (path) to a value inside nested dicts and lists."""
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _places(child, path + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _places(child, path + (index,))


def _replace(root, path, new):
    if not path:
        return new
    parent = root
    for step in path[:-1]:
        parent = parent[step]
    if new is _DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return root


_DELETE = object()


@st.composite
def hostile_tree(draw, real):
    """``real`` (parsed) with one to four values made hostile or removed."""
    data = copy.deepcopy(real)
    for _ in range(draw(st.integers(1, 4))):
        places = list(_places(data))[1:]
        if not places:
            break
        path = draw(st.sampled_from(places))
        new = draw(st.one_of(WILD, st.just(_DELETE)))
        _replace(data, path, new)
    return data


def _real_toml(name):
    return tomllib.loads(REAL[name].decode("utf-8"))


def _po_string(text):
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


@st.composite
def hostile_po(draw):
    """es.po with hostile translations, flags and headers; still PO syntax."""
    text = REAL["po"].decode("utf-8")
    blocks = list(re.finditer(r'^msgstr ((?:".*"\n)+)', text, re.M))[1:]
    chosen = draw(st.lists(st.integers(0, len(blocks) - 1), min_size=1, max_size=4, unique=True))
    for index in sorted(chosen, reverse=True):
        block = blocks[index]
        replacement = draw(st.one_of(HOSTILE_TEXT, HOSTILE_TEXT.map(lambda t: t * 30)))
        if draw(st.booleans()):  # in front of the translation, keeping its markers
            at = block.start(1) + 1
            text = text[:at] + _po_string(replacement)[1:-1] + text[at:]
        else:
            text = text[:block.start(1)] + _po_string(replacement) + "\n" + text[block.end(1):]
    language = draw(st.sampled_from(["es"] * 8 + ["es_ES", "es-419", "fr", "", "xx", "es\\nLanguage: fr", "\u202ees"]))
    text = re.sub(r'^"Language: .*\\n"$', lambda m: f'"Language: {language}\\n"', text, count=1, flags=re.M)
    plural = draw(st.sampled_from(["nplurals=2; plural=(n != 1);"] * 8 + [
        "nplurals=3; plural=n;", "nplurals=99999999999999999999; plural=n;",
        "nplurals=2; plural=" + "(" * 500 + "n" + ")" * 500 + ";", "nplurals=2; plural=__import__;", ""]))
    text = re.sub(r'^"Plural-Forms: .*\\n"$', lambda m: f'"Plural-Forms: {plural}\\n"', text, count=1, flags=re.M)
    if draw(st.booleans()):
        text = text.replace('\nmsgctxt "title"', '\n#, fuzzy\nmsgctxt "title"', 1)
    return text.encode("utf-8", "surrogatepass")


SVG_ATTR = st.sampled_from(["1e400", "-1", "0", "NaN", "99999999", "1e-400", "100%", "12", "inf", ""])


@st.composite
def hostile_svg(draw):
    """An SVG logo: extreme sizes, deep groups, <use> chains, hostile text."""
    depth = draw(st.sampled_from([1, 30, 300]))
    uses = draw(st.sampled_from([0, 5, 2000]))
    text = draw(HOSTILE_TEXT).replace("&", "&amp;").replace("<", "&lt;").replace("\x00", "")
    text = "".join(c for c in text if c in "\t\n" or (ord(c) >= 32 and c not in "\ufffe\uffff"))
    body = '<rect id="r" x="1" y="1" width="%s" height="%s"/>' % (draw(SVG_ATTR), draw(SVG_ATTR))
    body = '<g id="g0">' * depth + body + "</g>" * depth
    body += "".join('<use href="#g0" x="%d"/>' % i for i in range(uses))
    body += f'<text x="0" y="10">{text}</text>'
    if draw(st.booleans()):
        body += '<image href="file:///etc/passwd" width="5" height="5"/>'
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{draw(SVG_ATTR)}" height="{draw(SVG_ATTR)}" '
            f'viewBox="0 0 {draw(SVG_ATTR)} 60">{body}</svg>').encode("utf-8", "surrogatepass")


def _snapshot(root, skip):
    """{relative path: sha256} of every file under ``root`` outside ``skip``."""
    found = {}
    for path in sorted(root.rglob("*")):
        if skip in path.parents or path == skip or not path.is_file() or path.is_symlink():
            continue
        found[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _assert_output_is_only_valid_pdfs(out):
    if not out.exists():
        return
    for path in out.rglob("*"):
        if path.is_dir() or ".nkhandout" in path.relative_to(out).parts:
            continue
        assert path.suffix == ".pdf" and not path.name.startswith("."), f"stray file {path.name}"
        checked = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
        assert checked.returncode == 0, f"{path.name}: {checked.stdout[-300:]}{checked.stderr[-300:]}"


def build_property(root, out, *args):
    """Run `nkhandout build` on ``root``; assert the property; return the result."""
    before = _snapshot(root, out)
    result = CliRunner().invoke(main, ["--root", str(root / "project"), "build", "--jobs", "1",
                                       "--out", str(out), *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code in (0, 1, 2), result.output
    errors = [line for line in result.output.splitlines() if "Traceback" in line]
    assert not errors, result.output
    if result.exit_code:
        assert any(line.startswith("nkhandout: ") for line in result.output.splitlines()), result.output
    _assert_output_is_only_valid_pdfs(out)
    assert _snapshot(root, out) == before, "a file outside the output folder changed"
    return result


@pytest.fixture
def fresh(tmp_path_factory, monkeypatch):
    """A function giving a fresh project copy (one per Hypothesis example)."""
    monkeypatch.setenv("NKHANDOUT_FONTS", str(FONTS))

    def make():
        root = tmp_path_factory.mktemp("fuzz")
        copy_project(root / "project")
        clinics = root / "clinics"
        clinics.mkdir()
        shutil.copy(ROOT / "examples" / "clinics" / "riverside-logo.svg", clinics / "riverside-logo.svg")
        (clinics / "c.toml").write_bytes(REAL["clinic"])
        return root

    return make


FUZZ = settings(max_examples=20, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large, HealthCheck.large_base_example])
# For inputs other branches validate: no shrinking, so a known failure costs
# seconds, not a minute, until it is fixed there.
FUZZ_ELSEWHERE = settings(FUZZ, max_examples=12, phases=[Phase.explicit, Phase.reuse, Phase.generate])


@FUZZ
@given(po=hostile_po(), draft=st.booleans())
def test_fuzzed_catalog_builds_or_says_one_line(fresh, po, draft):
    root = fresh()
    (root / "project" / "content" / "topics" / "nk-cells" / "locales" / "es.po").write_bytes(po)
    result = build_property(root, root / "out", "--lang", "es", *(["--draft"] if draft else []))
    if result.exit_code == 0 and not draft:
        # What build accepts, check accepts too (one set of catalog checks),
        # and no translation it printed was blank.
        checked = CliRunner().invoke(main, ["--root", str(root / "project"), "check", "--lang", "es"])
        assert checked.exit_code == 0, checked.output
        from babel.messages.pofile import read_po

        for message in read_po(io.BytesIO(po), abort_invalid=False):
            if message.id and message.string and not message.fuzzy:
                assert any(char.isalnum() for char in message.string), (message.context, message.string)


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(po=hostile_po())
def test_fuzzed_catalog_loads_and_checks_with_one_line_errors(fresh, po):
    """Cheaper than a build: load, read state, check without layout."""
    from nkhandout import check
    from nkhandout.project import Project

    root = fresh()
    (root / "project" / "content" / "topics" / "nk-cells" / "locales" / "es.po").write_bytes(po)
    project = Project.at(root / "project", fonts_dir=FONTS)
    inputs = builder.load_inputs(project)
    try:
        state = builder.locale_state(inputs, "es")
    except HandoutError as error:
        assert "\n" not in str(error)
        return
    for _where, line, message in state.problems:
        assert isinstance(line, int) and "\n" not in message
    report = check.check_locale(inputs, None, "es", layout=False)
    assert all("\n" not in str(problem) for problem in report.problems)


@FUZZ_ELSEWHERE
@given(profile=hostile_tree(_real_toml("clinic")))
@example(profile=dict(_real_toml("clinic"), name=Raw("1" * 5000)))
@example(profile=dict(_real_toml("clinic"), note=Raw("[" * 3000 + "]" * 3000)))
@example(profile=dict(_real_toml("clinic"), email="a" * 55 + "@example.org", name="\u202eRiverside"))
def test_fuzzed_clinic_profile_builds_or_says_one_line(fresh, profile):
    root = fresh()
    (root / "clinics" / "c.toml").write_text(to_toml(profile), "utf-8")
    build_property(root, root / "out", "--lang", "es", "--clinic", str(root / "clinics" / "c.toml"))


@FUZZ_ELSEWHERE
@given(svg=hostile_svg())
@example(svg=b'<svg xmlns="http://www.w3.org/2000/svg" width="1e400" height="10"><rect width="5" height="5"/></svg>')
def test_fuzzed_svg_logo_builds_or_says_one_line(fresh, svg):
    root = fresh()
    (root / "clinics" / "riverside-logo.svg").write_bytes(svg)
    build_property(root, root / "out", "--lang", "en", "--clinic", str(root / "clinics" / "c.toml"))


@FUZZ_ELSEWHERE
@given(source=hostile_tree(_real_toml("toml")))
@example(source=dict(_real_toml("toml"), extra=Raw("1" * 5000)))
@example(source=dict(_real_toml("toml"), extra=Raw("[" * 3000 + "]" * 3000)))
def test_fuzzed_source_builds_or_says_one_line(fresh, source):
    root = fresh()
    (root / "project" / "content" / "topics" / "nk-cells" / "handout.toml").write_text(to_toml(source), "utf-8")
    build_property(root, root / "out", "--lang", "en")


@FUZZ_ELSEWHERE
@given(refs=hostile_tree(json.loads(REAL["json"])))
@example(refs=[dict(ref, page=5) for ref in json.loads(REAL["json"])])
@example(refs=[dict(ref, author=[{"family": "X", "given": 5}]) for ref in json.loads(REAL["json"])])
@example(refs=[dict(ref, issued={"date-parts": [[Raw("1e400")]]}) for ref in json.loads(REAL["json"])])
@example(refs=Raw("[" * 100000 + "]" * 100000))
def test_fuzzed_references_build_or_say_one_line(fresh, refs):
    root = fresh()
    (root / "project" / "content" / "topics" / "nk-cells" / "references.json").write_text(json_value(refs), "utf-8")
    build_property(root, root / "out", "--lang", "en")
