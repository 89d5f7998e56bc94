"""Files the build writes and reads: links are replaced, never written through;
fonts are checked by content; templates run sandboxed; malformed content and
references are one line."""

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from nkhandout import fonts as font_lib
from nkhandout.cli import main
from tests.conftest import FONTS
from tests.pdfutil import text as pdf_text

NAME = "nk-cells-recurrent-miscarriage"


def invoke(project, *args):
    """Run `nkhandout` and keep any exception in the result (no traceback
    may reach the user: tests assert that none was raised)."""
    return CliRunner().invoke(main, ["--root", str(project.root), *args])


def one_line_error(result, *expected, code=1):
    """The command failed with exit ``code`` and one line naming ``expected``."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("nkhandout:")]
    assert len(lines) == 1, result.output
    for part in expected:
        assert part in lines[0], result.output


@pytest.fixture
def fonts_dir(tmp_path, monkeypatch):
    """A private copy of the installed fonts (times kept), used by the project."""
    target = tmp_path / "fonts"
    shutil.copytree(FONTS, target, ignore=shutil.ignore_patterns(".*"))
    monkeypatch.setenv("NKHANDOUT_FONTS", str(target))
    return target


# -- item 4: every write replaces a link, never writes through it ------------------------------

def test_links_at_every_build_target_are_replaced_not_followed(project, tmp_path, out):
    # A project with English and one incomplete translation, so that `build --all`
    # writes a PDF, its stamp and the incomplete marker.
    for po in project.locales_dir.glob("*.po"):
        if po.stem != "fr":
            po.unlink()
    fr = project.catalog_file("fr")
    text = fr.read_text("utf-8")
    blanked = re.sub(r'(msgctxt "title"\nmsgid "[^"]*"\nmsgstr )"[^"]*"', r'\1""', text)
    assert blanked != text
    fr.write_text(blanked, "utf-8")
    outside = {name: tmp_path / f"outside-{name}.txt" for name in ("pdf", "stamp", "marker")}
    for path in outside.values():
        path.write_text("do not touch\n", "utf-8")
    (out / ".nkhandout").mkdir(parents=True)
    pdf = out / f"{NAME}.en.pdf"
    links = {
        "pdf": pdf,
        "stamp": out / ".nkhandout" / f"{pdf.name}.json",
        "marker": out / ".nkhandout" / "incomplete.fr",
    }
    for name, link in links.items():
        link.symlink_to(outside[name])

    result = invoke(project, "build", "--all", "--jobs", "1", "--out", str(out))

    assert result.exit_code == 0, result.output
    for name, path in outside.items():
        assert path.read_text("utf-8") == "do not touch\n", name
    for name, link in links.items():
        assert not link.is_symlink() and link.is_file(), name
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert json.loads(links["stamp"].read_text("utf-8"))["inputs"]
    assert links["marker"].read_text("utf-8")  # the inputs it was incomplete with
    # The marker does its job: the next run skips fr without rebuilding en.
    again = invoke(project, "build", "--all", "--jobs", "1", "--out", str(out))
    assert "built 0, up to date 1" in again.output


def test_a_link_as_the_stamp_folder_is_refused(project, tmp_path, out):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out.mkdir()
    (out / ".nkhandout").symlink_to(elsewhere)
    result = invoke(project, "build", "--lang", "en", "--jobs", "1", "--out", str(out))
    one_line_error(result, ".nkhandout", "link")
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("planted", ["stamp", "pdf", "marker"])
def test_pipes_planted_in_the_output_folder_never_block_a_build(project, out, planted):
    # Old builds opened the stamp, the marker and the PDF with a plain open():
    # a named pipe there blocked for ever. Run in a process of its own, with a
    # time limit, so that a hang fails the test instead of hanging it.
    env = dict(os.environ, NKHANDOUT_ROOT=str(project.root))
    command = [sys.executable, "-m", "nkhandout", "build", "--jobs", "1", "--out", str(out)]
    command += ["--all"] if planted == "marker" else ["--lang", "en"]
    if planted == "marker":
        for po in project.locales_dir.glob("*.po"):
            if po.stem != "fr":
                po.unlink()
        fr = project.catalog_file("fr")
        fr.write_text(fr.read_text("utf-8").replace(
            'msgstr "Cellules NK et fausses couches répétées"', 'msgstr ""', 1), "utf-8")
        assert 'msgstr ""' in fr.read_text("utf-8").split('msgctxt "title"')[1].split("msgctxt")[0]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    pdf = out / f"{NAME}.en.pdf"
    target = {"stamp": out / ".nkhandout" / f"{pdf.name}.json", "pdf": pdf,
              "marker": out / ".nkhandout" / "incomplete.fr"}[planted]
    target.unlink()
    os.mkfifo(target)
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert ("built 0" if planted == "marker" else "built 1") in again.stdout
    assert stat.S_ISREG(target.lstat().st_mode)  # the pipe was replaced


def test_cleanup_neither_blocks_on_a_pipe_nor_follows_a_link(project, tmp_path, out):
    out.mkdir()
    pipe = out / ".x.pdf.0000.nkhandout-tmp"
    os.mkfifo(pipe)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    theirs = elsewhere / ".theirs.nkhandout-tmp"
    theirs.write_text("not ours to delete\n", "utf-8")
    (out / "clinic-b").symlink_to(elsewhere)
    old = time.time() - 3600
    for path in (pipe, theirs):
        os.utime(path, (old, old), follow_symlinks=False)
    env = dict(os.environ, NKHANDOUT_ROOT=str(project.root))
    command = [sys.executable, "-m", "nkhandout", "build", "--lang", "en", "--jobs", "1", "--out", str(out)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert theirs.read_text("utf-8") == "not ours to delete\n"


@pytest.mark.parametrize("kind", [(), ("--format", "html"), ("--large-print",)], ids=["pdf", "html", "large"])
def test_a_link_as_a_clinic_folder_is_refused(project, tmp_path, out, kind):
    profile = tmp_path / "profiles" / "clinic-a.toml"
    profile.parent.mkdir()
    profile.write_text('name = "Clinic A"\nphone = "+1 555 0100"\n', "utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out.mkdir()
    (out / "clinic-a").symlink_to(elsewhere)
    result = invoke(project, "build", "--lang", "en", "--clinic", str(profile), "--jobs", "1", "--out", str(out), *kind)
    one_line_error(result, "clinic-a", "link")
    assert list(elsewhere.iterdir()) == []


def test_update_replaces_a_link_at_the_template_catalog(project, tmp_path):
    outside = tmp_path / "outside.pot"
    outside.write_text("do not touch\n", "utf-8")
    project.template_file.unlink()
    project.template_file.symlink_to(outside)
    result = invoke(project, "update")
    assert result.exit_code == 0, result.output
    assert outside.read_text("utf-8") == "do not touch\n"
    assert not project.template_file.is_symlink()
    assert 'msgctxt "title"' in project.template_file.read_text("utf-8")


def test_catalog_commands_replace_a_link_inside_content(project):
    # A catalog may be a link to another file inside content/ (it is read);
    # writing it replaces the link and leaves the file it led to alone.
    real = project.content_dir / "es-real.po"
    catalog = project.catalog_file("es")
    catalog.rename(real)
    catalog.symlink_to(real)
    before = real.read_bytes()
    result = invoke(project, "mark-reviewed", "es", "--by", "Ana Ruiz, MD")
    assert result.exit_code == 0, result.output
    assert real.read_bytes() == before
    assert not catalog.is_symlink() and "X-Reviewed-By: Ana Ruiz, MD" in catalog.read_text("utf-8")


@pytest.mark.parametrize("command", [("update",), ("mark-reviewed", "es", "--by", "Ana Ruiz, MD")])
def test_a_catalog_linked_outside_content_is_never_written(project, tmp_path, command):
    outside = tmp_path / "outside.po"
    catalog = project.catalog_file("es")
    outside.write_bytes(catalog.read_bytes())
    before = outside.read_bytes()
    catalog.unlink()
    catalog.symlink_to(outside)
    one_line_error(invoke(project, *command), "content/topics/nk-cells/locales/es.po", "outside")
    assert outside.read_bytes() == before
    assert catalog.is_symlink()


def test_fonts_into_a_folder_it_cannot_make_is_one_line(project, tmp_path, monkeypatch):
    not_a_folder = tmp_path / "fonts"
    not_a_folder.write_text("a file where the fonts folder should be\n", "utf-8")
    monkeypatch.setenv("NKHANDOUT_FONTS", str(not_a_folder))
    one_line_error(invoke(project, "fonts"), "cannot install the fonts", str(not_a_folder))


def test_fonts_replaces_links_at_the_licence_and_font_files(project, fonts_dir, tmp_path):
    outside = {name: tmp_path / f"outside-{name}" for name in ("licence", "font")}
    for path in outside.values():
        path.write_text("do not touch\n", "utf-8")
    licence = fonts_dir / "LICENSE-fonts-noto-core.txt"
    font = fonts_dir / "NotoSans-Regular.ttf"
    for link, target in ((licence, outside["licence"]), (font, outside["font"])):
        link.unlink()
        link.symlink_to(target)
    result = invoke(project, "fonts")
    assert result.exit_code == 0, result.output
    for path in outside.values():
        assert path.read_text("utf-8") == "do not touch\n"
    assert not licence.is_symlink() and licence.read_bytes() == (FONTS / licence.name).read_bytes()
    assert not font.is_symlink() and font.read_bytes() == (FONTS / font.name).read_bytes()


# -- items 11 and 14: fonts are checked by content; `fonts` leaves correct files alone ----------

def _same_size_same_mtime(path):
    """Change one byte of ``path`` in place, then put its times back."""
    info = os.stat(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x55
    with open(path, "r+b") as handle:
        handle.write(data)
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns) == (info.st_size, info.st_mtime_ns)


def test_a_font_replaced_with_same_size_and_time_is_refused(project, fonts_dir, out):
    built = invoke(project, "build", "--lang", "es", "--jobs", "1", "--out", str(out))
    assert built.exit_code == 0, built.output
    before = (out / f"{NAME}.es.pdf").read_bytes()
    _same_size_same_mtime(fonts_dir / "NotoSans-Regular.ttf")

    result = invoke(project, "build", "--lang", "es", "--jobs", "1", "--out", str(out))
    one_line_error(result, "NotoSans-Regular.ttf", "SHA-256", "nkhandout fonts")
    assert (out / f"{NAME}.es.pdf").read_bytes() == before  # the good PDF stays
    checked = invoke(project, "check", "--lang", "es")
    assert checked.exit_code == 1 and "NotoSans-Regular.ttf" in checked.output

    fixed = invoke(project, "fonts")
    assert fixed.exit_code == 0, fixed.output
    assert "installed NotoSans-Regular.ttf" in fixed.output
    again = invoke(project, "build", "--lang", "es", "--jobs", "1", "--out", str(out))
    assert "built 0, up to date 1" in again.output, again.output


def test_a_font_that_is_not_the_pinned_one_is_never_built_with(project, fonts_dir, out):
    _same_size_same_mtime(fonts_dir / "NotoSans-Bold.ttf")
    result = invoke(project, "build", "--lang", "de", "--jobs", "1", "--out", str(out))
    one_line_error(result, "NotoSans-Bold.ttf", "nkhandout fonts")
    assert not (out / f"{NAME}.de.pdf").exists()


def test_a_font_without_a_pinned_hash_is_an_error(project, out):
    manifest = project.templates_dir / "fonts.toml"
    text = manifest.read_text("utf-8")
    manifest.write_text(re.sub(r'sha256 = "[0-9a-f]+"\n', "", text, count=1), "utf-8")
    result = invoke(project, "build", "--lang", "es", "--jobs", "1", "--out", str(out))
    one_line_error(result, "fonts.toml", "NotoSans-Regular.ttf", "sha256")


def test_digests_are_cached_and_a_rewrite_is_still_seen(tmp_path, monkeypatch):
    folder = tmp_path / "fonts"
    folder.mkdir()
    font = folder / "a.ttf"
    font.write_bytes(b"A" * 1000)
    real_ns = font_lib.time.time_ns
    monkeypatch.setattr(font_lib.time, "time_ns", lambda: real_ns() + 10**10)  # "ten seconds later"
    first = font_lib.digests(folder)
    assert first == {"a.ttf": font_lib.sha256(font)}
    assert (folder / font_lib.DIGEST_CACHE).is_file()

    hashed = []
    real_sha = font_lib.hashlib.sha256
    monkeypatch.setattr(font_lib.hashlib, "sha256", lambda *a: hashed.append(1) or real_sha(*a))
    assert font_lib.digests(folder) == first
    assert hashed == []  # served from the cache

    _same_size_same_mtime(font)
    assert font_lib.digests(folder)["a.ttf"] != first["a.ttf"]
    assert hashed  # the change time differed: hashed again


def test_fonts_twice_then_build_twice_is_up_to_date(project, fonts_dir, out):
    # What `make handout` does each time: `nkhandout fonts`, then a build.
    times = {p.name: p.stat().st_mtime_ns for p in fonts_dir.iterdir() if not p.name.startswith(".")}
    runs = []
    for _ in range(2):
        fonts = invoke(project, "fonts")
        assert fonts.exit_code == 0, fonts.output
        assert "installed" not in fonts.output
        runs.append(invoke(project, "build", "--lang", "es", "--jobs", "1", "--out", str(out)))
    assert "built 1, up to date 0" in runs[0].output, runs[0].output
    assert "built 0, up to date 1" in runs[1].output, runs[1].output
    after = {p.name: p.stat().st_mtime_ns for p in fonts_dir.iterdir() if not p.name.startswith(".")}
    assert after == times  # nothing was rewritten


# -- item 12: templates are sandboxed and read only from templates/ ----------------------------

def _edit_template(project, old, new):
    path = project.templates_dir / "handout.html.j2"
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), "utf-8")


@pytest.mark.parametrize("expression", [
    "{{ h.label.__globals__ }}",
    "{{ h.label.__globals__['__builtins__']['open']('/etc/hostname').read() }}",
    "{{ h.__class__.__mro__ }}",
    "{{ ''.__class__.__subclasses__() }}",
])
def test_python_internals_are_refused_in_templates(project, out, expression):
    _edit_template(project, "<main>", "<main>" + expression)
    result = invoke(project, "build", "--lang", "en", "--jobs", "1", "--out", str(out))
    one_line_error(result, "templates/handout.html.j2", "sandbox")
    assert not (out / f"{NAME}.en.pdf").exists()


@pytest.mark.parametrize("name", ["secret.html", "secret.j2", "parts/secret.html"])
def test_a_template_that_is_a_link_is_refused(project, out, tmp_path, name):
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-4711\n", "utf-8")
    link = project.templates_dir / name
    link.parent.mkdir(exist_ok=True)
    link.symlink_to(secret)
    _edit_template(project, "<main>", '<main>{%% include "%s" %%}' % name)
    for args in (("build", "--lang", "en", "--jobs", "1", "--out", str(out)), ("check", "--lang", "en")):
        result = invoke(project, *args)
        one_line_error(result, f"templates/{name}", "link")
        assert "SECRET-4711" not in result.output
    assert not (out / f"{NAME}.en.pdf").exists()


def test_a_link_to_a_folder_of_templates_is_refused(project, out, tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "secret.html").write_text("SECRET-4711\n", "utf-8")
    (project.templates_dir / "parts").symlink_to(folder)
    _edit_template(project, "<main>", '<main>{% include "parts/secret.html" %}')
    result = invoke(project, "build", "--lang", "en", "--jobs", "1", "--out", str(out))
    one_line_error(result, "templates/parts/secret.html", "link")


def test_included_templates_still_work(project, out):
    (project.templates_dir / "extra.html").write_text("<p>EXTRA-LINE</p>\n", "utf-8")
    _edit_template(project, "</main>", '{% include "extra.html" %}</main>')
    result = invoke(project, "build", "--lang", "en", "--jobs", "1", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "EXTRA-LINE" in pdf_text(out / f"{NAME}.en.pdf")


def test_a_change_to_an_included_template_in_a_folder_rebuilds(project, out):
    part = project.templates_dir / "parts" / "extra.html"
    part.parent.mkdir()
    part.write_text("<p>FIRST-VERSION</p>\n", "utf-8")
    _edit_template(project, "</main>", '{% include "parts/extra.html" %}</main>')
    build = ("build", "--lang", "en", "--jobs", "1", "--out", str(out))
    assert "built 1" in invoke(project, *build).output
    assert "up to date 1" in invoke(project, *build).output
    part.write_text("<p>SECOND-VERSION</p>\n", "utf-8")
    result = invoke(project, *build)
    assert "built 1" in result.output, result.output
    assert "SECOND-VERSION" in pdf_text(out / f"{NAME}.en.pdf")


# -- item 6: malformed content and references are one line -------------------------------------

def _edit(path, old, new):
    text = path.read_text("utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), "utf-8")


@pytest.mark.parametrize("case", ["5000 digits", "3000 deep", "huge value", "infinite percent", "blocks"])
def test_malformed_handout_toml_is_one_line(project, out, case):
    source = project.source_file
    if case == "5000 digits":
        _edit(source, "minutes = { integer = 20,", "minutes = { integer = 2%s," % ("0" * 5000))
    elif case == "3000 deep":
        _edit(source, "[values]\n", "[values]\ndeep = %s1%s\n" % ("[" * 3000, "]" * 3000))
    elif case == "huge value":
        _edit(source, "minutes = { integer = 20,", "minutes = { integer = 2%s," % ("0" * 4000))
    elif case == "infinite percent":
        _edit(source, "nk_before = { percent = 0.14,", "nk_before = { percent = inf,")
    else:
        with open(source, "a", encoding="utf-8") as handle:
            handle.write('\n[[sections]]\nid = "extra"\nheading = "Extra"\nblocks = 5\n')
    for args in (("build", "--lang", "es", "--jobs", "1", "--out", str(out)), ("check", "--lang", "es")):
        result = invoke(project, *args)
        one_line_error(result, "content/topics/nk-cells/handout.toml")
    assert not out.exists() or not any(out.glob("*.pdf"))


def test_references_nested_100000_deep_are_one_line(project, out):
    project.references_file.write_text("[\n" + "[" * 100_000 + "]" * 100_000 + "\n]\n", "utf-8")
    result = invoke(project, "build", "--lang", "es", "--jobs", "1", "--out", str(out))
    one_line_error(result, "content/topics/nk-cells/references.json:2:", "nested too deeply")


def _set_field(project, ref_id, path, value):
    data = json.loads(project.references_file.read_text("utf-8"))
    item = next(entry for entry in data if entry["id"] == ref_id)
    target = item
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    project.references_file.write_text(json.dumps(data, indent=2), "utf-8")


@pytest.mark.parametrize("path, value, field", [
    (["page"], ["1", "2"], "'page'"),
    (["author", 0, "given"], 5, "'given'"),
    (["author", 1, "literal"], 7, "'literal'"),
    (["container-title-short"], 5, "'container-title-short'"),
    (["issued", "date-parts"], [[1e400]], "'issued'"),
    (["issued", "date-parts"], [[2004.5]], "'issued'"),
    (["volume"], {"n": 1}, "'volume'"),
    (["DOI"], 10, "'DOI'"),
    (["title"], ["a"], "'title'"),
    (["author", 0, "family"], None, "'family'"),
])
def test_csl_fields_of_the_wrong_type_are_one_line(project, out, path, value, field):
    _set_field(project, "moffett2004", path, value)
    for args in (("build", "--lang", "es", "--jobs", "1", "--out", str(out)), ("check", "--lang", "es")):
        result = invoke(project, *args)
        one_line_error(result, "content/topics/nk-cells/references.json:", "'moffett2004'", field)
    assert not out.exists() or not any(out.glob("*.pdf"))


def test_numbers_where_csl_allows_them_are_printed(project, out):
    # Real exports (Zotero, PubMed) write "page": 5 and "volume": 329.
    _set_field(project, "moffett2004", ["page"], 5)
    _set_field(project, "moffett2004", ["volume"], 329)
    _set_field(project, "moffett2004", ["issued", "date-parts"], [["2004", 11]])
    result = invoke(project, "build", "--lang", "en", "--jobs", "1", "--out", str(out))
    assert result.exit_code == 0, result.output
    printed = " ".join(pdf_text(out / f"{NAME}.en.pdf").split())
    assert "BMJ. 2004;329:5." in printed, printed  # the page prints no issue number
