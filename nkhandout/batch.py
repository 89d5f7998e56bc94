"""Build many handouts: skip what is up to date, spread the rest over cores.

Imports stay light until something has to be built: a build where nothing
changed reads files and compares hashes, and imports neither Babel nor
WeasyPrint.
"""

# Lazy imports: build and render (Babel, Jinja2, WeasyPrint) and weasyprint
# itself, only where a handout is made; clinic, only where a profile is read;
# multiprocessing and ctypes, only where workers start. A build with nothing
# to do imports none of them.
import collections
import functools
import math
import os
import re
import signal
import threading
import time
import tomllib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import files, fonts, incremental
from .errors import HandoutError, UsageError
from .project import MAX_SOURCE_BYTES, Project, read_limited

if TYPE_CHECKING:
    from . import clinic as clinic_lib


@dataclass(frozen=True)
class Job:
    """One handout to build: a locale, for a clinic or none."""

    code: str
    clinic_path: Path | None
    target: Path
    key: str | None  # incremental.input_hash of what it is built from
    clinic: object = None  # the validated Clinic, or the HandoutError that refused it


@dataclass
class Result:
    written: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    not_built: dict = field(default_factory=dict)  # locale -> why --all left it out
    outdated: list = field(default_factory=list)  # PDFs moved aside: built from older inputs

    def merge(self, other: "Result") -> "Result":
        """This result with ``other``'s added (another paper, another topic)."""
        self.written += other.written
        self.skipped += other.skipped
        self.failures += other.failures
        self.outdated += other.outdated
        self.not_built.update(other.not_built)
        return self


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM: the build stopped; exit 128 + the signal's number."""

    def __init__(self, signum):
        super().__init__(signum)
        self.exit_code = 128 + signum


DEFAULT_TIMEOUT = 120.0
OUTDATED = ".outdated.pdf"
STALE_AGE = 2.0  # seconds: a younger unlocked temporary file may be a build just starting


def timeout_seconds() -> float:
    """NKHANDOUT_TIMEOUT: the seconds one handout may take to render."""
    raw = os.environ.get("NKHANDOUT_TIMEOUT", "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = float("nan")
    if not (math.isfinite(seconds) and seconds > 0):
        raise UsageError(f"NKHANDOUT_TIMEOUT must be a positive number of seconds, not {raw[:40]!r}",
                         hint=f"e.g. NKHANDOUT_TIMEOUT={DEFAULT_TIMEOUT:g}, or unset it")
    return seconds


def handout_name(project: Project) -> str | None:
    try:
        where = project.relative(project.source_file)
        raw = read_limited(project.source_file, MAX_SOURCE_BYTES, where, project.content_dir)
    except HandoutError:
        return None
    return _name_in(raw)


@functools.lru_cache(maxsize=16)
def _name_in(raw: bytes) -> str | None:
    """meta.name of a topic's handout.toml (read on each call, parsed once
    per content); None for anything else (the build reports it)."""
    try:
        name = tomllib.loads(raw.decode("utf-8"))["meta"]["name"]
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError, RecursionError):
        return None
    return name if isinstance(name, str) and re.fullmatch(r"[a-z0-9][a-z0-9-]{0,80}", name) else None


