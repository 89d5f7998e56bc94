"""The `nkhandout` command: thin Click adapters over the library."""

# Lazy imports: the commands' heavy modules (build, check, render, translate,
# locales, htmlout, largeprint, site, web; through them Babel, Jinja2 and
# WeasyPrint) and those a build with nothing to do does not need (clinic,
# scaffold) are imported inside the commands that use them, so that such a
# build (batch, incremental, files, fonts, project) imports none.
import dataclasses
import json
import os
import sys
import unicodedata

import click

from . import batch, fonts as font_lib
from .errors import HandoutError, UnknownLocale, UsageError
from .incremental import candidate_codes
from .project import Project

EXAMPLES_BUILD = """
\b
Examples:
  nkhandout build --lang es
  nkhandout build --lang en --lang es
  nkhandout build --all
  nkhandout build --lang es --paper a4 --out /tmp/print
  nkhandout build --lang ko --draft
  nkhandout build --lang es --clinic riverside.toml
  nkhandout build --all --clinic clinics/        # every clinic x every locale
  nkhandout build --lang ar --format html        # the web page: handouts/<name>.ar.html
  nkhandout build --all --format pdf --format html
  nkhandout build --lang es --large-print        # handouts/<name>.es.large.pdf
"""


class Group(click.Group):
    """Turns a HandoutError into one line on stderr and its exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except HandoutError as error:
            click.echo(f"nkhandout: {error}", err=True)
            sys.exit(error.exit_code)
        except KeyboardInterrupt as error:  # Ctrl-C, or SIGTERM during a build (143)
            click.echo("nkhandout: interrupted", err=True)
            sys.exit(getattr(error, "exit_code", 130))


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", type=click.Path(file_okay=False), envvar="NKHANDOUT_ROOT",
              help="Project folder (default: the nearest one at or above this folder: "
                   "nkhandout.toml, or content/ and templates/).")
@click.version_option(package_name="nkhandout")
@click.pass_context
def main(ctx, root):
    """Build one-page, referenced patient handouts from a library of topics,
    in many languages.

    \b
    Examples:
      nkhandout init clinic-handouts   # start a project of your own
      nkhandout build --lang es        # every topic: handouts/<topic name>.es.pdf
      nkhandout build --all            # every complete locale of every topic
      nkhandout locales                # what is translated, what fits
      nkhandout check --lang fr        # a translator's gate
      nkhandout init-locale it         # start a new language

    Exit codes: 0 success, 1 a build or content problem, 2 a usage error.
    """
    if ctx.invoked_subcommand == "init":
        ctx.obj = None  # makes a project; needs none
        return
    ctx.obj = Project.at(root)


def _topics(project, names):
    """The project bound to each topic named (default: every topic)."""
    have = project.topic_names()
    if not have:
        raise UsageError("this project has no topic yet", hint="start one with `nkhandout init-topic NAME`")
    for name in names:
        if name not in have:
            raise UsageError(f"unknown topic {name!r}", hint="topics: " + ", ".join(have))
    return [project.for_topic(name) for name in (dict.fromkeys(names) or have)]


TOPIC_OPTION = click.option("--topic", "topic_names", multiple=True, metavar="NAME",
                            help="Topic (folder of content/topics/; repeatable; default: every topic).")


@main.command(epilog=EXAMPLES_BUILD)
@TOPIC_OPTION
@click.option("--lang", "langs", multiple=True, metavar="CODE",
              help="Locale to build (repeatable): es, pt_BR, pt-BR, zh-Hans...")
@click.option("--all", "all_", is_flag=True, help="Build every locale that is complete.")
@click.option("--paper", type=click.Choice(["auto", "letter", "a4"]), default="auto",
              show_default=True, help="auto: the clinic's country, else the locale's territory (CLDR).")
@click.option("--out", type=click.Path(file_okay=False), help="Output folder (default: handouts/).")
@click.option("--draft", is_flag=True,
              help="Build incomplete translations, English filling the gaps, marked DRAFT.")
@click.option("--require-reviewed", is_flag=True,
              help="Refuse translations no qualified medical translator has reviewed.")
@click.option("--clinic", "clinic_paths", multiple=True, type=click.Path(), metavar="PROFILE",
              help="Clinic profile (TOML) or a folder of them (repeatable); "
                   "handouts go to OUT/<profile name>/.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), metavar="N",
              help="Processes to build with (default: one per core).")
@click.option("--force", is_flag=True, help="Rebuild even handouts whose inputs did not change.")
@click.option("--format", "formats", multiple=True, type=click.Choice(["pdf", "html"]),
              help="pdf (default): the printed page; html: a standalone, accessible web page "
                   "(<name>.<code>.html). Repeatable.")
@click.option("--large-print", is_flag=True,
              help="Large print: text patients read at 16pt or more, on at most two pages "
                   "(<name>.<code>.large.pdf).")
@click.pass_obj
def build(project, topic_names, langs, all_, paper, out, draft, require_reviewed, clinic_paths, jobs, force,
          formats, large_print):
    """Build handout PDFs, one page each, and web pages (--format html), for
    every topic (or those given with --topic).

    Handouts whose inputs (content, catalog, templates, fonts, clinic profile,
    options, software versions) did not change since the last build are
    skipped; --force rebuilds them.
    """
    if not langs and not all_:
        raise UsageError("say which locales to build", hint="--lang CODE or --all")
    topics = _topics(project, topic_names)
    names: dict[str | None, str] = {}
    for bound in topics:
        name = batch.handout_name(bound)
        if name in names:
            raise UsageError(f"topics {names[name]} and {bound.topic_name} both name their handouts {name!r}",
                             f"content/topics/{bound.topic_name}/handout.toml", "give each topic its own meta.name")
        names[name] = bound.topic_name
    total, missing = None, []
    for bound in topics:
        try:
            result = _build_topic(bound, langs, all_, paper, out, draft, require_reviewed, clinic_paths, jobs,
                                  force, formats, large_print, tagged=len(topics) > 1)
        except UnknownLocale as error:
            if all_ or len(topics) == 1:
                raise
            missing.append((bound.topic_name, error))  # this topic lacks the locale: say so below
            continue
        total = result if total is None else total.merge(result)
    if total is None:
        raise missing[0][1]
    for topic, refused in missing:
        total.not_built[f"{topic}: {', '.join(langs)}"] = f"no catalog in this topic ({refused.hint})"
    _report_build(project, out, total, sys.stderr.isatty())


def _build_topic(project, langs, all_, paper, out, draft, require_reviewed, clinic_paths, jobs, force,
                 formats, large_print, tagged):
    """Build one topic's handouts; returns the Result."""
    codes = candidate_codes(project) if all_ else batch.resolve(project, langs)
    papers = {code: paper for code in codes}
    if not all_:
        papers = _fallback_papers(project, langs, paper, clinic_paths)
    tty = sys.stderr.isatty()

    def progress(index, total):
        if tty and total > 1:
            click.echo(f"\r[{index}/{total}] built".ljust(30), err=True, nl=False)

    formats = formats or ("pdf",)
    if large_print:
        if "html" in formats:
            raise UsageError("--large-print makes PDFs; the web page already follows the reader's text size",
                             hint="drop --format html")
        from . import largeprint

        return _tag(largeprint.build(project, codes, out_dir=out, draft=draft, paper=paper,
                                     require_reviewed=require_reviewed, clinic_paths=clinic_paths,
                                     only_complete=all_, force=force, log=None if tty else click.echo),
                    project, tagged)
    if "pdf" not in formats:
        from . import htmlout

        return _tag(htmlout.build(project, codes, out_dir=out, draft=draft, paper=paper,
                                  require_reviewed=require_reviewed, clinic_paths=clinic_paths,
                                  only_complete=all_, log=None if tty else click.echo), project, tagged)
    result = None
    for group_paper in dict.fromkeys(papers.values()):
        group = [code for code in codes if papers[code] == group_paper]
        part = batch.run(project, group, out_dir=out, draft=draft, paper=group_paper,
                         require_reviewed=require_reviewed, clinic_paths=clinic_paths,
                         only_complete=all_, force=force, jobs=jobs,
                         log=None if tty else click.echo, progress=progress)
        result = part if result is None else result.merge(part)
    assert result is not None  # codes is never empty: English, or the locales asked for
    if "html" in formats:
        from . import htmlout

        pages = htmlout.build(project, codes, out_dir=out, draft=draft, paper=paper,
                              require_reviewed=require_reviewed, clinic_paths=clinic_paths,
                              only_complete=all_, log=None if tty else click.echo)
        failed = {(f.clinic, f.code) for f in result.failures}
        result.written += pages.written
        result.failures += [f for f in pages.failures if (f.clinic, f.code) not in failed]
    return _tag(result, project, tagged)


