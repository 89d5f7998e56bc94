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
"""


class Group(click.Group):
    """Turns a HandoutError into one line on stderr and its exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except HandoutError as error:
            click.echo(f"nkhandout: {error}", err=True)
            sys.exit(error.exit_code)
        except KeyboardInterrupt:
            click.echo("nkhandout: interrupted", err=True)
            sys.exit(130)


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
              show_default=True, help="auto picks from the locale's territory (CLDR).")
@click.option("--out", type=click.Path(file_okay=False), help="Output folder (default: handouts/).")
@click.option("--draft", is_flag=True,
              help="Build incomplete translations, English filling the gaps, marked DRAFT.")
@click.pass_obj
def build(project, langs, all_, paper, out, draft):
    """Build handout PDFs, one page each."""
    from . import build as builder

    if not langs and not all_:
        raise UsageError("say which locales to build", hint="--lang CODE or --all")
    if all_:
        codes = builder.complete_locales(project)
    else:
        codes = list(dict.fromkeys(builder.resolve_codes(project, langs)))
    builder.build(project, codes, out_dir=out, draft=draft, paper=paper,
                  log=lambda line: click.echo(line))


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
            "fonts differ from the pinned versions: " + ", ".join(mismatches), str(project.fonts_dir),
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


if __name__ == "__main__":  # pragma: no cover
    main()
