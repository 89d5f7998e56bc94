"""Commands that start fast: `locales` remembers each locale's fit, and a
build with nothing to do loads no renderer."""

import json
import os
import subprocess
import sys

import pytest

from nkhandout import check, fitcache
from tests.conftest import ROOT, drop_locale
from tests.test_fit_matrix import lengthen

KEEP = ("es", "fr")  # with the English: three locales, twelve layouts


@pytest.fixture
def small(project):
    """The project with only the English, es and fr."""
    for path in project.locales_dir.glob("*.po"):
        if path.stem not in KEEP:
            drop_locale(project, path.stem)
    return project


@pytest.fixture
def laid_out(monkeypatch, tmp_path):
    """laid_out(): the codes laid out (in any process) since the last call."""
    log = tmp_path / "laid-out.txt"
    real = check._check_fits

    def spy(inputs, renderer, code, *args):
        done = real(inputs, renderer, code, *args)  # a process that may not lay out raises here
        with open(log, "a", encoding="utf-8") as handle:  # the workers are forked from this process
            handle.write(code + "\n")
        return done

    monkeypatch.setattr(check, "_check_fits", spy)

    def codes():
        found = sorted(log.read_text("utf-8").split()) if log.exists() else []
        log.unlink(missing_ok=True)
        return found

    return codes


