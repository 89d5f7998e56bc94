"""A batch build never lies about what it made: clinic folders that collide,
interrupted and orphaned workers, the time limit, bad profiles in a batch,
full disks, locales left out by --all, and what killed builds leave behind."""

import errno
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nkhandout import batch
from nkhandout.files import TEMP_SUFFIX
from tests import pdfutil
from tests.conftest import FONTS, ROOT

NAME = "nk-cells-recurrent-miscarriage"


def pdfs_under(folder):
    return sorted(p.relative_to(folder) for p in folder.rglob("*.pdf")) if folder.exists() else []


def temp_files(folder):
    return [p for p in folder.rglob("*") if p.name.endswith(TEMP_SUFFIX)] if folder.exists() else []


def qpdf_ok(path):
    return subprocess.run(["qpdf", "--check", str(path)], capture_output=True).returncode == 0


def profile(folder, stem, name="Clinic", phone="555 0100"):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.toml"
    path.write_text(f'name = "{name}"\nphone = "{phone}"\n', "utf-8")
    return path


def keep_only(project, codes):
    """Drop every catalog but ``codes`` (fewer handouts, faster tests)."""
    for path in project.locales_dir.glob("*.po"):
        if path.stem not in codes:
            path.unlink()


# -- 1. clinic folders that collide ----------------------------------------------------------

@pytest.mark.parametrize("first, second", [("cA/clinic.toml", "cB/clinic.toml"),
                                           ("both/Clinic A.toml", "both/clinic_a.toml")])
def test_two_profiles_that_share_a_folder_are_refused_before_anything_is_built(cli, tmp_path, out,
                                                                              first, second):
    paths = [tmp_path / first, tmp_path / second]
    for number, path in enumerate(paths):
        profile(path.parent, path.stem, name=f"Clinic {number}", phone=f"555 010{number}")
    args = [str(p) for p in paths] if paths[0].parent != paths[1].parent else [str(paths[0].parent)]
    clinic_args = [item for arg in args for item in ("--clinic", arg)]
    result = cli("build", "--lang", "en", "--lang", "es", *clinic_args, "--out", str(out))
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert str(paths[0]) in lines[0] and str(paths[1]) in lines[0]
    assert "rename one of them" in lines[0]
    assert pdfs_under(out) == []