def _tag(result, project, tagged):
    """With several topics, every failure and skipped locale names its topic."""
    if tagged:
        result.failures = [dataclasses.replace(f, topic=project.topic_name) for f in result.failures]
        result.not_built = {f"{project.topic_name} {code}": why for code, why in result.not_built.items()}
    return result


def _report_build(project, out, result, tty):
    if tty and (result.written or result.failures):
        click.echo("", err=True)
    for failure in result.failures:
        click.echo(f"nkhandout: {failure}", err=True)
    for code, why in sorted(result.not_built.items()):
        click.echo(f"nkhandout: skipped {code}: {why}", err=True)
    for path in result.outdated:
        if not path.exists():
            continue  # rebuilt since
        click.echo(f"nkhandout: moved aside {path} (built from older inputs; not current)", err=True)
    where = out or project.relative(project.handouts_dir)
    if result.written or result.skipped or not result.failures:
        click.echo(f"built {len(result.written)}, up to date {len(result.skipped)} in {where}")
    if result.failures:
        total = len(result.failures) + len(result.written) + len(result.skipped)
        if len(result.failures) > 1:
            click.echo(f"nkhandout: {len(result.failures)} of {total} handouts failed", err=True)
        sys.exit(max(f.error.exit_code for f in result.failures))


def _fallback_papers(project, langs, paper, clinic_paths):
    """{catalog code: paper} for the typed ``langs``; says which catalog a code
    without its own (es_MX, pt, zh-CN) uses, and on which paper.

    A country typed with the language (es_MX) gives its paper, unless --paper
    or a clinic profile says otherwise."""
    folded = {c.lower() for c in candidate_codes(project)}
    papers: dict[str, str | None] = {}
    for typed in langs:
        if (typed or "").replace("-", "_").lower() in folded:
            chosen_paper = paper
            code = next(c for c in candidate_codes(project)
                        if c.lower() == typed.replace("-", "_").lower())
        else:
            from . import build as builder, locales

            choice = locales.choose(typed, builder.available(project))
            code = choice.code
            chosen_paper = choice.paper if paper == "auto" and not clinic_paths and choice.paper else paper
            shown = chosen_paper if chosen_paper != "auto" else (
                "the clinic's" if clinic_paths else choice.paper or locales.info(code).paper)
            _say_once(f"nkhandout: {choice.describe(shown)}")
        if papers.get(code, chosen_paper) != chosen_paper:
            raise UsageError(
                f"{typed} and another --lang both print the {code} catalog, on different paper, "
                "to the same file", hint="build them one at a time, each with its own --out")
        papers[code] = chosen_paper
    return papers


