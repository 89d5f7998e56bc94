"""README's speed table is generated from the benchmark's --json output
(benchmarks/bench.py --readme JSON); met / NOT met follow the numbers."""

import importlib.util
import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

BENCH = ROOT / "benchmarks" / "bench.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_under_test", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def results(quick=False):
    # The stored "met" of the first two is the wrong way round on purpose: the
    # table must follow the numbers, not a verdict written beside them.
    return {
        "machine": {"line": "Linux-test-x86_64, 2 CPUs, Python 3.11.7, WeasyPrint 70.0"},
        "date": "2026-12-01 12:34 UTC",
        "runs": 1 if quick else 5,
        "quick": quick,
        "figures": [
            {"key": "clean", "figure": "clean build of every locale vs one stock weasyprint page",
             "value": 1.42, "unit": "x", "limit": 1.5, "met": False},
            {"key": "batch_cpu", "figure": "batch of 20 clinics x every locale, CPU time per PDF",
             "value": 0.27, "unit": "s", "limit": 0.06, "met": True},
            {"key": "many_tree", "figure": "whole tree at 1000 distinct clinics",
             "value": 300.0, "unit": "MB", "limit": 300},
            {"key": "many_largest", "figure": "largest process at 1000 distinct clinics",
             "value": 163.0, "unit": "MB", "limit": 150},
            {"key": "warm_ko", "figure": "Korean vs English, warm | CPU time",
             "value": None, "unit": "x", "limit": 1.3},
            {"key": "warm_latin", "figure": "warm handout with clinic box, Latin script",
             "value": 0.3, "unit": "x", "limit": 0.1, "shown": "0.25-0.30x (220-260 ms CPU)"},
        ],
    }


README_TEXT = """# Title

## Speed

Words before.

<!-- bench:begin -->
| old | table |
<!-- bench:end -->

## Safety

Words after.
"""


def table(text):
    """{figure: (measured, target, met)} from the rows between the markers."""
    inside = text.split("<!-- bench:begin -->")[1].split("<!-- bench:end -->")[0]
    rows = {}
    for line in inside.splitlines():
        if line.startswith("| ") and not line.startswith("| figure |"):
            cells = [c.strip().replace("\\|", "|") for c in line.strip("|").split(" | ")]
            rows[cells[0]] = tuple(cells[1:])
    return inside, rows


def test_readme_table_follows_the_numbers(bench, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(README_TEXT, "utf-8")
    data = tmp_path / "results.json"
    data.write_text(json.dumps(results()), "utf-8")
    bench.update_readme(data, readme)
    text = readme.read_text("utf-8")
    inside, rows = table(text)
    assert rows == {
        "clean build of every locale vs one stock weasyprint page": ("1.42x", "<= 1.50x", "met"),
        "batch of 20 clinics x every locale, CPU time per PDF": ("0.27 s", "<= 60 ms", "NOT met"),
        "whole tree at 1000 distinct clinics": ("300 MB", "<= 300 MB", "met"),
        "largest process at 1000 distinct clinics": ("163 MB", "<= 150 MB", "NOT met"),
        "Korean vs English, warm | CPU time": ("-", "<= 1.30x", "not measured"),
        "warm handout with clinic box, Latin script": ("0.25-0.30x (220-260 ms CPU)", "<= 0.10x", "NOT met"),
    }
    assert "| old | table |" not in text
    assert "Linux-test-x86_64, 2 CPUs, Python 3.11.7, WeasyPrint 70.0" in inside
    assert "2026-12-01 12:34 UTC" in inside and "5 runs" in inside
    assert "quick" not in inside and "load average" not in inside
    # Everything outside the markers is kept as it was.
    before, after = README_TEXT.split("<!-- bench:begin -->")[0], README_TEXT.split("<!-- bench:end -->")[1]
    assert text.startswith(before + "<!-- bench:begin -->\n") and text.endswith("<!-- bench:end -->" + after)
    # Rewriting again from the same numbers changes nothing.
    bench.update_readme(data, readme)
    assert readme.read_text("utf-8") == text


def test_readme_table_says_when_it_comes_from_a_quick_run_on_a_busy_machine(bench):
    data = {**results(quick=True), "load_average": [6.63, 5.1]}
    inside, rows = table(bench.rewrite_readme(README_TEXT, data))
    assert "1 run, --quick" in inside and "load average 6.6 at the start" in inside
    assert len(rows) == 6


def test_readme_without_markers_is_refused_and_left_alone(bench, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n\n## Speed\n\nNo table here.\n", "utf-8")
    data = tmp_path / "results.json"
    data.write_text(json.dumps(results()), "utf-8")
    with pytest.raises(ValueError, match="bench:begin"):
        bench.update_readme(data, readme)
    assert readme.read_text("utf-8") == "# Title\n\n## Speed\n\nNo table here.\n"


def test_readme_option_reports_a_bad_file_in_one_line(tmp_path):
    bad = tmp_path / "results.json"
    bad.write_text("{not json", "utf-8")
    before = (ROOT / "README.md").read_text("utf-8")
    done = subprocess.run([sys.executable, BENCH, "--readme", bad], capture_output=True, text=True)
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1 and "results.json" in done.stderr
    assert (ROOT / "README.md").read_text("utf-8") == before


def test_project_readme_has_the_markers_in_its_speed_section():
    text = (ROOT / "README.md").read_text("utf-8")
    speed = text.split("\n## Speed\n")[1].split("\n## ")[0]
    assert speed.count("<!-- bench:begin -->") == 1 and speed.count("<!-- bench:end -->") == 1
    assert speed.index("<!-- bench:begin -->") < speed.index("<!-- bench:end -->")
