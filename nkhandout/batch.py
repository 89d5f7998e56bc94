"""Build many handouts: skip what is up to date, spread the rest over cores.

Imports stay light until something has to be built: a build where nothing
changed reads files and compares hashes, and imports neither Babel nor
WeasyPrint.
"""

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from . import files, incremental
from .errors import HandoutError, UsageError


@dataclass
class Job:
    code: str
    clinic_path: Path | None
    target: Path
    key: str


@dataclass
class Result:
    written: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    failures: list = field(default_factory=list)


def _handout_name(project):
    from .content import MAX_SOURCE_BYTES, parse_toml
    from .project import read_limited

    try:
        raw = read_limited(project.source_file, MAX_SOURCE_BYTES, "content/handout.toml", project.content_dir)
        name = parse_toml(raw.decode("utf-8"), "content/handout.toml")["meta"]["name"]
    except (HandoutError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError):
        return None
    return name if isinstance(name, str) and re.fullmatch(r"[a-z0-9][a-z0-9-]{0,80}", name) else None


def clinic_slug(path):
    return re.sub(r"[^a-z0-9]+", "-", Path(path).stem.lower()).strip("-") or "clinic"


def clinic_files(paths):
    """Profiles named by ``paths`` (files, or folders of *.toml)."""
    files = []
    for item in paths or ():
        item = Path(item)
        files.extend(sorted(item.glob("*.toml")) if item.is_dir() else [item])
    if paths and not files:
        raise UsageError("no clinic profiles (*.toml) found in " + ", ".join(map(str, paths)))
    return files


def resolve(project, codes):
    """Canonical locale codes for what the user typed (Babel only if needed)."""
    available = incremental.candidate_codes(project)
    folded = {c.lower(): c for c in available}
    resolved = []
    for code in codes:
        found = folded.get((code or "").replace("-", "_").lower())
        if found is None:
            from . import build as builder  # Babel: scripts, likely spellings

            found = builder.resolve_codes(project, [code])[0]
        if found not in resolved:
            resolved.append(found)
    return resolved


def plan(project, codes, out, clinics, options):
    """One Job per (clinic, locale), with its target and input hash."""
    name = _handout_name(project) or "handout"
    shared = incremental.shared_hash(project.root, project.fonts_dir)
    jobs = []
    for clinic_path in clinics or [None]:
        folder = out / clinic_slug(clinic_path) if clinic_path else out
        for code in codes:
            key = incremental.input_hash(project, code, clinic_path, options, shared)
            jobs.append(Job(code, clinic_path, folder / f"{name}.{code}.pdf", key))
    return jobs


def run(project, codes, *, out_dir=None, draft=False, paper="auto", require_reviewed=False,
        clinic_paths=(), only_complete=False, force=False, jobs=None, log=None, progress=None):
    """Build ``codes`` (for each clinic); return a Result."""
    out = Path(out_dir or project.handouts_dir)
    files.ensure_dir(out)
    clinics = clinic_files(clinic_paths)
    options = (("draft", draft), ("paper", paper), ("require_reviewed", require_reviewed))
    todo, result = [], Result()
    _remove_stale(out)
    for job in plan(project, codes, out, clinics, options):
        if not force and incremental.up_to_date(job.target, job.key):
            result.skipped.append(job.target)
        elif only_complete and incremental.skipped_incomplete(out, job.code, job.key):
            continue
        else:
            todo.append(job)
    if todo:
        _build(project, todo, result, out, dict(draft=draft, paper=paper, require_reviewed=require_reviewed),
               only_complete, jobs, log, progress)
    return result


def _remove_stale(out):
    """Temporary files left by an interrupted build go; live ones stay."""
    for folder in [out, out / incremental.STAMP_DIR, *(p for p in out.iterdir() if p.is_dir())]:
        files.remove_stale(folder)


# -- the heavy part ------------------------------------------------------

_STATE = {}