def clinic_slug(path: Path | str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", Path(path).stem.lower()).strip("-") or "clinic"


def clinic_files(paths: Iterable[Path | str]) -> list[Path]:
    """Profiles named by ``paths`` (files, or folders of *.toml), each once.

    Two different profiles that would share an output folder (``a/clinic.toml``
    and ``b/clinic.toml``; ``Clinic A.toml`` and ``clinic_a.toml``) are refused
    before anything is built: one would overwrite the other's handouts."""
    files = []
    for item in paths or ():
        item = Path(item)
        files.extend(sorted(item.glob("*.toml")) if item.is_dir() else [item])
    if paths and not files:
        raise UsageError("no clinic profiles (*.toml) found in " + ", ".join(map(str, paths)))
    unique, seen = [], set()
    slugs: dict[str, Path] = {}
    for path in files:
        try:
            identity = path.resolve()
        except (OSError, RuntimeError):
            identity = path.absolute()
        if identity in seen:
            continue  # the same profile named twice (a folder and a file in it)
        seen.add(identity)
        slug = clinic_slug(path)
        if slug in slugs:
            raise HandoutError(
                f"clinic profiles {slugs[slug]} and {path} would both write to the folder {slug}/ "
                "and overwrite each other's handouts", None,
                "rename one of them: a profile's file name gives its folder")
        slugs[slug] = path
        unique.append(path)
    return unique


def clinic_folders(out: Path | str, clinic_paths: Iterable[Path | str]
                   ) -> Iterator[tuple[Path, str, "clinic_lib.Clinic | HandoutError | None"]]:
    """(folder, slug, Clinic or the HandoutError that refuses it) for each
    profile, each read once; (out, "", None) when there are none."""
    paths = clinic_files(clinic_paths)
    if not paths:
        yield Path(out), "", None
        return
    for path, clinic in load_clinics(paths).items():
        yield Path(out) / clinic_slug(path), clinic_slug(path), clinic


def load_clinics(paths: Iterable[Path]) -> "dict[Path, clinic_lib.Clinic | HandoutError]":
    """{path: Clinic, or the HandoutError that refuses it}: each profile is
    read and validated once; a bad one fails only its own handouts."""
    if not paths:
        return {}
    from . import clinic as clinic_lib
    loaded: dict[Path, clinic_lib.Clinic | HandoutError] = {}
    for path in paths:
        try:
            loaded[path] = clinic_lib.load(path)
        except HandoutError as error:
            loaded[path] = error
        except RecursionError:
            loaded[path] = HandoutError("cannot read the clinic profile: nested too deeply", str(path),
                                        "a profile holds only text values (key = \"...\")")
        except (ValueError, MemoryError, OSError) as error:
            detail = str(error).split(";")[0][:120] or type(error).__name__
            loaded[path] = HandoutError(f"cannot read the clinic profile: {detail}", str(path),
                                        "a profile holds only text values (key = \"...\")")
    return loaded


def resolve(project: Project, codes: Iterable[str]) -> list[str]:
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


def pdf_name(name: str, code: str, draft: bool = False) -> str:
    """A final handout is <name>.<code>.pdf; a draft never takes that name."""
    return f"{name}.{code}.draft.pdf" if draft else f"{name}.{code}.pdf"


def outdated_path(target: Path | str) -> Path:
    return Path(target).with_name(Path(target).name[: -len(".pdf")] + OUTDATED)


def plan(project: Project, codes: Iterable[str], out: Path, clinics: "dict[Path, clinic_lib.Clinic | HandoutError]",
         options: tuple[tuple[str, object], ...]) -> list[Job]:
    """One Job per (clinic, locale), with its target and input hash.

    ``clinics`` maps profile paths to what load_clinics() made of them."""
    name = handout_name(project) or "handout"
    draft = bool(dict(options).get("draft", False))
    shared = incremental.shared_hash(project)
    jobs = []
    clinic_paths: list[Path | None] = list(clinics) or [None]
    for clinic_path in clinic_paths:
        clinic = clinics[clinic_path] if clinic_path else None
        folder = out / clinic_slug(clinic_path) if clinic_path else out
        for code in codes:
            key = None if isinstance(clinic, HandoutError) else incremental.input_hash(
                project, code, clinic, options, shared)
            jobs.append(Job(code, clinic_path, folder / pdf_name(name, code, draft), key, clinic))
    return jobs


def run(project: Project, codes: Iterable[str], *, out_dir: Path | str | None = None, draft: bool = False,
        paper: str = "auto", require_reviewed: bool = False, clinic_paths: Sequence[Path | str] = (),
        only_complete: bool = False, force: bool = False, jobs: int | None = None,
        log: Callable[[str], object] | None = None, progress: Callable[[int, int], object] | None = None,
        stale_age: float | None = None) -> Result:
    """Build ``codes`` (for each clinic); return a Result.

    SIGTERM (like Ctrl-C) stops every worker and raises Interrupted."""
    with _signals():
        return _run(project, codes, out_dir=out_dir, draft=draft, paper=paper,
                    require_reviewed=require_reviewed, clinic_paths=clinic_paths,
                    only_complete=only_complete, force=force, jobs=jobs, log=log, progress=progress,
                    stale_age=stale_age)


def _run(project, codes, *, out_dir, draft, paper, require_reviewed, clinic_paths, only_complete,
         force, jobs, log, progress, stale_age):
    out = Path(out_dir or project.handouts_dir)
    timeout = timeout_seconds()
    files.ensure_dir(out)
    clinics = load_clinics(clinic_files(clinic_paths))
    options = (("draft", draft), ("paper", paper), ("require_reviewed", require_reviewed))
    todo, result = [], Result()
    planned = plan(project, codes, out, clinics, options)
    _remove_stale(out, planned, STALE_AGE if stale_age is None else stale_age)
    font_problems = {}
    for job in planned:
        if job.key is not None and not force and incremental.up_to_date(job.target, job.key):
            result.skipped.append(job.target)
            continue
        if job.code not in font_problems:
            font_problems[job.code] = _fonts_problem(project, job.code)
        if font_problems[job.code] is not None:
            # A font that is missing or not the pinned one is a broken install,
            # not a changed input: the PDF built with the pinned fonts keeps its name.
            result.failures.append(_failure(job, font_problems[job.code]))
            continue
        _move_aside(job.target, result)
        why = only_complete and job.key is not None and incremental.skipped_incomplete(
            job.target.parent, job.code, job.key)
        if why:
            result.not_built.setdefault(job.code, why)
        else:
            todo.append(job)
    if todo:
        _build(project, todo, result, out, dict(draft=draft, paper=paper, require_reviewed=require_reviewed),
               only_complete, jobs, log, progress, timeout, planned)
    return result


def _fonts_problem(project, code):
    """The HandoutError that the fonts of ``code`` would fail its build with
    (not installed, or not the pinned file), or None. Standard library only;
    a manifest that cannot be read is reported by the build itself."""
    try:
        manifest = fonts.load_manifest(project.templates_dir)
    except HandoutError:
        return None
    try:
        fonts.check_installed(manifest, project.fonts_dir, code)
    except HandoutError as error:
        return error
    return None


def _move_aside(target, result):
    """A PDF built from older inputs must not keep the name of a current one."""
    try:
        if target.is_file() and not target.is_symlink():
            os.replace(target, outdated_path(target))
            result.outdated.append(outdated_path(target))
    except OSError as error:
        raise HandoutError(f"cannot move the outdated PDF aside: {error.strerror}", str(target)) from None


def _folders(out, jobs):
    """Every folder a build of ``jobs`` writes into."""
    folders = {out, out / incremental.STAMP_DIR}
    for job in jobs:
        folders |= {job.target.parent, job.target.parent / incremental.STAMP_DIR}
    try:
        for child in out.iterdir():
            if child.is_dir() and not child.is_symlink() and child.name != incremental.STAMP_DIR:
                folders |= {child, child / incremental.STAMP_DIR}
    except OSError:
        pass
    return sorted(folders)


def _remove_stale(out, jobs, min_age):
    """Temporary files left by an interrupted build go, in every folder a
    build writes; live ones (locked by a running build) stay."""
    for folder in _folders(out, jobs):
        files.remove_stale(folder, min_age=min_age)


class _signals:
    """SIGTERM stops the build as Ctrl-C does (Interrupted, exit 143)."""

    def __enter__(self):
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            def stop(signum, _frame):
                raise Interrupted(signum)

            self.previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        return self

    def __exit__(self, *_exc):
        for sig, handler in (self.previous or {}).items():
            signal.signal(sig, handler)
        return False


# -- the heavy part ------------------------------------------------------

@dataclass(frozen=True)
class Context:
    """What every worker of one build shares: the topic's inputs, loaded in
    the parent before the workers fork, and the build's options."""

    project: object
    inputs: object  # build.Inputs
    options: object  # build.Options
    out: Path
    compose: bool = False  # several clinics: compose their pages from kept bodies (compose.py)


class _Worker:
    """One worker process: a renderer (fonts, stylesheets, images) reused
    for every handout it builds."""

    def __init__(self, context):
        from . import render

        self.context = context
        self.renderer = render.Renderer(context.project, context.inputs.manifest, compose=context.compose)

    def __call__(self, job):
        """Build one handout; returns ("ok", path) or ("fail", Failure)."""
        try:
            return _one_handout(job, self.context, self.renderer)
        except HandoutError as error:
            return ("fail", _failure(job, error))
        except Exception as error:  # a bug, or something the renderer choked on: this handout only
            return ("fail", _failure(job, HandoutError(
                f"the renderer failed: {type(error).__name__}: {str(error)[:160]}", f"locale {job.code}")))


def _failure(job, error):
    from . import build as builder

    return builder.Failure(job.code, clinic_slug(job.clinic_path) if job.clinic_path else "", error)


def _one_handout(job, context, renderer):
    from . import build as builder

    if isinstance(job.clinic, HandoutError):
        raise job.clinic
    if job.target.parent != context.out:
        files.private_folder(job.target.parent)  # OUT/<clinic>: never a link
    try:
        data = builder.build_pdf(context.inputs, renderer, job.code, context.options, job.clinic)
    except MemoryError:
        raise HandoutError("ran out of memory while rendering", f"locale {job.code}") from None
    except RecursionError:
        raise HandoutError("nested too deeply to render", f"locale {job.code}") from None
    try:
        files.write_atomic(job.target, data)
        incremental.record(job.target, job.key)
    except OSError as error:
        raise HandoutError(f"cannot write the PDF: {error.strerror or error}", str(job.target)) from None
    return ("ok", job.target)


def _timed_out(job, seconds):
    return _failure(job, HandoutError(
        f"rendering took longer than {seconds:g} s and was stopped", f"locale {job.code}",
        "check the catalog and the clinic's logo for something very long or complex; "
        "NKHANDOUT_TIMEOUT sets the limit"))


def _skip_reason(inputs, code):
    """Why --all leaves ``code`` out, in words that say what to do."""
    from . import build as builder

    try:
        state = builder.locale_state(inputs, code)
    except HandoutError as error:
        return str(error)
    if state.problems:
        where, line, message = state.problems[0]
        return f"{where}:{line}: {message}; run `nkhandout check --lang {code}`"
    if state.stats.complete:
        return None
    absent = fuzzy = empty = 0
    for part in state.parts:
        for message in part.pot:
            if not message.id:
                continue
            entry = part.loaded.catalog.get(message.id, context=message.context)
            if entry is None:
                absent += 1
            elif entry.fuzzy and entry.string:
                fuzzy += 1
            elif not entry.string:
                empty += 1
    parts = []
    if absent:
        parts.append(f"{absent} string(s) changed in the English; run `nkhandout update` and translate them")
    if fuzzy:
        parts.append(f"{fuzzy} string(s) marked fuzzy; check their translation and remove the fuzzy mark")
    if empty:
        parts.append(f"{empty} string(s) not translated yet")
    return "; ".join(parts) or "incomplete"


def _build(project, todo, result, out, options, only_complete, jobs, log, progress, timeout, planned):
    from . import build as builder

    inputs = builder.load_inputs(project)
    several_clinics = len({job.clinic_path for job in todo if job.clinic_path}) > 1
    context = Context(project, inputs, builder.Options(**options), Path(out), compose=several_clinics)
    if only_complete:
        reasons = {}
        for job in list(todo):
            if job.code not in reasons:
                reasons[job.code] = _skip_reason(inputs, job.code)
            if reasons[job.code]:
                try:
                    incremental.record_incomplete(job.target.parent, job.code, job.key, reasons[job.code])
                except OSError:
                    pass  # only a shortcut for the next build
                result.not_built.setdefault(job.code, reasons[job.code])
                todo.remove(job)
    for job in list(todo):
        if isinstance(job.clinic, HandoutError):  # a refused profile: nothing to render
            result.failures.append(_failure(job, job.clinic))
            todo.remove(job)
    if not todo:
        return
    # The pool hands out one locale's handouts in a row (_Pool._next), so
    # failures come back out of order: they are reported in the planned one.
    planned_at = {id(job): index for index, job in enumerate(todo)}
    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
    failed: list = []

    def report(index, job, status, value):
        if progress:
            progress(index, len(todo))
        if status == "ok":
            result.written.append(value)
            try:
                outdated_path(value).unlink()
            except OSError:
                pass
            if log:
                log(f"wrote {value}")
        else:
            failed.append((planned_at[id(job)], value))

    from . import workarounds

    workarounds.load_weasyprint()  # imported once, before the workers fork

    from . import render

    render.preload_hyphenation(inputs.manifest, [job.code for job in todo])  # shared by the workers

    pool = _Pool(context, todo, workers, timeout)
    try:
        pool.run(report)
    finally:
        pool.stop()
        result.failures += [failure for _index, failure in sorted(failed, key=lambda item: item[0])]
        if pool.killed:
            # Our workers are gone: whatever temporary file they held is unlocked now.
            _remove_stale(out, planned, 0)


# -- worker processes ----------------------------------------------------


class _Pool:
    """Forked workers, each rendering one handout at a time.

    The parent enforces the time limit from outside: a worker still rendering
    when its handout's time is up is killed (WeasyPrint swallows exceptions
    raised inside it, so an alarm in the worker cannot be trusted). Workers
    ignore Ctrl-C (the parent stops them) and die with the parent."""

    def __init__(self, context, todo, size, timeout, worker=None):
        self.context, self.todo = context, todo
        self.size, self.timeout = size, timeout
        self.worker = worker or _Worker  # made in each worker from ``context``; called with each job
        self.workers = {}  # pid -> [connection, job index or None, deadline]
        self.last_code: dict = {}  # pid -> the locale of the last job it was given
        self.killed = False

    def _spawn(self):
        from multiprocessing import Pipe

        mine, theirs = Pipe()
        parent = os.getpid()
        blocked = {signal.SIGINT, signal.SIGTERM}
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
        try:
            try:
                pid = os.fork()
            except OSError as error:
                mine.close()
                theirs.close()
                raise HandoutError(f"cannot start a worker process: {error.strerror}", None,
                                   "lower --jobs, or free memory") from None
            if pid == 0:  # the worker
                code = 1
                try:
                    mine.close()
                    for other in self.workers.values():
                        other[0].close()
                    signal.signal(signal.SIGINT, signal.SIG_IGN)
                    signal.signal(signal.SIGTERM, signal.SIG_DFL)
                    signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
                    _die_with_parent(parent)
                    worker = self.worker(self.context)
                    while True:
                        index = theirs.recv()
                        if index is None:
                            break
                        theirs.send(worker(self.todo[index]))
                    code = 0
                except BaseException:
                    pass
                finally:
                    os._exit(code)
            theirs.close()
            self.workers[pid] = [mine, None, None]  # known before a signal can arrive
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        return pid

    def _next(self, pending, pid):
        """The next job for worker ``pid``: another of the locale it built
        last (its body is laid out: compose.py), else one of a locale no
        other worker is building, else the next one."""
        code = self.last_code.get(pid)
        if code not in pending:
            busy = {self.todo[w[1]].code for other, w in self.workers.items() if other != pid and w[1] is not None}
            code = next((c for c in pending if c not in busy), next(iter(pending)))
        index = pending[code].popleft()
        if not pending[code]:
            del pending[code]
        self.last_code[pid] = code
        return index

    def run(self, report):
        from multiprocessing.connection import Connection, wait

        pending: dict = {}  # locale -> its jobs' indexes, in order
        for index, job in enumerate(self.todo):
            pending.setdefault(job.code, collections.deque()).append(index)
        done = 0
        while done < len(self.todo):
            while pending and sum(1 for w in self.workers.values() if w[1] is not None) < self.size:
                idle = [pid for pid, w in self.workers.items() if w[1] is None]
                pid = idle[0] if idle else self._spawn()
                index = self._next(pending, pid)
                self.workers[pid][1:] = [index, time.monotonic() + self.timeout]
                try:
                    self.workers[pid][0].send(index)
                except OSError:
                    pass  # died already: found below as a worker without an answer
            busy = {w[0]: pid for pid, w in self.workers.items() if w[1] is not None}
            if not busy:
                break
            wait_for = max(0.0, min(self.workers[pid][2] for pid in busy.values()) - time.monotonic())
            for conn in wait(list(busy), timeout=wait_for):
                assert isinstance(conn, Connection)  # wait() hands back the pipes given
                pid = busy[conn]
                index = self.workers[pid][1]
                try:
                    status, value = conn.recv()
                except (EOFError, OSError):
                    status, value = "fail", self._died(pid, self.todo[index])
                else:
                    self.workers[pid][1:] = [None, None]
                done += 1
                report(done, self.todo[index], status, value)
            now = time.monotonic()
            for pid, (_conn, index, deadline) in list(self.workers.items()):
                if index is not None and deadline <= now:
                    self._kill(pid)
                    done += 1
                    report(done, self.todo[index], "fail", _timed_out(self.todo[index], self.timeout))
            # idle workers with nothing left to do are let go
            if not pending:
                for pid, worker in list(self.workers.items()):
                    if worker[1] is None:
                        self._release(pid)

    def _died(self, pid, job):
        _, status = _reap(pid, block=True)
        self.workers.pop(pid)[0].close()
        self.killed = True
        how = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit {os.WEXITSTATUS(status)}"
        return _failure(job, HandoutError(f"the renderer process stopped unexpectedly ({how})",
                                          f"locale {job.code}", "run the build again; if it recurs, "
                                          "lower --jobs (memory)"))

    def _kill(self, pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _reap(pid, block=True)
        self.workers.pop(pid)[0].close()
        self.killed = True

    def _release(self, pid):
        conn = self.workers.pop(pid)[0]
        try:
            conn.send(None)
        except OSError:
            pass
        conn.close()
        _reap(pid, block=True)

    def stop(self):
        """Stop every worker still running (after Ctrl-C, SIGTERM or an error)."""
        for pid, worker in list(self.workers.items()):
            if worker[1] is not None:
                self._kill(pid)
            else:
                self._release(pid)


def _reap(pid, block):
    while True:
        try:
            return os.waitpid(pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return pid, 0
        except InterruptedError:
            continue


def _die_with_parent(parent):
    """Make sure a worker never outlives the build that started it."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(1, signal.SIGKILL, 0, 0, 0) != 0:  # PR_SET_PDEATHSIG
            raise OSError(ctypes.get_errno(), "prctl")
    except (OSError, AttributeError):
        def watch():
            while os.getppid() == parent:
                time.sleep(0.2)
            os._exit(1)

        threading.Thread(target=watch, daemon=True).start()
    if os.getppid() != parent:  # the parent died before we could ask
        os._exit(1)