def _say_once(line):
    """Print ``line`` on stderr once per command, however many topics ask."""
    said = click.get_current_context().meta.setdefault("nkhandout.said", set())
    if line not in said:
        said.add(line)
        click.echo(line, err=True)


def _load_clinics(paths):
    """Clinic profiles from files and folders, or None."""
    if not paths:
        return None

    from . import clinic as clinic_lib

    return [clinic_lib.load(path) for path in batch.clinic_files(paths)]


@main.command()
@click.pass_obj
def fonts(project):
    """Install the handout fonts into templates/fonts/ from Debian's packages.

    \b
    Example:
      nkhandout fonts
    """
    manifest = font_lib.load_manifest(project.templates_dir)
    mismatches = font_lib.install(manifest, project.fonts_dir, log=click.echo)
    if mismatches:
        raise HandoutError(
            "fonts differ from the pinned versions: " + ", ".join(
                f"{name} (its SHA-256 is {font_lib.sha256(project.fonts_dir / name)})" for name in mismatches),
            str(project.fonts_dir),
            "handouts will not be byte-identical to other machines; check the Debian font packages")
    click.echo(f"fonts ready in {project.fonts_dir}")


@main.command("init-locale")
@click.argument("code")
@click.pass_obj
def init_locale(project, code):
    """Start a new language: the catalog of the page's labels
    (content/labels/CODE.po) and one per topic
    (content/topics/TOPIC/locales/CODE.po).

    \b
    Examples:
      nkhandout init-locale it
      nkhandout init-locale pt-PT
    """
    from . import translate

    paths = translate.init_locale(project, code)
    for path in paths:
        click.echo(f"created {project.relative(path)}")
    click.echo(f"translate their msgstr lines, then run `nkhandout check --lang {paths[-1].stem}`")


