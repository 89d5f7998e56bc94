"""Golden HTML: the page's markup for a few locales, kept under tests/golden/.

A change to the templates or to the markup the code makes shows up here as a
readable diff. When the change is meant, regenerate the files and commit them
with it:

    .venv/bin/python -m pytest tests/test_golden.py --update-golden
"""

import difflib

import pytest

from nkhandout import build, clinic as clinic_lib, render
from nkhandout.project import Project
from tests.conftest import FONTS, NK, ROOT

GOLDEN = ROOT / "tests" / "golden"
CLINIC = ROOT / "examples" / "clinics" / "riverside.toml"
CASES = {"en": ("en", None), "ar": ("ar", None), "ko": ("ko", None), "en-clinic": ("en", CLINIC)}


@pytest.fixture(scope="module")
def inputs():
    return build.load_inputs(Project.at(ROOT, fonts_dir=FONTS, topic=NK))


@pytest.mark.parametrize("name", sorted(CASES))
def test_html_is_the_golden_one(inputs, name, request):
    code, profile = CASES[name]
    clinic = clinic_lib.load(profile) if profile else None
    value = build.prepare(inputs, code, build.Options(paper="a4"), clinic)
    html = render.to_html(value, render.jinja_env(inputs.project.templates_dir))
    path = GOLDEN / f"{NK}.{name}.html"
    if request.config.getoption("--update-golden"):
        path.write_text(html, "utf-8")
    assert path.exists(), f"{path.name} missing: run pytest tests/test_golden.py --update-golden"
    expected = path.read_text("utf-8")
    if html != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), html.splitlines(True),
                                            f"golden/{path.name}", "now", n=1))
        pytest.fail(f"the HTML of {name} changed; if meant, run with --update-golden and commit:\n"
                    + diff[:6000])
