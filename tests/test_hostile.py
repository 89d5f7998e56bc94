"""Hostile content, broken files and interrupted builds."""

import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from nkhandout.files import TEMP_SUFFIX
from tests import pdfutil
from tests.conftest import FONTS, ROOT, SHIPPED, copy_project, files_in

NAME = "nk-cells-recurrent-miscarriage"


class Listener:
    """A socket on 127.0.0.1 that records every connection made to it."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.connections = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
                self.connections += 1
                conn.close()
            except OSError:
                continue

    def close(self):
        self.stop.set()
        self.thread.join(2)
        self.server.close()


@pytest.fixture
def listener():
    item = Listener()
    yield item
    item.close()


def all_temp_files(folder):
    return [p for p in folder.rglob("*") if p.name.endswith(TEMP_SUFFIX) or p.name.endswith(".tmp")]


# -- reading outside the project -------------------------------------------------------------

def test_the_listener_does_see_a_real_connection(listener):
    """The control: without it, 'no connection' would prove nothing."""
    socket.create_connection(("127.0.0.1", listener.port), timeout=2).close()
    time.sleep(0.5)
    assert listener.connections == 1


def test_website_is_printed_and_encoded_never_fetched(cli, tmp_path, out, listener):
    url = f"http://127.0.0.1:{listener.port}/rpl"
    profile = tmp_path / "c.toml"
    profile.write_text(f'name = "C"\nphone = "112"\nwebsite = "{url}"\n', "utf-8")
    result = cli("build", "--lang", "en", "--clinic", str(profile), "--out", str(out))
    assert result.exit_code == 0, result.output
    time.sleep(0.5)
    assert listener.connections == 0
    assert url in pdfutil.text(out / "c" / f"{NAME}.en.pdf").replace("\r\n", "")


@pytest.mark.parametrize("css", [
    '@import url("http://127.0.0.1:{port}/x.css");',
    'body {{ background: url("http://127.0.0.1:{port}/bg.png"); }}',
    'body {{ background: url("https://127.0.0.1:{port}/bg.png"); }}',
    '@font-face {{ font-family: X; src: url("http://127.0.0.1:{port}/f.ttf"); }} html {{ font-family: X; }}',
])
def test_stylesheet_cannot_reach_the_network(cli, project, out, listener, css):
    sheet = project.templates_dir / "print.css"
    sheet.write_text(css.format(port=listener.port) + "\n" + sheet.read_text("utf-8"), "utf-8")
    result = cli("build", "--lang", "en", "--out", str(out))
    time.sleep(0.5)
    assert listener.connections == 0
    assert result.exit_code == 1
    assert "refused to fetch http" in result.output
    assert files_in(out) == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "/dev/urandom", "../../../../../../etc/passwd",
                                 "file:///proc/self/environ"])
def test_stylesheet_cannot_read_local_files(cli, project, out, url):
    sheet = project.templates_dir / "print.css"
    sheet.write_text(f'body {{ background: url("{url}"); }}\n' + sheet.read_text("utf-8"), "utf-8")
    result = cli("build", "--lang", "en", "--out", str(out))
    assert result.exit_code == 1 and "refused to fetch file:///" in result.output
    assert files_in(out) == []


def test_template_image_outside_is_refused(cli, project, out):
    template = project.templates_dir / "handout.html.j2"
    template.write_text(template.read_text("utf-8").replace(
        "<header>", '<header><img src="file:///etc/hostname" alt="x">'), "utf-8")
    result = cli("build", "--lang", "en", "--out", str(out))
    assert result.exit_code == 1 and "refused to fetch file:///etc/hostname" in result.output


def test_font_manifest_cannot_point_outside(cli, project, out):
    manifest = project.templates_dir / "fonts.toml"
    manifest.write_text(manifest.read_text("utf-8").replace(
        'file = "NotoSans-Regular.ttf"', 'file = "../../../etc/passwd"'), "utf-8")
    result = cli("build", "--lang", "en", "--out", str(out))
    assert result.exit_code == 1
    assert "templates/fonts.toml: font file '../../../etc/passwd' must be a plain .ttf or .otf file name" in result.output


@pytest.mark.parametrize("name", ["references.json", "handout.toml", "locales/es.po"])
def test_a_link_leaving_content_is_refused(cli, project, out, tmp_path, name):
    target = project.topic.folder / name
    outside = tmp_path / "outside"
    shutil.copy(target, outside)
    target.unlink()
    target.symlink_to(outside)
    result = cli("build", "--lang", "es", "--out", str(out))
    assert result.exit_code == 1
    assert f"content/topics/nk-cells/{name}: leads outside content/" in result.output


def test_devices_and_pipes_are_not_read(cli, project, out):
    path = project.catalog_file("es")
    path.unlink()
    os.mkfifo(path)  # reading a pipe would hang
    result = cli("build", "--lang", "es", "--out", str(out))
    assert result.exit_code == 1 and "content/topics/nk-cells/locales/es.po: not a regular file" in result.output
    path.unlink()
    path.symlink_to("/dev/urandom")
    result = cli("build", "--lang", "es", "--out", str(out))
    assert result.exit_code == 1 and "content/topics/nk-cells/locales/es.po: leads outside content/" in result.output


# -- code in content ----------------------------------------------------------------------------

def set_msgstr(project, code, context, text):
    from nkhandout import catalog, files
    from tests.conftest import catalog_path

    path = catalog_path(project, code, context)
    loaded = catalog.load(path, locale=code)
    for message in loaded.catalog:
        if message.context == context:
            message.string = text
    files.write_atomic(path, catalog.dump(loaded).encode("utf-8"))


@pytest.mark.parametrize("text, problem", [
    ("{{ 7*7 }}", "contains template code '{{'"),
    ("{% include 'handout.html.j2' %}", "contains template code '{%'"),
    ("</style><script>alert(1)</script>", "contains HTML '</style>'"),
    ('<img src="file:///etc/passwd">', "contains HTML '<img"),
])
def test_code_in_a_translation_is_refused_by_check_and_build(cli, project, out, text, problem):
    set_msgstr(project, "es", "title", text)
    checked = cli("check", "--lang", "es")
    assert checked.exit_code == 1 and f"title: {problem}" in checked.output
    built = cli("build", "--lang", "es", "--out", str(out))
    assert built.exit_code == 1 and problem in built.output
    assert files_in(out) == []


def test_code_in_clinic_fields_is_printed_literally(cli, tmp_path, out):
    profile = tmp_path / "c.toml"
    profile.write_text(
        'name = "{{ 7*7 }} Clinic"\nphone = "555"\n'
        'note = "</style><script>alert(1)</script> {% include \'/etc/passwd\' %}"\n', "utf-8")
    result = cli("build", "--lang", "en", "--clinic", str(profile), "--out", str(out))
    assert result.exit_code == 0, result.output
    text = pdfutil.text(out / "c" / f"{NAME}.en.pdf").replace("\r\n", " ")
    assert "{{ 7*7 }} Clinic" in text and "49 Clinic" not in text
    assert "</style><script>alert(1)</script>" in text
    assert "{% include '/etc/passwd' %}" in text and "root:x:0" not in text


def test_template_syntax_in_the_english_is_printed_literally(cli, project, out):
    source = project.source_file
    source.write_text(source.read_text("utf-8").replace(
        'title = "NK cells and repeated miscarriage"', 'title = "NK cells {{ 7*7 }} <b>x</b>"'), "utf-8")
    result = cli("build", "--lang", "en", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "NK cells {{ 7*7 }} <b>x</b>" in pdfutil.text(out / f"{NAME}.en.pdf")


# -- bounds ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, size, message", [
    ("locales/es.po", 600 * 1024, "the limit is 524288"),
    ("handout.toml", 300 * 1024, "the limit is 262144"),
    ("references.json", 600 * 1024, "the limit is 524288"),
])
def test_oversized_files_are_refused_before_parsing(cli, project, out, name, size, message):
    path = project.topic.folder / name
    with open(path, "ab") as handle:
        handle.write(b"#" * size if name.endswith((".po", ".toml")) else b" " * size)
    result = cli("build", "--lang", "es", "--out", str(out))
    assert result.exit_code == 1 and f"content/topics/nk-cells/{name}: file is" in result.output and message in result.output


def test_a_string_far_too_long_is_refused(cli, project):
    set_msgstr(project, "es", "for.item1", "NK " * 2000 + "[@dosiou2005]")
    result = cli("check", "--lang", "es")
    assert result.exit_code == 1 and "no string may pass 2000" in result.output


def test_a_render_that_runs_too_long_is_stopped(cli, out, monkeypatch):
    from nkhandout import render

    real = render.Renderer.layout

    def slow(self, handout, html):
        time.sleep(3)
        return real(self, handout, html)

    monkeypatch.setattr(render.Renderer, "layout", slow)
    monkeypatch.setenv("NKHANDOUT_TIMEOUT", "0.5")
    result = cli("build", "--lang", "en", "--out", str(out), "--jobs", "1")
    assert result.exit_code == 1
    assert "locale en: rendering took longer than 0.5 s and was stopped" in result.output
    assert files_in(out) == []


# -- broken files -------------------------------------------------------------------------------

def _mutations(data):
    return {
        "truncated": data[: len(data) // 2],
        "binary": bytes(range(256)) * 8,
        "latin-1": data.decode("utf-8").encode("latin-1", "replace"),
        "bom": b"\xef\xbb\xbf" + data,
        "crlf": data.replace(b"\n", b"\r\n"),
        "empty": b"",
    }


@pytest.mark.parametrize("name", ["locales/es.po", "handout.toml", "references.json"])
@pytest.mark.parametrize("kind", ["truncated", "binary", "latin-1", "bom", "crlf", "empty", "duplicate"])
def test_broken_files_give_one_line_never_a_traceback(cli, project, out, name, kind):
    path = project.topic.folder / name
    data = path.read_bytes()
    if kind == "duplicate":
        mutated = {
            "locales/es.po": data + b'\nmsgctxt "title"\nmsgid "NK cells and repeated miscarriage"\nmsgstr "x"\n',
            "handout.toml": data.replace(b"[meta]\n", b'[meta]\nversion = "0"\n', 1),
            "references.json": data.replace(b'"id": "dosiou2005",', b'"id": "dosiou2005", "id": "x",', 1),
        }[name]
    else:
        mutated = _mutations(data)[kind]
    if mutated == data:
        pytest.skip(f"{kind} leaves {name} unchanged")
    path.write_bytes(mutated)
    if kind == "crlf":
        # Windows line ends are valid TOML, JSON and PO (GNU msgfmt, Poedit and
        # Weblate read them): accepted, same handout.
        result = cli("build", "--lang", "es", "--out", str(out))
        assert result.exit_code == 0, result.output
        return
    for args in (("build", "--lang", "es", "--out", str(out)), ("check", "--lang", "es")):
        result = cli(*args)
        assert result.exit_code == 1, (args, result.output)
        assert "Traceback" not in result.output
        assert f"content/topics/nk-cells/{name}" in result.output, result.output
    listing = cli("locales", "--no-layout")
    assert "Traceback" not in listing.output
    assert files_in(out) == []


# -- interrupted and concurrent builds ----------------------------------------------------------

def _qpdf_ok(path):
    return subprocess.run(["qpdf", "--check", str(path)], capture_output=True).returncode == 0


def _finished_copy(tmp_path):
    """A copy of the project, its environment and its number of locales: every
    shipped locale, complete (an incomplete one fails here, not later)."""
    from nkhandout import build

    project = copy_project(tmp_path / "project")
    env = dict(os.environ, NKHANDOUT_ROOT=str(project.root), NKHANDOUT_FONTS=str(FONTS))
    complete = build.complete_locales(project)
    assert sorted(complete) == sorted(SHIPPED), complete
    return project, env, len(complete)


def test_sigkill_during_a_batch_leaves_only_complete_pdfs(tmp_path):
    _project, env, locales = _finished_copy(tmp_path)
    total = 8 * locales
    clinics = tmp_path / "clinics"
    clinics.mkdir()
    for number in range(8):
        (clinics / f"c{number}.toml").write_text(f'name = "Clinic {number}"\nphone = "555 010{number}"\n')
    out = tmp_path / "out"
    command = [sys.executable, "-m", "nkhandout", "build", "--all", "--clinic", str(clinics),
               "--out", str(out), "--jobs", "2"]
    process = subprocess.Popen(command, cwd=ROOT, start_new_session=True, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 180  # a loaded machine is slow to start
    while time.time() < deadline and len(list(out.rglob("*.pdf"))) < 3:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    pdfs = list(out.rglob("*.pdf"))
    assert 0 < len(pdfs) < total, f"the kill should land mid-batch ({len(pdfs)} PDFs)"
    assert all(_qpdf_ok(pdf) for pdf in pdfs)
    # The killed build is gone, so every temporary file it left is stale:
    # the rerun is told so (stale_age=0) instead of waiting for them to age.
    from nkhandout import batch, incremental
    from nkhandout.project import Project
    from tests.conftest import FONTS

    project = Project.at(ROOT, fonts_dir=FONTS)
    rerun = batch.run(project, incremental.candidate_codes(project), out_dir=out, clinic_paths=[clinics],
                      only_complete=True, jobs=2, stale_age=0)
    assert not rerun.failures and not rerun.not_built, [str(f) for f in rerun.failures]
    pdfs = list(out.rglob("*.pdf"))
    assert len(pdfs) == total and all(_qpdf_ok(pdf) for pdf in pdfs)
    assert all_temp_files(out) == []


def test_two_builds_into_one_folder_at_once(tmp_path):
    _project, env, _locales = _finished_copy(tmp_path)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "nkhandout", "build", "--lang", "en", "--lang", "es", "--lang", "ru",
               "--force", "--jobs", "1", "--out", str(out)]
    first = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    second = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert first.wait() == 0 and second.wait() == 0
    pdfs = sorted(out.glob("*.pdf"))
    assert len(pdfs) == 3 and all(_qpdf_ok(pdf) for pdf in pdfs)
    assert all_temp_files(out) == []


@pytest.mark.parametrize("code, text", [(errno.ENOSPC, "No space left on device"),
                                        (errno.EROFS, "Read-only file system")])
def test_write_errors_are_one_line_and_leave_nothing(cli, out, monkeypatch, code, text):
    import nkhandout.files as files

    def failing(fd):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(files.os, "fsync", failing)
    result = cli("build", "--lang", "en", "--out", str(out), "--jobs", "1")
    assert result.exit_code == 1
    assert f"cannot write the PDF: {text}" in result.output
    assert files_in(out) == []


@pytest.fixture
def tiny_disk(tmp_path):
    """A 200 KB tmpfs, where the machine allows mounting one."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mount)],
                            capture_output=True)
    if result.returncode != 0:
        pytest.skip("cannot mount a tmpfs here; test_write_errors_are_one_line_and_leave_nothing covers it")
    yield mount
    subprocess.run(["umount", str(mount)], capture_output=True)