@main.command()
@click.pass_obj
def update(project):
    """Merge changes of the English source into every catalog.

    New strings arrive untranslated; changed ones are marked fuzzy with the old
    English kept (#| msgid); removed ones become obsolete (#~).

    \b
    Example:
      nkhandout update
    """
    from . import translate

    report = translate.update(project)
    if not report:
        click.echo("all catalogs are up to date")
    for where, changed in sorted(report.items()):
        detail = f": {len(changed)} changed string(s) marked fuzzy ({', '.join(changed)})" if changed else ""
        click.echo(f"updated {where}{detail}")


@main.command()
@click.option("--lang", "langs", multiple=True, metavar="CODE", help="Locale to check (repeatable; default: all).")
@click.option("--paper", type=click.Choice(["auto", "letter", "a4"]), default="auto", show_default=True,
              help="Paper to test the one-page fit on.")
@click.option("--clinic", "clinic_path", type=click.Path(dir_okay=False), metavar="PROFILE",
              help="Test the fit with this clinic's box on the page.")
@TOPIC_OPTION
@click.pass_obj
def check(project, topic_names, langs, paper, clinic_path):
    """Check catalogs: syntax, completeness, markers, fonts, one-page fit.

    The fit is checked on A4 and Letter (or --paper), without a clinic box and
    with one (--clinic, default: examples/clinics/riverside.toml if the
    project has it). Prints one line per problem (file:line: what is wrong)
    and exits 1 if there is any.

    \b
    Examples:
      nkhandout check
      nkhandout check --lang fr --lang pt-BR
      nkhandout check --lang de --paper letter
      nkhandout check --clinic examples/clinics/riverside.toml
    """
    from . import build as builder, check as checker

    topics = _topics(project, topic_names)
    failed, checked = 0, 0
    clinics = _load_clinics([clinic_path] if clinic_path else [])
    for bound in topics:
        label = f"{bound.topic_name} " if len(topics) > 1 else ""
        try:
            codes = batch.resolve(bound, langs) if langs else builder.available(bound)
            papers = _fallback_papers(bound, langs, paper, [clinic_path] if clinic_path else []) if langs else {}
        except UnknownLocale as error:
            if len(topics) == 1:
                raise
            click.echo(f"{label}{', '.join(langs)}: no catalog in this topic yet ({error.hint}); "
                       f"`nkhandout init-locale` starts one")
            continue
        for report in checker.run(bound, codes, paper=paper, clinic=clinics[0] if clinics else None,
                                  papers=papers):
            checked += 1
            for problem in report.problems:
                click.echo(str(problem), err=True)
            status = _review_text(report.review or {})
            if report.problems:
                failed += 1
                click.echo(f"{label}{report.code}: {len(report.problems)} problem(s); {status}")
            else:
                room = ", ".join(f"{f.name} {f.spare_mm:.0f} mm" for f in report.fit_table)
                click.echo(f"{label}{report.code}: ok, fits one page; free under the text: {room}; {status}")
    if not checked:
        raise UsageError(f"no topic has a catalog for {', '.join(langs)}",
                         hint="start one with `nkhandout init-locale CODE`")
    if failed:
        raise HandoutError(f"{failed} locale(s) failed the check")


def _review_text(review):
    status = review.get("status", "")
    if status == "source":
        return "source text"
    if status == "reviewed" and review.get("by"):
        return f"reviewed by {review['by']} on {review.get('date') or '?'} (content {review.get('version') or '?'})"
    return "not reviewed by a qualified medical translator"


