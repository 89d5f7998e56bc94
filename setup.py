"""Bundles the project template (templates/, content/, examples/) into the
wheel as nkhandout/_project, from which `nkhandout init` makes new projects.
Everything else is in pyproject.toml."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildWithProjectTemplate(build_py):
    def run(self):
        super().run()
        if self.editable_mode:  # an editable install uses the checkout itself
            return
        target = Path(self.build_lib) / "nkhandout" / "_project"
        for part in ("templates", "content", "examples"):
            shutil.copytree(HERE / part, target / part, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("fonts", ".*", "__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithProjectTemplate})
