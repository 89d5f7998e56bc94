"""Shared fixtures: a throw-away copy of the project, built PDFs, PDF readers."""

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from nkhandout.cli import main
from nkhandout.project import Project

ROOT = Path(__file__).resolve().parent.parent
FONTS = ROOT / "templates" / "fonts"
SHIPPED = ["en", "es", "fr", "de", "pt_BR", "vi", "ru", "ko", "zh_Hans", "ar",
           "pl", "uk", "ro", "tr", "fil", "ht", "so", "hi", "bn", "pa", "fa", "he", "am", "ja", "zh_Hant"]
# The topics of the shipped library; tests about shipped content run over each.
ROOT_TOPICS = sorted(p.parent.name for p in (ROOT / "content" / "topics").glob("*/handout.toml"))
NK = "nk-cells"


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true",
                     help="Rewrite tests/golden/ from the current output (see tests/test_golden.py).")


def copy_project(target, topics=(NK,)):
    """content/ (with only ``topics``: behaviour is tested on one), templates/
    and examples/ copied to ``target``; fonts shared read-only."""
    ignore = shutil.ignore_patterns(*[t for t in ROOT_TOPICS if t not in topics])
    shutil.copytree(ROOT / "content", target / "content", ignore=ignore)
    shutil.copytree(ROOT / "templates", target / "templates", ignore=shutil.ignore_patterns("fonts"))
    shutil.copytree(ROOT / "examples", target / "examples")
    return Project.at(target, fonts_dir=FONTS)


def catalog_path(project, code, context):
    """The catalog that holds ``context`` for ``code``: the shared labels'
    (label.*, reference) or the topic's."""
    if context.startswith("label.") or context == "reference":
        return project.labels_file(code)
    return project.catalog_file(code)


def drop_locale(project, code):
    """The project without ``code``'s catalogs (labels and every topic's), to
    start that locale again as a new translator would."""
    for path in [project.labels_file(code), *project.topics_dir.glob(f"*/locales/{code}.po")]:
        path.unlink(missing_ok=True)


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A private copy of the project; NKHANDOUT_FONTS points at the real fonts."""
    monkeypatch.setenv("NKHANDOUT_FONTS", str(FONTS))
    return copy_project(tmp_path / "project")


@pytest.fixture
def library(tmp_path, monkeypatch):
    """A private copy of the project with every shipped topic."""
    monkeypatch.setenv("NKHANDOUT_FONTS", str(FONTS))
    return copy_project(tmp_path / "library", topics=ROOT_TOPICS)


@pytest.fixture
def cli(project):
    """Run `nkhandout` on the private copy: cli("build", "--lang", "es")."""
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, ["--root", str(project.root), *args], catch_exceptions=False)

    return run


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """Every shipped locale built once from the real project, as final
    handouts (never drafts): {code: Path}. An incomplete shipped catalog
    fails the build, and so every test that uses this."""
    from nkhandout import batch

    out = tmp_path_factory.mktemp("handouts")
    project = Project.at(ROOT, fonts_dir=FONTS)
    result = batch.run(project, SHIPPED, out_dir=out)
    assert not result.failures, [str(f) for f in result.failures]
    written = {path.name.split(".")[-2]: path for path in result.written}
    assert sorted(written) == sorted(SHIPPED), sorted(written)
    return written


@pytest.fixture
def out(tmp_path):
    """An output folder of its own (not created)."""
    return tmp_path / "out"


def files_in(folder):
    """Names in ``folder`` (hidden temporary files too, but not the build
    stamps in .nkhandout/), [] when it does not exist."""
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir() if p.name != ".nkhandout")


@pytest.fixture(autouse=True)
def _fontconfig_stays_with_its_test():
    """An in-process render points FONTCONFIG_FILE at its project's templates;
    a later test's subprocess must not inherit a copy that is gone."""
    before = os.environ.get("FONTCONFIG_FILE")
    yield
    if before is None:
        os.environ.pop("FONTCONFIG_FILE", None)
    else:
        os.environ["FONTCONFIG_FILE"] = before


def write_profile(folder, stem="clinic", **values):
    """A clinic profile ``folder/stem.toml`` holding ``values`` as text."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.toml"
    path.write_text("".join(f'{key} = "{value}"\n' for key, value in values.items()), "utf-8")
    return path