@main.command("locales")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--no-layout", is_flag=True, help="Skip the one-page fit (faster).")
@TOPIC_OPTION
@click.pass_obj
def locales_(project, fmt, no_layout, topic_names):
    """List locales per topic: names, progress, fonts, fit on A4 and Letter
    (without and with the example clinic's box), review status.

    \b
    Examples:
      nkhandout locales
      nkhandout locales --topic progesterone --format json
    """
    from . import build as builder, check as checker
    from .fitcache import FitCache

    work = []
    for bound in _topics(project, topic_names):
        inputs = builder.load_inputs(bound)
        box = checker.example_clinic(bound)
        cache = FitCache(bound)
        work += [(bound, inputs, box, cache, code) for code in builder.available(bound)]
    rows = _locale_rows(work, no_layout)
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    combos = ["A4", "A4 with clinic", "Letter", "Letter with clinic"]
    header = (f"{'topic':<13} {'code':<8} {_pad('language', 34)} {'done':>5}  {'fonts':<5} "
              + " ".join(f"{c.replace(' with clinic', '+c'):>8}" for c in combos) + "  review")
    click.echo(click.style(header, bold=True))
    for row in rows:
        colour = "green" if not row["problems"] else "red"
        fits = {f["combination"]: f for f in row["fit"]}
        cells = []
        for name in combos:
            found = fits.get(name)
            cells.append(f"{'-':>8}" if found is None else f"{found['spare_mm']:>6.0f}mm")
        review = row["review"] if row["review"] != "reviewed" else f"reviewed ({row['reviewed_by']})"
        language = f"{row['english_name']} / {row['name']}" if row["english_name"] != row["name"] else row["name"]
        line = (f"{row['topic'][:13]:<13} {row['code']:<8} {_pad(language, 34)} {row['percent']:>4}%  "
                f"{('ok' if row['fonts_ok'] else 'NO'):<5} " + " ".join(cells) + f"  {review}")
        click.echo(click.style(line, fg=colour))


@dataclasses.dataclass(frozen=True)
class _LocaleJob:
    """One row of `locales` to compute in a worker (batch._Pool's job)."""

    index: int
    code: str
    clinic_path: None = None


class _LocaleWorker:
    """A `locales` worker process: lays out the rows whose fit is not remembered."""

    def __init__(self, work):
        self.work, self.renderer = work, None

    def __call__(self, job):
        from . import check as checker

        bound, inputs, box, cache, code = self.work[job.index]
        self.renderer = self.renderer or checker.lazy_renderer(bound, inputs.manifest)
        try:
            return ("ok", _locale_row(bound, inputs, self.renderer, code, False, box, cache))
        except HandoutError as error:
            return ("fail", batch._failure(job, error))
        except Exception as error:  # a bug, or something the renderer choked on
            return ("fail", batch._failure(job, HandoutError(
                f"the renderer failed: {type(error).__name__}: {str(error)[:160]}", f"locale {code}")))


class _NeedsLayout(Exception):
    """A row of `locales` needs a page laid out (its fit is not remembered)."""


class _NoRenderer:
    """The renderer the parent process computes rows with: using it means a
    layout, which is left to the workers."""

    def __getattr__(self, name):
        raise _NeedsLayout(name)


def _locale_rows(work, no_layout):
    """The rows of `locales` for ``work`` ((project, inputs, clinic box, FitCache,
    code) each), in order. Each is computed here, with its fits remembered
    from the same inputs; those that need a page laid out are computed again
    on every core (batch's worker processes, with its time limit), which
    inherit the catalogs read here."""
    rows: list = [None] * len(work)
    todo = []
    for index, (bound, inputs, box, cache, code) in enumerate(work):
        try:
            rows[index] = _locale_row(bound, inputs, _NoRenderer(), code, no_layout, box, cache)
        except _NeedsLayout:
            todo.append(_LocaleJob(index, code))
    workers = min(os.cpu_count() or 1, len(todo))
    if workers:
        from . import workarounds

        workarounds.load_weasyprint()  # imported once, before the workers fork

        failures = []

        def report(_done, job, status, value):
            if status == "ok":
                rows[job.index] = value
            else:
                failures.append((job, value))

        pool = batch._Pool(work, todo, workers, batch.timeout_seconds(), worker=_LocaleWorker)
        with batch._signals():
            try:
                pool.run(report)
            finally:
                pool.stop()
        if failures:
            job, failure = min(failures, key=lambda item: item[0].index)
            error = failure.error
            raise HandoutError(f"{work[job.index][0].topic_name} {job.code}: {error.message}", error.where,
                               error.hint)
    return rows


