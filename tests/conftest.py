"""Shared fixtures: a throw-away copy of the project, built PDFs, PDF readers."""

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from nkhandout.cli import main
from nkhandout.project import Project

ROOT = Path(__file__).resolve().parent.parent
FONTS = ROOT / "templates" / "fonts"
SHIPPED = ["en", "es", "fr", "de", "pt_BR", "vi", "ru", "ko", "zh_Hans", "ar"]


def copy_project(target):
    """content/ and templates/ copied to ``target``; fonts shared read-only."""
    shutil.copytree(ROOT / "content", target / "content")
    shutil.copytree(ROOT / "templates", target / "templates", ignore=shutil.ignore_patterns("fonts"))
    return Project.at(target, fonts_dir=FONTS)


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A private copy of the project; NKHANDOUT_FONTS points at the real fonts."""
    monkeypatch.setenv("NKHANDOUT_FONTS", str(FONTS))
    return copy_project(tmp_path / "project")


@pytest.fixture
def cli(project):
    """Run `nkhandout` on the private copy: cli("build", "--lang", "es")."""
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, ["--root", str(project.root), *args], catch_exceptions=False)

    return run


class Built(dict):
    """{code: PDF path}; a locale that awaits translation of the current
    content version is not built, and a test that asks for it is skipped."""

    def __missing__(self, code):
        if code in awaiting_translation():
            pytest.skip(f"{code} awaits translation of content version {_version()}")
        raise KeyError(code)


def _version():
    import tomllib

    return tomllib.loads((ROOT / "content" / "handout.toml").read_text("utf-8"))["meta"]["version"]


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """Every shipped locale built once from the real project: {code: Path}."""
    from nkhandout import batch

    out = tmp_path_factory.mktemp("handouts")
    project = Project.at(ROOT, fonts_dir=FONTS)
    waiting = awaiting_translation()
    result = batch.run(project, [c for c in SHIPPED if c not in waiting], out_dir=out)
    assert not result.failures, [str(f) for f in result.failures]
    return Built({path.name.split(".")[-2]: path for path in result.written})


def awaiting_translation():
    """Shipped locales whose catalog is not complete for the current content
    version: until their translators finish, the tests of built pages skip
    them (the tests of new building blocks use drafts instead)."""
    from nkhandout import build

    project = Project.at(ROOT, fonts_dir=FONTS)
    return set(SHIPPED) - set(build.complete_locales(project)) - {"en"}


def needs_translation(code):
    """Skip a test that reads ``code``'s own words while it awaits translation."""
    if code in awaiting_translation():
        pytest.skip(f"{code} awaits translation of content version {_version()}")


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


def finish_translation(project, *codes):
    """Make ``codes``' catalogs complete in the throw-away ``project``: a
    fuzzy or empty entry gets the English as its text. Tests of
    build flows that need a complete locale stay meaningful while the shipped
    catalog awaits its translator; once it is complete this changes nothing."""
    from nkhandout import build, catalog

    pot = build.load_inputs(project).pot
    for code in codes:
        path = project.catalog_file(code)
        loaded = catalog.load(path, locale=code)
        for message in pot:
            if not message.id:
                continue
            entry = loaded.catalog.get(message.id, context=message.context)
            if entry is None:
                loaded.catalog.add(message.id, message.id, context=message.context)
                continue
            if not entry.string or entry.fuzzy:
                entry.string = message.id
            entry.flags.discard("fuzzy")
            entry.previous_id = []
        path.write_text(catalog.dump(loaded), "utf-8")