def test_the_same_profile_named_twice_is_built_once(cli, tmp_path, out):
    folder = tmp_path / "clinics"
    path = profile(folder, "riverside")
    result = cli("build", "--lang", "en", "--clinic", str(folder), "--clinic", str(path), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "built 1, up to date 0" in result.output
    assert pdfs_under(out) == [Path("riverside") / f"{NAME}.en.pdf"]


# -- 2. interrupted and orphaned workers ------------------------------------------------------

def _children(pid):
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found |= {int(x) for x in (task / "children").read_text().split()}
        except OSError:
            pass
    return found


def _alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _start_batch(tmp_path, clinics=6):
    folder = tmp_path / "clinics"
    for number in range(clinics):
        profile(folder, f"c{number}", name=f"Clinic {number}", phone=f"555 010{number}")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "nkhandout", "build", "--all", "--clinic", str(folder),
               "--out", str(out), "--jobs", "2"]
    env = dict(os.environ, NKHANDOUT_FONTS=str(FONTS))
    process = subprocess.Popen(command, cwd=ROOT, start_new_session=True, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    workers = set()
    deadline = time.time() + 120  # a loaded machine is slow to start
    while time.time() < deadline and process.poll() is None:
        workers |= _children(process.pid)
        if len(workers) >= 2 and len(pdfs_under(out)) >= 2:
            break
        time.sleep(0.02)
    assert process.poll() is None, "the batch ended before it could be interrupted"
    return process, out, workers | _children(process.pid)


def _cleanup(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_to_the_parent_stops_every_worker(tmp_path, sig, code):
    process, out, workers = _start_batch(tmp_path)
    try:
        os.kill(process.pid, sig)  # the parent only, as `kill` does
        started = time.time()
        _stdout, stderr = process.communicate(timeout=15)
        took = time.time() - started
    finally:
        _cleanup(process)
    assert process.returncode == code, stderr
    assert stderr.strip().splitlines()[-1] == "nkhandout: interrupted", stderr
    assert "Traceback" not in stderr
    assert took < 5, f"stopping took {took:.1f} s"
    assert workers and not [pid for pid in workers if _alive(pid)]
    assert temp_files(out) == []
    built = pdfs_under(out)
    assert built and all(qpdf_ok(out / pdf) for pdf in built)
    assert all(not str(pdf).endswith(".outdated.pdf") for pdf in built)
    time.sleep(1.5)
    assert pdfs_under(out) == built  # nobody goes on writing


def test_workers_die_with_a_killed_parent_and_write_nothing_more(tmp_path):
    process, out, workers = _start_batch(tmp_path)
    try:
        os.kill(process.pid, signal.SIGKILL)  # the parent only: its workers are orphaned
        process.wait(timeout=10)
        time.sleep(0.2)
        built = pdfs_under(out)
        deadline = time.time() + 5
        while time.time() < deadline and any(_alive(pid) for pid in workers):
            time.sleep(0.05)
        assert workers and not [pid for pid in workers if _alive(pid)]
        time.sleep(1.5)
        assert pdfs_under(out) == built  # an orphan finishing its handout would add one
        assert all(qpdf_ok(out / pdf) for pdf in built)
    finally:
        _cleanup(process)
        for pid in workers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


# -- 3. the time limit, enforced from outside the renderer -----------------------------------

def _stubborn(seconds):
    """A stand-in for a render that swallows every exception (as WeasyPrint
    does inside SVG drawing) and runs for ``seconds``."""
    from nkhandout import render

    real = render.Renderer.pdf_bytes

    def slow(self, handout, document, html):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                time.sleep(0.05)
            except BaseException:  # noqa: B036 -- the point: nothing raised inside stops it
                pass
        return real(self, handout, document, html)

    return slow


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_render_that_swallows_exceptions_is_still_stopped_at_the_limit(cli, project, out, monkeypatch,
                                                                        jobs):
    from nkhandout import render

    monkeypatch.setattr(render.Renderer, "pdf_bytes", _stubborn(30))
    monkeypatch.setenv("NKHANDOUT_TIMEOUT", "1")
    started = time.monotonic()
    result = cli("build", "--lang", "en", "--lang", "es", "--out", str(out), "--jobs", jobs)
    took = time.monotonic() - started
    assert result.exit_code == 1, result.output
    # Two handouts of 1 s each (one after the other with --jobs 1), plus
    # starting workers on a busy machine: far below one stubborn render.
    assert took < 15, f"took {took:.1f} s for a 1 s limit"
    lines = [line for line in result.output.splitlines() if "rendering took longer than 1 s" in line]
    assert sorted(line.split(":")[1].strip() for line in lines) == ["en", "es"], result.output
    assert "Traceback" not in result.output
    assert pdfs_under(out) == [] and temp_files(out) == []


@pytest.mark.parametrize("value", ["abc", "0", "-5", "nan", "inf", "1e400", "0x10"])
def test_a_timeout_that_is_not_a_positive_number_is_a_usage_error(cli, out, monkeypatch, value):
    monkeypatch.setenv("NKHANDOUT_TIMEOUT", value)
    result = cli("build", "--lang", "en", "--out", str(out))
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and "NKHANDOUT_TIMEOUT must be a positive number" in result.output
    assert pdfs_under(out) == []


def test_what_the_renderer_logs_while_drawing_fails_the_handout(cli, out, monkeypatch):
    """WeasyPrint draws images only while writing the PDF, and logs (rather
    than raises) an image it could not draw: that is a failed handout."""
    from weasyprint.document import Document

    real = Document.write_pdf

    def dropping(self, *args, **kwargs):
        logging.getLogger("weasyprint").error("Failed to render SVG image %s", "data:image/svg+xml;base64,AAAA")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Document, "write_pdf", dropping)
    result = cli("build", "--lang", "en", "--out", str(out), "--jobs", "1")
    assert result.exit_code == 1, result.output
    assert "locale en: renderer error while drawing: Failed to render SVG image" in result.output
    assert pdfs_under(out) == []


def test_a_logo_the_renderer_cannot_draw_is_a_failure_not_a_truncated_page(cli, tmp_path, out):
    folder = tmp_path / "clinic"
    path = profile(folder, "loop")
    (folder / "logo.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        '<g id="a"><rect width="5" height="5"/><use href="#a"/></g></svg>', "utf-8")
    path.write_text(path.read_text("utf-8") + 'logo = "logo.svg"\n', "utf-8")
    result = cli("build", "--lang", "en", "--clinic", str(path), "--out", str(out), "--jobs", "1")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert pdfs_under(out) == []


# -- 6. a bad profile in a batch, read once; a full disk ---------------------------------------

def test_a_bad_profile_fails_its_own_handouts_never_the_batch(cli, tmp_path, out):
    folder = tmp_path / "clinics"
    profile(folder, "good")
    (folder / "digits.toml").write_text('name = "Big"\nphone = "1"\nnote = ' + "9" * 5000 + "\n", "utf-8")
    (folder / "deep.toml").write_text('name = "Deep"\nphone = "1"\nnote = ' + "[" * 3000 + "]" * 3000 + "\n",
                                      "utf-8")
    result = cli("build", "--lang", "en", "--lang", "es", "--clinic", str(folder), "--out", str(out),
                 "--jobs", "2")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert pdfs_under(out) == [Path("good") / f"{NAME}.en.pdf", Path("good") / f"{NAME}.es.pdf"]
    for stem in ("digits", "deep"):
        lines = [line for line in result.output.splitlines() if f"{stem}.toml" in line]
        assert len(lines) == 2, result.output  # one line for each of its handouts
        assert all(line.startswith(f"nkhandout: {stem} / ") for line in lines)
    assert "4 of 6 handouts failed" in result.output


def test_a_profile_is_read_once_per_build_and_the_stamp_hashes_what_was_read(cli, tmp_path, out, monkeypatch):
    import builtins
    import io

    path = profile(tmp_path / "clinics", "riverside")
    opened = []
    for module in (builtins, io, os):  # profiles are read with os.open (never blocking)
        real = module.open

        def counting(file, *args, _real=real, **kwargs):
            if isinstance(file, (str, bytes, os.PathLike)) and Path(os.fsdecode(file)).name == path.name:
                opened.append(file)
            return _real(file, *args, **kwargs)

        monkeypatch.setattr(module, "open", counting)
    result = cli("build", "--lang", "en", "--lang", "es", "--clinic", str(path), "--out", str(out), "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert len(opened) == 1, opened


def test_a_changed_profile_rebuilds_and_an_unchanged_one_does_not(cli, tmp_path, out):
    path = profile(tmp_path / "clinics", "riverside")
    args = ("build", "--lang", "en", "--clinic", str(path), "--out", str(out))
    assert "built 1, up to date 0" in cli(*args).output
    assert "built 0, up to date 1" in cli(*args).output
    path.write_text(path.read_text("utf-8").replace("555 0100", "555 0199"), "utf-8")
    assert "built 1, up to date 0" in cli(*args).output


@pytest.fixture
def full_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True)
    if result.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    yield mount
    subprocess.run(["umount", str(mount)], capture_output=True)


def test_a_full_disk_during_build_all_in_parallel_is_one_line_per_handout(cli, project, full_disk):
    keep_only(project, {"es", "fr", "de"})
    path = project.catalog_file("de")
    text, blanked = re.subn(r'(msgctxt "for.heading"\nmsgid "[^"]*"\nmsgstr )"[^"]*"', r'\1""',
                            path.read_text("utf-8"))
    assert blanked == 1
    path.write_text(text, "utf-8")  # de is incomplete: left out
    out = full_disk / "out"
    out.mkdir()
    (out / ".nkhandout").mkdir()
    with open(full_disk / "filler", "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError as error:
            assert error.errno == errno.ENOSPC
    result = cli("build", "--all", "--out", str(out), "--jobs", "2")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    failed = [line for line in result.output.splitlines() if "No space left on device" in line]
    assert sorted(line.split(":")[1].strip() for line in failed) == ["en", "es", "fr"], result.output
    assert "skipped de:" in result.output
    assert temp_files(full_disk) == [] and pdfs_under(full_disk) == []


# -- 15. --all never leaves a PDF that looks current but is not --------------------------------

def _change_english(project):
    source = project.source_file
    text = source.read_text("utf-8")
    assert 'heading = "Why some doctors test for NK cells"' in text
    source.write_text(text.replace('heading = "Why some doctors test for NK cells"',
                                   'heading = "Why some doctors test for natural killer cells"'), "utf-8")


def test_build_all_after_an_english_change_says_what_it_skipped_and_moves_old_pdfs_aside(cli, project, out):
    keep_only(project, {"es", "fr"})
    first = cli("build", "--all", "--out", str(out))
    assert first.exit_code == 0 and "built 3," in first.output, first.output
    _change_english(project)
    for attempt in range(2):  # the second build says it again, from what the first recorded
        result = cli("build", "--all", "--out", str(out))
        assert result.exit_code == 0, result.output
        for code in ("es", "fr"):
            assert (f"skipped {code}: 1 string(s) changed in the English; run `nkhandout update` "
                    "and translate them") in result.output, (attempt, result.output)
            assert not (out / f"{NAME}.{code}.pdf").exists()
            assert (out / f"{NAME}.{code}.outdated.pdf").is_file()
        assert ("built 1," if attempt == 0 else "built 0,") in result.output
        if attempt == 0:
            for code in ("es", "fr"):
                assert f"moved aside {out / f'{NAME}.{code}.outdated.pdf'}" in result.output
    assert cli("update").exit_code == 0
    result = cli("build", "--all", "--out", str(out))
    assert "skipped es: 1 string(s) marked fuzzy" in result.output, result.output
    assert not (out / f"{NAME}.es.pdf").exists()


def test_a_rebuilt_handout_replaces_its_outdated_copy(cli, project, out):
    keep_only(project, {"es"})
    assert cli("build", "--lang", "es", "--out", str(out)).exit_code == 0
    catalog = project.catalog_file("es")
    catalog.write_text(catalog.read_text("utf-8").replace("Células NK", "Las células NK", 1), "utf-8")
    result = cli("build", "--lang", "es", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.glob("*.pdf")) == [f"{NAME}.es.pdf"]


def test_a_failed_rebuild_leaves_no_pdf_under_the_current_name(cli, project, out):
    keep_only(project, {"es"})
    assert cli("build", "--lang", "es", "--out", str(out)).exit_code == 0
    _change_english(project)
    result = cli("build", "--lang", "es", "--out", str(out))
    assert result.exit_code == 1
    assert not (out / f"{NAME}.es.pdf").exists()
    assert (out / f"{NAME}.es.outdated.pdf").is_file()
    assert f"moved aside {out / f'{NAME}.es.outdated.pdf'}" in result.output


def test_a_draft_never_takes_the_final_name(cli, project, out):
    keep_only(project, {"es"})
    assert cli("build", "--lang", "es", "--out", str(out)).exit_code == 0
    result = cli("build", "--lang", "es", "--draft", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.glob("*.pdf")) == [f"{NAME}.es.draft.pdf", f"{NAME}.es.pdf"]
    assert "BORRADOR" in pdfutil.text(out / f"{NAME}.es.draft.pdf")  # the page says DRAFT in Spanish


# -- 16. what killed builds leave, in every folder a build writes -------------------------------

def test_stale_temporary_files_go_from_every_folder_the_build_writes(cli, tmp_path, out):
    path = profile(tmp_path / "clinics", "riverside")
    assert cli("build", "--lang", "en", "--clinic", str(path), "--out", str(out)).exit_code == 0
    folders = [out, out / ".nkhandout", out / "riverside", out / "riverside" / ".nkhandout"]
    left = []
    for number, folder in enumerate(folders):
        folder.mkdir(exist_ok=True)
        stale = folder / f".{NAME}.en.pdf.k1ll{number}{TEMP_SUFFIX}"
        stale.write_bytes(b"half a file")
        old = time.time() - 60
        os.utime(stale, (old, old))
        left.append(stale)
    assert cli("build", "--lang", "en", "--clinic", str(path), "--out", str(out)).exit_code == 0
    assert [p for p in left if p.exists()] == []


def test_the_age_of_a_stale_file_is_injected_not_waited_for(tmp_path):
    from nkhandout.project import Project

    project = Project.at(ROOT, fonts_dir=FONTS)
    out = tmp_path / "out"
    (out / ".nkhandout").mkdir(parents=True)
    fresh = out / ".nkhandout" / f".x.json{TEMP_SUFFIX}"
    fresh.write_bytes(b"{")
    batch.run(project, ["en"], out_dir=out, jobs=1)
    assert fresh.exists()  # younger than the default age: might be a build just starting
    batch.run(project, ["en"], out_dir=out, jobs=1, stale_age=0)
    assert not fresh.exists()