def test_a_really_full_disk(cli, tiny_disk):
    (tiny_disk / "filler").write_bytes(b"\0" * (190 * 1024))
    result = cli("build", "--lang", "en", "--out", str(tiny_disk / "out"), "--jobs", "1")
    assert result.exit_code == 1 and "No space left on device" in result.output
    assert all_temp_files(tiny_disk) == [] and not list(tiny_disk.rglob("*.pdf"))


def test_a_really_read_only_folder(cli, tiny_disk):
    (tiny_disk / "out").mkdir()
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)], check=True)
    result = cli("build", "--lang", "en", "--out", str(tiny_disk / "out"), "--jobs", "1")
    assert result.exit_code == 1
    assert "Read-only file system" in result.output or "not writable" in result.output


# -- dependencies -------------------------------------------------------------------------------

def test_dependencies_are_pinned_and_setup_uses_the_pins():
    pins = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().split() if "==" in line)
    for name in ("weasyprint", "pydyf", "Babel", "Jinja2", "fonttools", "click", "segno", "tinycss2"):
        assert any(key.lower() == name.lower() for key in pins), name
    from importlib import metadata

    assert pins.get("weasyprint") == metadata.version("weasyprint")
    assert "-c constraints.txt" in (ROOT / "Makefile").read_text()


def test_stale_temporary_files_go_and_live_ones_stay(cli, out):
    """What `kill -9` at the worst moment leaves, and what a running build holds."""
    import fcntl

    assert cli("build", "--lang", "en", "--out", str(out)).exit_code == 0
    stale = out / f".{NAME}.en.pdf.k1ll3d{TEMP_SUFFIX}"
    stale.write_bytes(b"%PDF-1.7 half a file")
    live = out / f".{NAME}.es.pdf.runn1ng{TEMP_SUFFIX}"
    live.write_bytes(b"%PDF-1.7 being written")
    old = time.time() - 60
    os.utime(stale, (old, old))
    os.utime(live, (old, old))
    holder = open(live, "rb")
    fcntl.flock(holder.fileno(), fcntl.LOCK_EX)  # as a running writer holds it
    try:
        assert cli("build", "--lang", "en", "--out", str(out)).exit_code == 0
        assert not stale.exists()
        assert live.exists()
    finally:
        holder.close()
