"""Every command in TRANSLATING.md and README.md works as written."""

import re
import shlex

from tests.conftest import ROOT
from tests.test_translate import translate_locale


def commands(path):
    """The `nkhandout ...` lines of the ```sh blocks of ``path``."""
    text = path.read_text("utf-8")
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("nkhandout "):
                lines.append(shlex.split(line)[1:])
    return lines


def test_translating_guide_commands_run_in_order(cli, project, out):
    steps = commands(ROOT / "TRANSLATING.md")
    assert [s[0] for s in steps] == ["init-locale", "check", "locales", "build", "build", "build",
                                     "mark-reviewed", "update"]
    for args in steps:
        if args[0] == "build":
            args = [*args, "--out", str(out)]
        result = cli(*args)
        assert result.exit_code == 0, (args, result.output)
        if args[0] == "init-locale":
            # The translator's part: every string translated (here: copied).
            translate_locale(project, "it", prefix="")
    assert (out / "nk-cells-recurrent-miscarriage.it.pdf").exists()


def test_readme_names_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text("utf-8")
    assert "```sh\nmake handout\n```" in readme and "```sh\nmake test\n```" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text("utf-8")