def rows(cli):
    result = cli("locales", "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def entries(project):
    folder = project.root / fitcache.CACHE_DIR / "fit"
    return {p.name: p for p in folder.iterdir()}


def test_a_repeated_locales_lays_out_nothing_and_says_the_same(cli, small, laid_out):
    # fr overflows with the box: its problems and what grew are remembered too
    lengthen(small, "fr", "against.item1", ". " + "Il est important d'en parler calmement. " * 4)
    first = rows(cli)
    assert sorted(entries(small)) == ["nk-cells.en.json", "nk-cells.es.json", "nk-cells.fr.json"]
    fr = next(row for row in first if row["code"] == "fr")
    assert any(p["code"] == "overflow" for p in fr["problems"]), fr
    assert any(f["grew_most"] for f in fr["fit"]), fr
    assert laid_out() == ["en", "es", "fr"]
    files = {name: (path.stat().st_ino, path.read_bytes()) for name, path in entries(small).items()}
    assert rows(cli) == first
    assert laid_out() == []  # nothing laid out
    assert {name: (path.stat().st_ino, path.read_bytes()) for name, path in entries(small).items()} == files


def test_a_changed_string_lays_out_that_locale_again_and_only_it(cli, small, laid_out):
    rows(cli)
    before = {name: (path.stat().st_ino, json.loads(path.read_bytes())["key"]) for name, path in entries(small).items()}
    lengthen(small, "es", "against.item1", ". " + "Es importante hablarlo con calma. " * 4)
    laid_out()
    changed = rows(cli)
    assert laid_out() == ["es"]
    after = {name: (path.stat().st_ino, json.loads(path.read_bytes())["key"]) for name, path in entries(small).items()}
    assert after["nk-cells.en.json"] == before["nk-cells.en.json"]
    assert after["nk-cells.fr.json"] == before["nk-cells.fr.json"]
    assert after["nk-cells.es.json"][1] != before["nk-cells.es.json"][1]
    es = next(row for row in changed if row["code"] == "es")
    assert not es["fits"] and any(p["code"] == "overflow" for p in es["problems"]), es


def test_a_damaged_foreign_or_linked_entry_is_ignored_and_computed_again(cli, small, laid_out, tmp_path):
    first = rows(cli)
    found = entries(small)
    es, fr, en = (found[f"nk-cells.{code}.json"] for code in ("es", "fr", "en"))
    fr_entry = json.loads(fr.read_bytes())
    es.write_bytes(es.read_bytes()[:40])  # cut short
    fr.write_bytes(en.read_bytes())  # another locale's entry: its key is not fr's
    planted = tmp_path / "planted.json"
    lie = json.loads(en.read_bytes())
    lie["fits"][0]["spare_mm"] = 999.0
    planted.write_text(json.dumps(lie), "utf-8")
    en.unlink()
    en.symlink_to(planted)  # right key, wrong numbers, and a link: never read
    laid_out()
    assert rows(cli) == first
    assert laid_out() == ["en", "es", "fr"]
    assert not en.is_symlink() and json.loads(planted.read_text("utf-8"))["fits"][0]["spare_mm"] == 999.0
    assert json.loads(fr.read_bytes()) == fr_entry
    bad = dict(fr_entry, fits=[dict(fr_entry["fits"][0], spare_mm="NaN")])
    fr.write_text(json.dumps(bad), "utf-8")  # the right key, but not a fit
    assert rows(cli) == first and laid_out() == ["fr"]


def test_fits_laid_out_on_every_core_equal_those_laid_out_by_one_worker(cli, small, monkeypatch):
    parallel = rows(cli)  # three locales to lay out: one worker per core (two here)
    for path in entries(small).values():
        path.unlink()
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert rows(cli) == parallel


def test_locales_with_every_fit_remembered_loads_no_renderer(small):
    lengthen(small, "fr", "for.item1", " [@yamada2001]")  # a problem: fr is not laid out at all
    env = dict(os.environ, NKHANDOUT_ROOT=str(small.root))
    subprocess.run([sys.executable, "-m", "nkhandout", "locales"], check=True, env=env, capture_output=True)
    probe = ("import sys\nfrom nkhandout.cli import main\n"
             "try:\n    main(['locales', '--format', 'json'])\nexcept SystemExit:\n    pass\n"
             "print('LOADED', sorted(m for m in ('weasyprint',) if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, cwd=ROOT)
    fr = next(row for row in json.loads(result.stdout.rsplit("LOADED", 1)[0]) if row["code"] == "fr")
    assert [p["code"] for p in fr["problems"]] == ["markers"] and fr["fit"] == []
    assert "LOADED []" in result.stdout


def test_a_build_of_two_topics_with_nothing_to_do_loads_no_renderer(library, tmp_path):
    for path in library.root.glob("content/topics/*/locales/*.po"):
        if path.stem != "es":
            drop_locale(library, path.stem)
    out = tmp_path / "out"
    env = dict(os.environ, NKHANDOUT_ROOT=str(library.root))
    command = [sys.executable, "-m", "nkhandout", "build", "--all", "--out", str(out)]
    first = subprocess.run(command, env=env, capture_output=True, text=True)
    assert "built 4, up to date 0" in first.stdout, first.stderr  # two topics, en and es
    probe = ("import sys\nfrom nkhandout.cli import main\n"
             f"try:\n    main({command[3:]!r})\nexcept SystemExit:\n    pass\n"
             "print('LOADED', sorted(m for m in ('weasyprint', 'babel', 'jinja2', 'polib', 'fontTools')"
             " if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert "built 0, up to date 4" in result.stdout, result.stderr
    assert "LOADED []" in result.stdout


def test_package_versions_are_those_importlib_metadata_gives():
    from importlib import metadata

    from nkhandout import incremental

    assert incremental.package_versions() == {name: metadata.version(name) for name in incremental.PACKAGES}


LIBRARIES = """
import subprocess, sys
started = []
real = subprocess.Popen.__init__
def counting(self, *args, **kwargs):
    started.append(args[0] if args else kwargs.get("args"))
    real(self, *args, **kwargs)
subprocess.Popen.__init__ = counting
if sys.argv[1] == "quick":
    from nkhandout import workarounds
    workarounds.load_weasyprint()
else:
    import weasyprint
from weasyprint.text import ffi
assert ffi.harfbuzz_subset is not None
with open("/proc/self/maps") as maps:
    libraries = sorted({line.split("/")[-1].strip() for line in maps
                        if any(n in line for n in ("pango", "harfbuzz", "fontconfig", "gobject", "freetype"))})
print(len(started), " ".join(libraries))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the quick import is for Linux")
def test_weasyprint_loads_the_same_libraries_without_searching_for_them():
    def load(how):
        done = subprocess.run([sys.executable, "-c", LIBRARIES, how], capture_output=True, text=True, cwd=ROOT)
        assert done.returncode == 0, done.stderr
        started, libraries = done.stdout.split(" ", 1)
        return int(started), libraries.split()

    quick, stock = load("quick"), load("stock")
    assert quick[0] == 0 and stock[0] > 0  # stock WeasyPrint runs ldconfig, gcc and ld to look
    assert quick[1] == stock[1] and any(name.startswith("libpango-1.0.so") for name in quick[1]), (quick, stock)
