"""The `nkhandout` command: thin Click adapters over the library."""

import sys

import click

from .errors import HandoutError, UsageError
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
              help="Project folder with content/ and templates/ (default: this checkout).")
@click.version_option(package_name="nkhandout")
@click.pass_context
def main(ctx, root):
    """Build one-page, referenced patient handouts on NK cells and repeated
    miscarriage, in many languages.

    \b
    Examples:
      nkhandout build --lang es        # handouts/<name>.es.pdf
      nkhandout build --all            # every complete locale
      nkhandout locales                # what is translated, what fits
      nkhandout check --lang fr        # a translator's gate
      nkhandout init-locale it         # start a new language

    Exit codes: 0 success, 1 a build or content problem, 2 a usage error.
    """
    ctx.obj = Project.at(root)


@main.command(epilog=EXAMPLES_BUILD)
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
def build(project, langs, all_, paper, out, draft, require_reviewed, clinic_paths, jobs, force, formats,
          large_print):
    """Build handout PDFs, one page each, and web pages (--format html).

    Handouts whose inputs (content, catalog, templates, fonts, clinic profile,
    options, software versions) did not change since the last build are
    skipped; --force rebuilds them.
    """
    from . import batch

    if not langs and not all_:
        raise UsageError("say which locales to build", hint="--lang CODE or --all")
    from .incremental import candidate_codes

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

        result = largeprint.build(project, codes, out_dir=out, draft=draft, paper=paper,
                                  require_reviewed=require_reviewed, clinic_paths=clinic_paths,
                                  only_complete=all_, force=force, log=None if tty else click.echo)
        _report_build(project, out, result, tty)
        return
    if "pdf" not in formats:
        from . import htmlout

        result = htmlout.build(project, codes, out_dir=out, draft=draft, paper=paper,
                               require_reviewed=require_reviewed, clinic_paths=clinic_paths,
                               only_complete=all_, log=None if tty else click.echo)
        _report_build(project, out, result, tty)
        return
    result = None
    for group_paper in dict.fromkeys(papers.values()):
        group = [code for code in codes if papers[code] == group_paper]
        part = batch.run(project, group, out_dir=out, draft=draft, paper=group_paper,
                         require_reviewed=require_reviewed, clinic_paths=clinic_paths,
                         only_complete=all_, force=force, jobs=jobs,
                         log=None if tty else click.echo, progress=progress)
        if result is None:
            result = part
        else:
            result.written += part.written
            result.skipped += part.skipped
            result.failures += part.failures
    if "html" in formats:
        from . import htmlout

        pages = htmlout.build(project, codes, out_dir=out, draft=draft, paper=paper,
                              require_reviewed=require_reviewed, clinic_paths=clinic_paths,
                              only_complete=all_, log=None if tty else click.echo)
        failed = {(f.clinic, f.code) for f in result.failures}
        result.written += pages.written
        result.failures += [f for f in pages.failures if (f.clinic, f.code) not in failed]
    _report_build(project, out, result, tty)


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
    from .incremental import candidate_codes

    folded = {c.lower() for c in candidate_codes(project)}
    papers = {}
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
            click.echo(f"nkhandout: {choice.describe(shown)}", err=True)
        if papers.get(code, chosen_paper) != chosen_paper:
            raise UsageError(
                f"{typed} and another --lang both print the {code} catalog, on different paper, "
                "to the same file", hint="build them one at a time, each with its own --out")
        papers[code] = chosen_paper
    return papers


def _load_clinics(paths):
    """Clinic profiles from files and folders, or None."""
    if not paths:
        return None
    from . import batch, clinic as clinic_lib

    return [clinic_lib.load(path) for path in batch.clinic_files(paths)]


@main.command()
@click.pass_obj
def fonts(project):
    """Install the handout fonts into templates/fonts/ from Debian's packages.

    \b
    Example:
      nkhandout fonts
    """
    from . import fonts as font_lib

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
    """Start a new language: create content/locales/CODE.po.

    \b
    Examples:
      nkhandout init-locale it
      nkhandout init-locale pt-PT
    """
    from . import translate

    path = translate.init_locale(project, code)
    click.echo(f"created {project.relative(path)}: translate its msgstr lines, then run "
               f"`nkhandout check --lang {path.stem}`")


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
    for code, changed in sorted(report.items()):
        detail = f": {len(changed)} changed string(s) marked fuzzy ({', '.join(changed)})" if changed else ""
        click.echo(f"updated {code}{detail}")


@main.command()
@click.option("--lang", "langs", multiple=True, metavar="CODE", help="Locale to check (repeatable; default: all).")
@click.option("--paper", type=click.Choice(["auto", "letter", "a4"]), default="auto", show_default=True,
              help="Paper to test the one-page fit on.")
@click.option("--clinic", "clinic_path", type=click.Path(dir_okay=False), metavar="PROFILE",
              help="Test the fit with this clinic's box on the page.")
