"""New projects (`nkhandout init`) and new topics (`nkhandout init-topic`)."""

import datetime
import shutil
from pathlib import Path

from . import files
from .errors import HandoutError, UsageError
from .project import PROJECT_FILE, TOPIC_NAME, Project

# What a new project is made of, taken from the installed package (where the
# wheel bundles them, see setup.py) or from the checkout nkhandout runs from.
PARTS = ("templates", "content", "examples")
BUNDLED = Path(__file__).resolve().parent / "_project"
CHECKOUT = Path(__file__).resolve().parent.parent

PROJECT_TOML = """\
# An nkhandout project: handouts built from content/ with templates/.
# nkhandout finds the project from this file, in this folder or below it.
"""

GITIGNORE = """\
# Built handouts and what nkhandout keeps beside them
handouts/*
!handouts/.gitkeep
.nkhandout/
.nkhandout-cache/
# Installed by `nkhandout fonts` from Debian's packages
templates/fonts/
"""

TOPIC_TOML = """\
# English source of the topic '{name}'. After editing, run `nkhandout update`
# so that every catalog learns what changed. Every claim needs a citation
# marker such as [@smith2020] that names an entry of references.json (CSL-JSON),
# and every reference there must be cited. The block types a section may hold
# are described in content/topics/*/handout.toml of the example topics.

[meta]
name = "{name}"          # file name of the built handouts: {name}.<locale>.pdf
keywords = ""            # the PDF's keywords
version = "0.1"          # bump when the medical content changes
reviewed = {today}       # date the content was last checked

[values]

[text]
title = "Title of the handout"
lead = "One or two plain sentences: what this sheet is about."
disclaimer = "This sheet is information, not medical advice. Talk with your doctor, nurse or midwife."

[[sections]]
id = "about"
heading = "A heading"
[[sections.blocks]]
p = "A paragraph. Replace this text."
"""


def skeleton_root() -> Path:
    """Where the files of a new project come from."""
    for root in (BUNDLED, CHECKOUT):
        if all((root / part).is_dir() for part in PARTS):
            return root
    raise HandoutError("this installation of nkhandout has no project template",
                       hint="reinstall nkhandout (pip install nkhandout)")


def init_project(folder: str | Path) -> Path:
    """Create a project in ``folder`` (new or empty); return its path."""
    target = Path(folder)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError(f"{folder} already exists and is not an empty folder",
                         hint="choose a new folder name")
    source = skeleton_root()
    try:
        target.mkdir(parents=True, exist_ok=True)
        for part in PARTS:
            shutil.copytree(source / part, target / part, symlinks=False,
                            ignore=shutil.ignore_patterns("fonts", ".*", "__pycache__", "*.pyc"))
        (target / "handouts").mkdir()
        files.write_atomic(target / "handouts" / ".gitkeep", b"")
        files.write_atomic(target / PROJECT_FILE, PROJECT_TOML.encode())
        files.write_atomic(target / ".gitignore", GITIGNORE.encode())
    except OSError as error:
        raise HandoutError(f"cannot create the project: {error.strerror or error}", str(folder)) from None
    return target.resolve()


def init_topic(project: Project, name: str) -> Path:
    """Create content/topics/NAME/ with a starting English source."""
    if not TOPIC_NAME.match(name):
        raise UsageError(f"topic name {name[:40]!r} may hold only a-z, 0-9 and -",
                         hint="for example: vitamin-d")
    folder = project.topics_dir / name
    if folder.exists():
        raise UsageError(f"topic {name} already exists", hint=f"edit {project.relative(folder)}")
    try:
        files.ensure_dir(project.topics_dir)
        folder.mkdir()
        (folder / "locales").mkdir()
        text = TOPIC_TOML.format(name=name, today=datetime.date.today().isoformat())
        files.write_atomic(folder / "handout.toml", text.encode())
        files.write_atomic(folder / "references.json", b"[]\n")
    except OSError as error:
        raise HandoutError(f"cannot create the topic: {error.strerror or error}", str(folder)) from None
    return folder
