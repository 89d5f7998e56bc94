"""Remember how each locale fits its pages, so `locales` lays out only what changed.

A locale's fit (A4 and Letter, without and with the example clinic's box) is
decided by its catalogs, the topic's source and references, the templates,
the fonts, the clinic profile and its logo, and the software: exactly what
incremental.input_hash covers. One JSON file per topic and locale, in
.nkhandout-cache/fit/ under the project, holds the fit and the key it was
computed from. An entry is used only when it is well formed and its key is
the key of the inputs now; anything else (a changed input, a damaged,
foreign or truncated file, a link) is ignored and the fit computed again.
Writing is atomic, and a cache that cannot be written is not an error.

Standard library only (with incremental, files): deciding that nothing has
to be laid out must not import WeasyPrint.
"""

import json
import math
from pathlib import Path

from . import files, incremental
from .errors import HandoutError

CACHE_DIR = ".nkhandout-cache"
FORMAT = "nkhandout-fit-1"
MAX_ENTRY = 256 * 1024


class FitCache:
    """The fit entries of one topic of a project."""

    def __init__(self, project):
        self.project = project
        self.folder = Path(project.root) / CACHE_DIR / "fit"
        self._shared = None

    def key(self, code: str, matrix) -> str:
        """The hash of every input that decides ``code``'s fits on ``matrix``
        ((paper, clinic or None) per combination)."""
        if self._shared is None:
            self._shared = incremental.shared_hash(self.project)
        clinics = [clinic for _paper, clinic in matrix if clinic is not None]
        clinic = clinics[0] if clinics else None
        shape = tuple((paper, box is not None) for paper, box in matrix)
        options = (("locales-fit", shape), ("root", str(self.project.root)),
                   ("clinic-file", str(getattr(clinic, "path", "")) if clinic is not None else ""))
        return incremental.input_hash(self.project, code, clinic, options, self._shared)

    def path(self, code: str) -> Path:
        return self.folder / f"{self.project.topic_name or 'topic'}.{code}.json"

    def get(self, key: str, code: str) -> dict | None:
        """The entry stored for ``code`` if it was computed from ``key``, else None."""
        raw = files.read_regular(self.path(code), MAX_ENTRY)  # never a link, a pipe or a device
        if raw is None:
            return None
        try:
            entry = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError):
            return None
        return entry if _valid(entry, key) else None

    def put(self, key: str, code: str, fits: list[dict], problems: list[tuple[str, str]]) -> None:
        entry = {"format": FORMAT, "key": key, "fits": fits, "problems": [list(p) for p in problems]}
        if not _valid(entry, key):
            return  # not something get() would accept (a NaN, say): do not store it
        try:
            files.private_folder(self.folder.parent)
            files.private_folder(self.folder)
            files.write_atomic(self.path(code), json.dumps(entry, ensure_ascii=False, sort_keys=True).encode())
        except (HandoutError, OSError):
            pass  # a read-only project: the fit is computed again next time


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _valid(entry, key) -> bool:
    if not isinstance(entry, dict) or entry.get("format") != FORMAT or entry.get("key") != key:
        return False
    fits, problems = entry.get("fits"), entry.get("problems")
    if not isinstance(fits, list) or not isinstance(problems, list):
        return False
    for fit in fits:
        if not (isinstance(fit, dict) and set(fit) == {"paper", "clinic", "spare_mm", "fits", "grown"}
                and fit["paper"] in ("a4", "letter") and isinstance(fit["clinic"], bool)
                and isinstance(fit["fits"], bool) and _number(fit["spare_mm"])):
            return False
        grown = fit["grown"]
        if grown is not None and not (isinstance(grown, list) and len(grown) == 2
                                      and isinstance(grown[0], str) and _number(grown[1])):
            return False
    return all(isinstance(p, list) and len(p) == 2 and all(isinstance(s, str) for s in p) for p in problems)
