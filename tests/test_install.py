"""Installed from a wheel, outside any checkout, nkhandout makes and builds a
project of its own: `pip install nkhandout-*.whl`, `nkhandout init DIR`,
`cd DIR && nkhandout build --lang es` gives every topic in Spanish."""

import os
import site
import subprocess
import sys
import venv
import zipfile

import pytest

from tests.conftest import FONTS, ROOT, ROOT_TOPICS


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A new virtual environment with nkhandout installed from a wheel built
    from this checkout. Its dependencies come from the test environment (a
    .pth file), so nothing is downloaded."""
    base = tmp_path_factory.mktemp("install")
    wheels = base / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(wheels), str(ROOT)], check=True, capture_output=True)
    (wheel,) = wheels.glob("nkhandout-*.whl")
    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    ours = [p for p in site.getsitepackages() if "site-packages" in p]
    with open(os.path.join(purelib, "zz-test-deps.pth"), "w") as handle:
        handle.write("\n".join(ours) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                    "--no-index", "-q", str(wheel)], check=True, capture_output=True)
    return env_dir, wheel


def run(env_dir, *args, cwd):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("NKHANDOUT_")}
    environment["NKHANDOUT_FONTS"] = str(FONTS)  # the fonts setup installed, not copied again
    return subprocess.run([str(env_dir / "bin" / "nkhandout"), *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=600)


def test_wheel_holds_the_project_template(installed):
    _env_dir, wheel = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert "nkhandout/_project/templates/handout.html.j2" in names
    assert "nkhandout/_project/templates/fonts.toml" in names
    for topic in ROOT_TOPICS:
        assert f"nkhandout/_project/content/topics/{topic}/handout.toml" in names
    assert not [n for n in names if "/templates/fonts/" in n]  # fonts come from Debian, by `nkhandout fonts`


def test_outside_a_project_every_command_says_how_to_start_one(installed, tmp_path):
    env_dir, _wheel = installed
    for args in (["build", "--lang", "es"], ["check"], ["locales"]):
        result = run(env_dir, *args, cwd=tmp_path)
        assert result.returncode == 2, result
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "nkhandout init DIR" in lines[0] and "Traceback" not in result.stderr


def test_init_then_build_every_topic_in_spanish_from_inside(installed, tmp_path):
    env_dir, _wheel = installed
    made = run(env_dir, "init", "clinic-handouts", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    project = tmp_path / "clinic-handouts"
    assert (project / "nkhandout.toml").is_file()
    inside = project / "content"
    built = run(env_dir, "build", "--lang", "es", cwd=inside)  # found from a folder below the project
    assert built.returncode == 0, built.stderr
    pdfs = sorted(p.name for p in (project / "handouts").glob("*.pdf"))
    assert len(pdfs) == len(ROOT_TOPICS) and all(p.endswith(".es.pdf") for p in pdfs), pdfs
    again = run(env_dir, "init", "clinic-handouts", cwd=tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_root_option_overrides_the_current_folder(installed, tmp_path):
    env_dir, _wheel = installed
    assert run(env_dir, "init", "p", cwd=tmp_path).returncode == 0
    listed = run(env_dir, "--root", str(tmp_path / "p"), "locales", "--no-layout", cwd="/")
    assert listed.returncode == 0, listed.stderr
    assert "nk-cells" in listed.stdout and " es " in listed.stdout
