"""Where a project's content, templates, fonts and handouts live."""

import os
from dataclasses import dataclass
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Project:
    """The folders of one nkhandout project."""

    root: Path
    fonts_dir: Path

    @classmethod
    def at(cls, root=None, fonts_dir=None):
        """The project at ``root`` (default: $NKHANDOUT_ROOT or the checkout)."""
        root = Path(root or os.environ.get("NKHANDOUT_ROOT") or PACKAGE_ROOT).resolve()
        fonts = fonts_dir or os.environ.get("NKHANDOUT_FONTS") or root / "templates" / "fonts"
        return cls(root=root, fonts_dir=Path(fonts).resolve())

    @property
    def content_dir(self):
        return self.root / "content"

    @property
    def templates_dir(self):
        return self.root / "templates"

    @property
    def locales_dir(self):
        return self.content_dir / "locales"

    @property
    def source_file(self):
        return self.content_dir / "handout.toml"

    @property
    def references_file(self):
        return self.content_dir / "references.json"

    @property
    def template_file(self):
        return self.content_dir / "messages.pot"

    @property
    def handouts_dir(self):
        return self.root / "handouts"

    def catalog_file(self, code):
        return self.locales_dir / f"{code}.po"

    def relative(self, path):
        """``path`` relative to the project root, for messages."""
        try:
            return str(Path(path).resolve().relative_to(self.root))
        except ValueError:
            return str(path)