def _init(project, options):
    """Per process: the loaded inputs, a renderer, the clinics."""
    from . import build as builder, render

    if "inputs" not in _STATE:
        _STATE["inputs"] = builder.load_inputs(project)
    _STATE["renderer"] = render.Renderer(project, _STATE["inputs"].manifest)
    _STATE["options"] = options


def _one(job_and_clinic):
    """Build one handout; returns ("ok", path) or ("fail", Failure)."""
    from . import build as builder

    job, clinic = job_and_clinic
    inputs, renderer, options = _STATE["inputs"], _STATE["renderer"], _STATE["options"]
    try:
        with _time_limit(job.code):
            return _one_handout(job, clinic, inputs, renderer, options)
    except HandoutError as error:
        return ("fail", builder.Failure(job.code, clinic_slug(job.clinic_path) if job.clinic_path else "", error))


def _one_handout(job, clinic, inputs, renderer, options):
    from . import build as builder

    if isinstance(clinic, HandoutError):
        raise clinic
    if job.target.parent != Path(options["out"]):
        files.private_folder(job.target.parent)  # OUT/<clinic>: never a link
    value, _state = builder.prepare(inputs, job.code, draft=options["draft"], paper=options["paper"],
                                    require_reviewed=options["require_reviewed"], clinic=clinic)
    document, html = builder.render_one(renderer, value)
    try:
        files.write_atomic(job.target, renderer.pdf_bytes(value, document, html))
        incremental.record(job.target, job.key)
    except OSError as error:
        raise HandoutError(f"cannot write the PDF: {error.strerror}", str(job.target)) from None
    return ("ok", job.target)


class _TimedOut(Exception):
    pass


class _time_limit:
    """Stop one handout that renders for longer than NKHANDOUT_TIMEOUT seconds."""

    def __init__(self, code):
        self.code = code
        self.seconds = float(os.environ.get("NKHANDOUT_TIMEOUT", "120"))
        self.armed = False

    def __enter__(self):
        import signal
        import threading

        if self.seconds > 0 and threading.current_thread() is threading.main_thread():
            def expire(_signum, _frame):
                raise _TimedOut()

            self.previous = signal.signal(signal.SIGALRM, expire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
            self.armed = True
        return self

    def __exit__(self, kind, value, traceback):
        import signal

        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        if kind is _TimedOut:
            raise HandoutError(f"rendering took longer than {self.seconds:g} s and was stopped",
                               f"locale {self.code}", "check the catalog for very long text; "
                               "NKHANDOUT_TIMEOUT sets the limit") from None
        return False


def _build(project, todo, result, out, options, only_complete, jobs, log, progress):
    from . import build as builder
    from . import clinic as clinic_lib

    options = dict(options, out=str(out))
    _STATE.pop("inputs", None)
    _STATE["inputs"] = inputs = builder.load_inputs(project)
    if only_complete:
        complete = set(builder.complete_locales(project, inputs))
        for job in [j for j in todo if j.code not in complete]:
            incremental.record_incomplete(out, job.code, job.key)
            todo.remove(job)
    loaded = {}
    for job in todo:
        if job.clinic_path is not None and job.clinic_path not in loaded:
            try:
                loaded[job.clinic_path] = clinic_lib.load(job.clinic_path)
            except HandoutError as error:
                loaded[job.clinic_path] = error
    work = [(job, loaded.get(job.clinic_path)) for job in todo]
    workers = max(1, min(jobs or os.cpu_count() or 1, len(work)))
    if workers == 1:
        _init(project, options)
        outcomes = map(_one, work)
        pool = None
    else:
        import multiprocessing

        import weasyprint  # noqa: F401  (imported once, before the fork)

        pool = multiprocessing.get_context("fork").Pool(workers, _init, (project, options))
        outcomes = pool.imap(_one, work, chunksize=1)
    try:
        for index, (status, value) in enumerate(outcomes, 1):
            if progress:
                progress(index, len(work))
            if status == "ok":
                result.written.append(value)
                if log:
                    log(f"wrote {value}")
            else:
                result.failures.append(value)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