@click.pass_obj
def check(project, langs, paper, clinic_path):
    """Check catalogs: syntax, completeness, markers, fonts, one-page fit.

    Prints one line per problem (file:line: what is wrong) and exits 1 if
    there is any.

    \b
    Examples:
      nkhandout check
      nkhandout check --lang fr --lang pt-BR
      nkhandout check --lang de --paper letter
      nkhandout check --clinic examples/clinics/riverside.toml
    """
    from . import batch, build as builder, check as checker

    codes = batch.resolve(project, langs) if langs else builder.available(project)
    failed = 0
    clinics = _load_clinics([clinic_path] if clinic_path else [])
    papers = _fallback_papers(project, langs, paper, [clinic_path] if clinic_path else []) if langs else {}
    for report in checker.run(project, codes, paper=paper, clinic=clinics[0] if clinics else None,
                              papers=papers):
        for problem in report.problems:
            click.echo(str(problem), err=True)
        review = report.review or {}
        status = _review_text(review)
        if report.problems:
            failed += 1
            click.echo(f"{report.code}: {len(report.problems)} problem(s); {status}")
        else:
            click.echo(f"{report.code}: ok, fits one {report.paper} page "
                       f"({-report.overflow_mm:.0f} mm free under the text); {status}")
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
@click.pass_obj
def locales_(project, fmt, no_layout):
    """List locales: name, progress, one-page fit, paper, review status.

    \b
    Examples:
      nkhandout locales
      nkhandout locales --format json
    """
    import json

    from . import build as builder, check as checker, locales as locale_lib

    rows = []
    inputs = builder.load_inputs(project)
    from .render import Renderer

    renderer = Renderer(project, inputs.manifest)
    for code in builder.available(project):
        report = checker.check_locale(inputs, renderer, code, layout=not no_layout)
        stats = report.stats
        info = locale_lib.info(code)
        review = report.review or {}
        rows.append({
            "code": code,
            "name": info.native_name,
            "translated": stats.translated if stats else 0,
            "fuzzy": stats.fuzzy if stats else 0,
            "untranslated": stats.untranslated if stats else 0,
            "fits": report.fits,
            "paper": report.paper or info.paper,
            "review": review.get("status", "unreadable"),
            "reviewed_by": review.get("by", ""),
            "review_date": review.get("date", ""),
            "problems": [str(p) for p in report.problems],
        })
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    header = f"{'code':<8} {_pad('name', 22)} {'done':>5} {'fuzzy':>5} {'todo':>5}  {'fits':<5} {'paper':<7} review"
    click.echo(click.style(header, bold=True))
    for row in rows:
        fits = {True: "yes", False: "NO", None: "-"}[row["fits"]]
        colour = "green" if not row["problems"] else "red"
        review = row["review"] if row["review"] != "reviewed" else f"reviewed ({row['reviewed_by']})"
        line = (f"{row['code']:<8} {_pad(row['name'], 22)} {row['translated']:>5} {row['fuzzy']:>5} "
                f"{row['untranslated']:>5}  {fits:<5} {row['paper']:<7} {review}")
        click.echo(click.style(line, fg=colour))


def _pad(text, width):
    """``text`` padded to ``width`` terminal columns (CJK characters take two)."""
    import unicodedata

    used = sum(2 if unicodedata.east_asian_width(c) in "WF" else 0 if unicodedata.combining(c) else 1
               for c in text)
    return text + " " * max(0, width - used)


@main.command("mark-reviewed")
@click.argument("code")
@click.option("--by", "reviewer", required=True, help='Who reviewed it: "Name, qualification".')
@click.option("--date", "day", type=click.DateTime(formats=["%Y-%m-%d"]), help="Review date (default: today).")
@click.pass_obj
def mark_reviewed(project, code, reviewer, day):
    """Record that a qualified medical translator reviewed a locale.

    \b
    Example:
      nkhandout mark-reviewed es --by "Ana Ruiz, certified medical translator"
    """
    from . import batch, translate

    (resolved,) = batch.resolve(project, [code])
    path = translate.mark_reviewed(project, resolved, reviewer, day.date() if day else None)
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
@click.pass_obj
def serve(project, host, port, clinics_dir, watch, prerender):
    """Serve the handouts in a browser: preview, choose paper and clinic, print.

    Read-only: it never writes content or catalogs. Translators: run it with
    --watch beside Poedit; every save re-renders the open page.

    \b
    Examples:
      nkhandout serve --clinics examples/clinics
      nkhandout serve --watch
      nkhandout serve --host 0.0.0.0 --port 8080 --clinics /srv/clinics
    """
    try:
        from . import web
    except ImportError as error:
        raise HandoutError(f"the web app needs {error.name}", hint="pip install -e '.[web]'") from None
    if watch is None:
        watch = (project.root / ".git").exists()
    if not web.is_loopback(host):
        click.echo(f"nkhandout: warning: offering the app to every machine that can reach {host}:{port}; "
                   "it has no login, so use it only on a trusted clinic network", err=True)
    web.serve(project, host=host, port=port, clinics_dir=clinics_dir, watch=watch, prerender=prerender,
              log=click.echo)


if __name__ == "__main__":  # pragma: no cover
    main()