def _locale_row(project, inputs, renderer, code, no_layout, box, cache=None):
    """One row of `locales`: what a translator or maintainer needs to know."""
    from . import check as checker, locales as locale_lib

    report = checker.check_locale(inputs, renderer, code, layout=not no_layout,
                                  matrix=checker.matrix("auto", box), fit_cache=cache)
    stats = report.stats
    info = locale_lib.info(code)
    review = report.review or {}
    total = (stats.translated + stats.fuzzy + stats.untranslated) if stats else 0
    problems = [_structured(code, p) for p in report.problems]
    return {
        "topic": project.topic_name,
        "code": code,
        "name": info.native_name,
        "english_name": info.locale.get_display_name("en"),
        "translated": stats.translated if stats else 0,
        "fuzzy": stats.fuzzy if stats else 0,
        "untranslated": stats.untranslated if stats else 0,
        "percent": round(100 * stats.translated / total) if stats and total else 0,
        "fonts_ok": not any(p["code"] == "glyphs" or p["code"] == "fonts" for p in problems),
        "fits": report.fits,
        "fit": [{"combination": f.name, "paper": f.paper, "clinic": f.clinic, "fits": f.fits,
                 "spare_mm": round(f.spare_mm, 1),
                 "grew_most": {"section": f.grown[0], "mm": round(f.grown[1], 1)} if f.grown else None}
                for f in report.fit_table],
        "paper": info.paper,
        "review": review.get("status", "unreadable"),
        "reviewed_by": review.get("by", ""),
        "review_date": review.get("date", ""),
        "reviewed_version": review.get("version", ""),
        "content_version": inputs.source.version,
        "problems": problems,
    }


_PROBLEM_CODES = (
    ("untranslated", "untranslated"), ("fuzzy", "fuzzy"), ("translation is blank", "untranslated"),
    ("cannot draw", "glyphs"), ("font ", "fonts"), ("glossary", "glossary"), ("does not fit", "overflow"),
    ("past its column", "overrun"), ("citation markers", "markers"), ("placeholder", "placeholders"),
    ("Language header", "header"), ("Plural-Forms", "header"), ("clinic", "clinic"),
)


def _structured(code, problem):
    """A check problem as {code, file, line, message} for `locales --format json`."""
    where, _, line = problem.where.rpartition(":")
    if not line.isdigit():
        where, line = problem.where, ""
    kind = next((name for needle, name in _PROBLEM_CODES if needle in problem.message), "other")
    return {"code": kind, "locale": code, "file": where, "line": int(line) if line else None,
            "message": problem.message}


def _pad(text, width):
    """``text`` padded to ``width`` terminal columns (CJK characters take two)."""
    used = sum(2 if unicodedata.east_asian_width(c) in "WF" else 0 if unicodedata.combining(c) else 1
               for c in text)
    return text + " " * max(0, width - used)


@main.command("mark-reviewed")
@click.argument("code")
@click.option("--by", "reviewer", required=True, help='Who reviewed it: "Name, qualification".')
@click.option("--date", "day", type=click.DateTime(formats=["%Y-%m-%d"]), help="Review date (default: today).")
@TOPIC_OPTION
@click.pass_obj
def mark_reviewed(project, code, reviewer, day, topic_names):
    """Record that a qualified medical translator reviewed a locale.

    \b
    Example:
      nkhandout mark-reviewed es --by "Ana Ruiz, certified medical translator"
    """
    from . import translate

    for bound in _topics(project, topic_names):
        (resolved,) = batch.resolve(bound, [code])
        path = translate.mark_reviewed(bound, resolved, reviewer, day.date() if day else None)
        click.echo(f"marked {project.relative(path)} reviewed by {reviewer}")


