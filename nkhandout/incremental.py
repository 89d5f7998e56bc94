"""Skip handouts whose inputs have not changed since they were built.

Standard library only: deciding that nothing needs building must not import
Babel, Jinja or WeasyPrint. Each PDF has a stamp beside it, in
OUT/.nkhandout/<pdf name>.json, holding the hash of every input that shapes
it and the hash of the PDF itself.
"""

# Lazy imports: clinic (only when a profile is hashed) and importlib.metadata
# (only for a package without a NAME-VERSION.dist-info folder). Otherwise the
# standard library and the light modules (files, fonts, project) only; Babel,
# Jinja2, WeasyPrint and the modules that import them must never be imported
# here, since this decides whether to build at all.
import dataclasses
import functools
import hashlib
import json
import os
import re
import stat
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from .files import private_folder, read_regular, write_atomic
from .fonts import digests
from .project import Project, read_nonblocking

if TYPE_CHECKING:
    from .clinic import Clinic

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

        digest.update(read_nonblocking(path, MAX_HASHED))  # never blocks (/proc/kmsg is "regular")
        digest.update(str(info.st_size).encode())
    except OSError:
        digest.update(b"<missing>")


@functools.cache
def _code_hash() -> str:
    """Hash of nkhandout's own modules, read once per process (the code that
    runs is the code that was imported)."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in sorted(package.glob("*.py")):
        _file_digest(digest, path)
    return digest.hexdigest()


def _normal(name):
    return re.sub(r"[-_.]+", "_", name).lower()


@functools.cache
def package_versions() -> dict[str, str]:
    """{name: version} of PACKAGES, looked up once per process.

    The version is read from the name of the package's ``NAME-VERSION.dist-info``
    folder, the first found along sys.path as importlib.metadata searches it
    (which is not imported: it costs more than the rest of a build with
    nothing to do); a package installed otherwise (an .egg-info) is asked of
    importlib.metadata."""
    wanted = {_normal(name): name for name in PACKAGES}
    found: dict[str, str | None] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for item in names:
            if item.endswith((".dist-info", ".egg-info")):
                name, _, version = item.rpartition(".")[0].partition("-")
                key = _normal(name)
                if key in wanted and key not in found:
                    found[key] = version if item.endswith(".dist-info") and version else None
        if len(found) == len(wanted):
            break
    versions = {}
    for key, name in wanted.items():
        known = found.get(key)
        if known is None:
            from importlib import metadata

            try:
                known = metadata.version(name)
            except metadata.PackageNotFoundError:
                known = "none"
        versions[name] = known
    return versions


def shared_hash(project: Project) -> str:
    """Hash of what every handout of ``project``'s topic depends on."""
    root, fonts_dir = Path(project.root), project.fonts_dir
    digest = hashlib.sha256(b"nkhandout-inputs-3")
    digest.update(_code_hash().encode())
    for name, version in package_versions().items():
        digest.update(f"{name}={version}".encode())
    for path in (project.source_file, project.references_file):
        _file_digest(digest, path)
    templates = root / "templates"
    for path in _template_files(templates):
        digest.update(str(path.relative_to(templates)).encode())
        _file_digest(digest, path)

    for name, sha in digests(fonts_dir).items():  # by content, cached
        if sha is not None:
            digest.update(f"{name}:{sha}".encode())
    return digest.hexdigest()


def _template_files(templates):
    """Every file under templates/ (included templates in sub-folders too),
    less the installed fonts (hashed by content apart) and hidden files."""
    found = []
    for folder, subfolders, names in os.walk(templates):
        here = Path(folder)
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".")
                               and not (here == templates and d == "fonts"))
        found += [here / name for name in names if not name.startswith(".")]
    return sorted(found)


def candidate_codes(project: Project) -> list[str]:
    """Locale codes that have a catalog of the topic, plus English (no Babel needed)."""
    codes = {"en"}
    if project.locales_dir.is_dir():
        codes |= {p.stem for p in project.locales_dir.glob("*.po") if _PO_NAME.match(p.stem)}
    return sorted(codes)


def input_hash(project: Project, code: str, clinic: "Clinic | Path | str | None" = None,
               options: Iterable[tuple[str, object]] = (), shared: str | None = None) -> str:
    """The hash of every input that shapes the handout for ``code``;
    ``clinic`` is a validated clinic profile (clinic.load()).

    ``shared`` is shared_hash() of the project, computed once per build."""
    shared = shared or shared_hash(project)
    digest = hashlib.sha256(shared.encode())
    digest.update(code.encode())
    if code != "en":
        _file_digest(digest, project.labels_file(code))
        _file_digest(digest, project.catalog_file(code))
    if clinic is not None:
        from .clinic import Clinic, load as load_clinic

        if not isinstance(clinic, Clinic):  # a profile's path: read and validate it first
            clinic = load_clinic(clinic)
        # The validated profile as the loader read it (logo included, as the
        # data it embeds): the profile is read once, never parsed here.
        for item in dataclasses.fields(clinic):
            if item.name != "path":
                digest.update(f"{item.name}={getattr(clinic, item.name)!r}\n".encode())
    digest.update(repr(sorted(options)).encode())
    return digest.hexdigest()


def _stamp_path(pdf):
    pdf = Path(pdf)
    return pdf.parent / STAMP_DIR / f"{pdf.name}.json"


def _sha(path):
    data = read_regular(path)
    return hashlib.sha256(data).hexdigest() if data is not None else None


def up_to_date(pdf: Path, key: str) -> bool:
    """True when ``pdf`` exists, is what was built, and was built from ``key``.
    Stamps and PDFs that are links, pipes or devices are never read."""
    raw = read_regular(_stamp_path(pdf), 64 * 1024)
    try:
        stamp = json.loads(raw) if raw is not None else None
    except (ValueError, RecursionError):
        return False
    if not isinstance(stamp, dict):
        return False
    return stamp.get("inputs") == key and stamp.get("pdf") == _sha(pdf)


def record(pdf: Path, key: str) -> None:
    """Remember that ``pdf`` was built from ``key`` (written atomically)."""
    path = _stamp_path(pdf)
    private_folder(path.parent)
    write_atomic(path, json.dumps({"inputs": key, "pdf": _sha(pdf)}).encode())


def _incomplete_path(folder, code):
    return Path(folder) / STAMP_DIR / f"incomplete.{code}"


def skipped_incomplete(folder: Path, code: str, key: str) -> str | None:
    """Why ``code`` was left out of a build into ``folder`` with these very
    inputs (None if it was not, or the inputs changed since)."""
    raw = read_regular(_incomplete_path(folder, code), 64 * 1024)  # never a link or a pipe
    try:
        marker = json.loads(raw) if raw else None
    except ValueError:
        return None
    if isinstance(marker, dict) and marker.get("inputs") == key and isinstance(marker.get("reason"), str):
        return marker["reason"]
    return None


def record_incomplete(folder: Path, code: str, key: str, reason: str) -> None:
    """Remember why ``code`` was left out, so that the next build says so
    again without loading the catalogs."""
    path = _incomplete_path(folder, code)
    private_folder(path.parent)
    write_atomic(path, json.dumps({"inputs": key, "reason": reason}).encode())
