"""Hyphenation dictionaries: loaded only for a page that hyphenates, and by a
batch once, in the parent before its workers fork, so they share it."""

import os

import pyphen
import pytest

from nkhandout import batch, build, render
from tests.conftest import write_profile


@pytest.fixture
def empty_cache(monkeypatch):
    """pyphen's parsed dictionaries (which WeasyPrint's hyphenation uses), empty for the test."""
    monkeypatch.setattr(pyphen, "hdcache", {})
    return pyphen.hdcache


@pytest.fixture
def parses(monkeypatch, tmp_path):
    """Every dictionary parse, as (pid, file), kept in a file so that forked workers record theirs too."""
    record = tmp_path / "parses.txt"
    real = pyphen.HyphDict.__init__

    def counting(self, path):
        with open(record, "a", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()} {path.name}\n")
        real(self, path)

    monkeypatch.setattr(pyphen.HyphDict, "__init__", counting)

    def read():
        return [line.split() for line in record.read_text("utf-8").splitlines()] if record.exists() else []
    return read


@pytest.mark.parametrize("code", ["en", "es", "ar", "ko"])
def test_a_page_that_does_not_hyphenate_loads_no_dictionary(project, empty_cache, code):
    inputs = build.load_inputs(project)
    renderer = render.Renderer(project, inputs.manifest)
    build.build_pdf(inputs, renderer, code, build.Options(paper="a4"))
    assert empty_cache == {}
    assert render.preload_hyphenation(inputs.manifest, [code]) == []


def test_german_hyphenates_with_its_dictionary(project, empty_cache):
    inputs = build.load_inputs(project)
    assert inputs.manifest.typography("de").hyphens == "auto"
    renderer = render.Renderer(project, inputs.manifest)
    build.build_pdf(inputs, renderer, "de", build.Options(paper="a4"))
    assert [path.name for path in empty_cache] == ["hyph_de_AT.dic"]  # pyphen's dictionary for "de"
    # preloading names the same dictionary: WeasyPrint finds it parsed
    empty_cache.clear()
    assert render.preload_hyphenation(inputs.manifest, ["de", "en", "de"]) == ["de"]
    assert [path.name for path in empty_cache] == ["hyph_de_AT.dic"]


def test_batch_parses_a_dictionary_once_in_the_parent(project, empty_cache, parses, tmp_path):
    """Two clinics' German handouts in two workers: one parse, before the fork."""
    profiles = [write_profile(tmp_path / "clinics", stem=f"c{n}", name=f"Clinic {n}", phone="+1 555 0100")
                for n in range(2)]
    result = batch.run(project, ["de", "es"], out_dir=tmp_path / "out", clinic_paths=profiles, jobs=2,
                       paper="a4")
    assert not result.failures, result.failures
    assert len(result.written) == 4
    assert parses() == [[str(os.getpid()), "hyph_de_AT.dic"]]


def test_batch_without_a_hyphenating_locale_parses_none(project, empty_cache, parses, tmp_path):
    result = batch.run(project, ["en", "es"], out_dir=tmp_path / "out", jobs=2, paper="a4")
    assert not result.failures and len(result.written) == 2
    assert parses() == [] and empty_cache == {}