@main.command()
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--clinic", "clinic_paths", multiple=True, type=click.Path(), metavar="PROFILE",
              help="Clinic profile (TOML) or a folder of them (repeatable): a section per clinic.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), metavar="N",
              help="Processes to build with (default: one per core).")
@click.pass_obj
def site(project, out, clinic_paths, jobs):
    """Write a static site: OUT/index.html with every complete locale's PDF,
    web page and a small picture of the page.

    Copy OUT/ to any static web host or a shared folder; staff print without
    installing anything.

    \b
    Examples:
      nkhandout site public/
      nkhandout site public/ --clinic examples/clinics
    """
    from . import site as site_lib

    tty = sys.stderr.isatty()
    count, failures = site_lib.build_site(project, out, clinic_paths=clinic_paths, jobs=jobs,
                                          log=None if tty else click.echo)
    for failure in failures:
        click.echo(f"nkhandout: {failure}", err=True)
    click.echo(f"site of {count} handout(s) in {out}/index.html")
    if failures:
        sys.exit(max(f.error.exit_code for f in failures))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but this machine offers the app to the network.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--clinics", "clinics_dir", type=click.Path(file_okay=False, exists=True), metavar="DIR",
              help="Folder of clinic profiles (*.toml) staff can choose from.")
@click.option("--watch/--no-watch", default=None,
              help="Re-render open pages when a catalog, the source, a template or a profile changes "
                   "(default: on when serving a git checkout).")
@click.option("--prerender/--no-prerender", default=True, show_default=True,
              help="Render every locale on A4 and Letter in the background after start "
                   "(fills the index's fit columns and the cache).")
@click.option("--topic", "topic_name", metavar="NAME", help="Topic to serve (default: the first).")
@click.pass_obj
def serve(project, host, port, clinics_dir, watch, prerender, topic_name):
    """Serve the handouts in a browser: preview, choose paper and clinic, print.

    Read-only: it never writes content or catalogs. Translators: run it with
    --watch beside Poedit; every save re-renders the open page.

    \b
    Examples:
      nkhandout serve --clinics examples/clinics
      nkhandout serve --watch
      nkhandout serve --topic progesterone
      nkhandout serve --host 0.0.0.0 --port 8080 --clinics /srv/clinics
    """
    try:
        from . import web
    except ImportError as error:
        raise HandoutError(f"the web app needs {error.name}", hint="pip install -e '.[web]'") from None
    if topic_name:
        (project,) = _topics(project, [topic_name])
    if watch is None:
        watch = (project.root / ".git").exists()
    if not web.is_loopback(host):
        click.echo(f"nkhandout: warning: offering the app to every machine that can reach {host}:{port}; "
                   "it has no login, so use it only on a trusted clinic network", err=True)
    web.serve(project, host=host, port=port, clinics_dir=clinics_dir, watch=watch, prerender=prerender,
              log=click.echo)


@main.command()
@click.argument("folder", type=click.Path(file_okay=False))
def init(folder):
    """Start a project in FOLDER: templates, the fonts manifest, an example
    topic and an example clinic, so a clinic keeps its own content in its
    own repository and upgrades nkhandout with pip.

    \b
    Example:
      nkhandout init clinic-handouts
      cd clinic-handouts && nkhandout fonts && nkhandout build --lang es
    """
    from . import scaffold

    made = scaffold.init_project(folder)
    click.echo(f"created the project {made}: `cd {folder}`, then `nkhandout fonts` (once) and "
               "`nkhandout build --all`")


@main.command("init-topic")
@click.argument("name")
@click.pass_obj
def init_topic(project, name):
    """Start a new topic: content/topics/NAME/ with an English source to
    edit and an empty reference list.

    \b
    Example:
      nkhandout init-topic vitamin-d
    """
    from . import scaffold

    folder = scaffold.init_topic(project, name)
    click.echo(f"created {project.relative(folder)}: write its handout.toml and references.json, "
               "then run `nkhandout update`")


if __name__ == "__main__":  # pragma: no cover
    main()
