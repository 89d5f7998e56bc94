"""Skip handouts whose inputs have not changed since they were built.

Standard library only: deciding that nothing needs building must not import
Babel, Jinja or WeasyPrint. Each PDF has a stamp beside it, in
OUT/.nkhandout/<pdf name>.json, holding the hash of every input that shapes
it and the hash of the PDF itself.
"""

import hashlib
import json
import re
import stat
from importlib import metadata
from pathlib import Path

STAMP_DIR = ".nkhandout"
PACKAGES = ("nkhandout", "weasyprint", "pydyf", "babel", "jinja2", "fonttools", "segno", "tinycss2", "cssselect2")
_PO_NAME = re.compile(r"^[A-Za-z]{2,3}(?:_[A-Za-z0-9]{2,8}){0,3}$")


MAX_HASHED = 8 * 1024 * 1024


def _file_digest(digest, path):
    """Add a file to ``digest``: only regular files are read (never a pipe
    or a device, which could block or never end), and at most MAX_HASHED
    bytes; the loaders report such files properly later."""
    path = Path(path)
    digest.update(str(path.name).encode())
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            digest.update(f"<not a file {info.st_mode}>".encode())
            return
        with open(path, "rb") as handle:
            digest.update(handle.read(MAX_HASHED))
        digest.update(str(info.st_size).encode())
    except OSError:
        digest.update(b"<missing>")


def shared_hash(root, fonts_dir):
    """Hash of what every handout of the project depends on."""
    digest = hashlib.sha256(b"nkhandout-inputs-1")
    package = Path(__file__).resolve().parent
    for path in sorted(package.glob("*.py")):
        _file_digest(digest, path)
    for name in PACKAGES:
        try:
            digest.update(f"{name}={metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name}=none".encode())
    root = Path(root)
    for path in (root / "content" / "handout.toml", root / "content" / "references.json"):
        _file_digest(digest, path)
    templates = root / "templates"
    for path in sorted(p for p in templates.iterdir() if p.is_file()):
        _file_digest(digest, path)
    for path in sorted(Path(fonts_dir).glob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def candidate_codes(project):
    """Locale codes that have a catalog, plus English (no Babel needed)."""
    codes = {"en"}
    if project.locales_dir.is_dir():
        codes |= {p.stem for p in project.locales_dir.glob("*.po") if _PO_NAME.match(p.stem)}
    return sorted(codes)


def input_hash(project, code, clinic=None, options=(), shared=None):
    """The hash of every input that shapes the handout for ``code``;
    ``clinic`` is a validated clinic profile (clinic.load()).

    ``shared`` is shared_hash() of the project, computed once per build."""
    shared = shared or shared_hash(project.root, project.fonts_dir)
    digest = hashlib.sha256(shared.encode())
    digest.update(code.encode())
    if code != "en":
        _file_digest(digest, project.catalog_file(code))
    if clinic is not None:
        # The validated profile as the loader read it (logo included, as the
        # data it embeds): the profile is read once, never parsed here.
        import dataclasses

        for item in dataclasses.fields(clinic):
            if item.name != "path":
                digest.update(f"{item.name}={getattr(clinic, item.name)!r}\n".encode())
    digest.update(repr(sorted(options)).encode())
    return digest.hexdigest()


def _stamp_path(pdf):
    pdf = Path(pdf)
    return pdf.parent / STAMP_DIR / f"{pdf.name}.json"


def _sha(path):
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def up_to_date(pdf, key):
    """True when ``pdf`` exists, is what was built, and was built from ``key``."""
    try:
        stamp = json.loads(_stamp_path(pdf).read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return stamp.get("inputs") == key and stamp.get("pdf") == _sha(pdf)


def record(pdf, key):
    """Remember that ``pdf`` was built from ``key`` (written atomically)."""
    from .files import write_atomic

    path = _stamp_path(pdf)
    path.parent.mkdir(exist_ok=True)
    write_atomic(path, json.dumps({"inputs": key, "pdf": _sha(pdf)}).encode())


def _incomplete_path(folder, code):
    return Path(folder) / STAMP_DIR / f"incomplete.{code}"


def skipped_incomplete(folder, code, key):
    """Why ``code`` was left out of a build into ``folder`` with these very
    inputs (None if it was not, or the inputs changed since)."""
    try:
        marker = json.loads(_incomplete_path(folder, code).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(marker, dict) and marker.get("inputs") == key and isinstance(marker.get("reason"), str):
        return marker["reason"]
    return None


def record_incomplete(folder, code, key, reason):
    """Remember why ``code`` was left out, so that the next build says so
    again without loading the catalogs."""
    from .files import write_atomic

    path = _incomplete_path(folder, code)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps({"inputs": key, "reason": reason}).encode())
