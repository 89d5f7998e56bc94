"""Build handouts: the one orchestrating function per job."""

from dataclasses import dataclass, field
from pathlib import Path

from . import catalog, clinic as clinic_lib, content, fonts, handout as handouts, locales, references, render, validate
from .errors import HandoutError
from .locales import SOURCE_LOCALE


@dataclass
class Inputs:
    """What every locale of one build shares, loaded once."""

    project: object
    source: object
    refs: dict
    pot: object
    manifest: object
    numbers: dict  # citation key -> reference number
    states: dict = field(default_factory=dict)  # locale -> LocaleState, read once


def load_inputs(project):
    rel = project.relative
    source = content.load(project.source_file, rel(project.source_file), inside=project.content_dir)
    refs = references.load(project.references_file, rel(project.references_file), inside=project.content_dir)
    numbers = references.number([u.text for u in source.units], refs, rel(project.source_file))
    pot = catalog.template(source, project.templates_dir, rel)
    manifest = fonts.load_manifest(project.templates_dir)
    return Inputs(project, source, refs, pot, manifest, numbers)


def available(project):
    """Locale codes with a catalog (named as Babel spells them), plus the English source."""
    from .incremental import candidate_codes

    return [c for c in candidate_codes(project) if c == SOURCE_LOCALE or locales.canonical(c) == c]


def resolve_codes(project, codes):
    return [locales.resolve(code, available(project)) for code in codes]


@dataclass
class LocaleState:
    """A locale's catalog, checked against the current template."""

    code: str
    path: Path | None
    loaded: object
    stats: object
    translations: dict
    problems: list  # (line, message)

    @property
    def review(self):
        headers = self.loaded.extra_headers if self.loaded else {}
        return {
            "status": headers.get("X-Review-Status", "unreviewed") if self.loaded else "source",
            "by": headers.get("X-Reviewed-By", ""),
            "date": headers.get("X-Review-Date", ""),
            "version": headers.get("X-Reviewed-Version", ""),
        }

    def reviewed_for(self, version):
        review = self.review
        return review["status"] == "source" or (
            review["status"] == "reviewed" and review["by"] and review["version"] == version)


def locale_state(inputs, code):
    """Load and check ``code``'s catalog, once per build (None for the English source)."""
    if code not in inputs.states:
        inputs.states[code] = _read_state(inputs, code)
    return inputs.states[code]


def _read_state(inputs, code):
    project = inputs.project
    if code == SOURCE_LOCALE:
        total = sum(1 for m in inputs.pot if m.id)
        return LocaleState(code, None, None, catalog.Stats(total, 0, 0), {}, [])
    path = project.catalog_file(code)
    where = project.relative(path)
    loaded = catalog.load(path, where, locale=code, inside=project.content_dir)
    stats = catalog.stats(loaded.catalog, inputs.pot)
    translations = catalog.translations(loaded.catalog)
    problems = catalog.header_problems(loaded, code, path.name)
    for message in inputs.pot:
        if not message.id:
            continue
        text = translations.get((message.context, message.id))
        if text:
            odd = catalog.text_problem(text)
            for problem in validate.problems(message.id, text) + ([odd] if odd else []):
                found = loaded.catalog.get(message.id, context=message.context)
                problems.append((getattr(found, "lineno", 0) or 0, f"{message.context}: {problem}"))
    return LocaleState(code, path, loaded, stats, translations, problems)


def check_glyphs(inputs, code, state):
    """Raise unless the locale's fonts are installed and draw every character
    the page prints in this locale (the same check for `check` and `build`)."""
    from babel.dates import format_date

    from . import markup

    project = inputs.project
    info = locales.info(code)
    texts = list(state.translations.values()) or [m.id for m in inputs.pot if m.id]
    digits = inputs.manifest.typography(code).digits
    texts.append(markup.localize_digits(format_date(inputs.source.reviewed, format="long", locale=info.locale), digits))
    texts += [markup.format_value(v, info.locale, digits) for v in inputs.source.values.values()]
    fonts.check_installed(inputs.manifest, project.fonts_dir, code)
    missing = fonts.missing_glyphs("".join(texts), inputs.manifest, project.fonts_dir, code)
    if missing:
        shown = " ".join(f"{c} (U+{ord(c):04X})" for c in missing[:8]) + (" ..." if len(missing) > 8 else "")
        where = project.relative(state.path) if state.path else project.relative(project.source_file)
        raise HandoutError(f"the fonts for {code} cannot draw {len(missing)} character(s): {shown}", where,
                           fonts.FIX_MISSING.format(key=code.split("_")[0]))


def choose_paper(paper, clinic, info):
    """--paper wins; else the clinic's country; else the locale's territory."""
    from . import paper as papers

    if paper != "auto":
        return paper
    if clinic is not None and clinic.country:
        return papers.for_territory(clinic.country)
    return info.paper


def prepare(inputs, code, *, draft=False, paper="auto", require_reviewed=False, clinic=None):
    """The Handout for ``code``, refusing what is not fit to print."""
    project = inputs.project
    state = locale_state(inputs, code)
    where = project.relative(state.path) if state.path else project.relative(project.source_file)
    if state.problems:
        line, message = sorted(state.problems, key=lambda problem: problem[0])[0]
        more = f" (and {len(state.problems) - 1} more; run `nkhandout check --lang {code}`)" if len(state.problems) > 1 else ""
        raise HandoutError(message + more, f"{where}:{line}")
    if require_reviewed and not state.reviewed_for(inputs.source.version):
        raise HandoutError(
            "not reviewed by a qualified medical translator for content version "
            f"{inputs.source.version}", where, "have it reviewed (nkhandout mark-reviewed) or drop --require-reviewed")
    info = locales.info(code)
    chosen = choose_paper(paper, clinic, info)
    check_glyphs(inputs, code, state)
    if clinic is not None:
        clinic_lib.check_glyphs(clinic, inputs.manifest, project.fonts_dir, code)
    if not draft and not state.stats.complete:
        holes = catalog.gaps(state.loaded.catalog, inputs.pot)
        first = holes[0]
        more = f" (and {len(holes) - 1} more string(s))" if len(holes) > 1 else ""
        raise HandoutError(
            first.message + more, f"{where}:{first.line}" if first.line else where,
            f"nkhandout check --lang {code} lists each; or build with --draft")
    style = inputs.manifest.typography(code)
    result = handouts.build(
        inputs.source, inputs.refs, inputs.numbers, info, state.translations, draft=draft,
        reviewed_translation=state.reviewed_for(inputs.source.version), paper=chosen, where=where,
        clinic=clinic, keep_words=style.keep_words, digits=style.digits)
    handouts.require_complete(result, where)
    return result, state


def render_one(renderer, handout_value):
    """Lay out one handout and return (document, html); refuse more than a page."""
    html = render.to_html(handout_value, renderer.env)
    document = renderer.layout(handout_value, html)
    if len(document.pages) > 1:
        over = render.overflow_mm(document)
        longest = render.section_heights(document)
        section = f"; longest section: '{longest[0][0]}' ({longest[0][1]:.0f} mm)" if longest else ""
        raise HandoutError(
            f"handout takes {len(document.pages)} pages: it overflows one page by about {over:.0f} mm{section}",
            f"locale {handout_value.code}", "shorten the text")
    clinic_lib.check_box(document, handout_value.clinic, handout_value.code)
    overrun = render.overrun_error(document, handout_value.code)
    if overrun is not None:
        raise overrun
    return document, html


@dataclass
class Failure:
    """One handout that could not be built, and why."""

    code: str
    clinic: str
    error: HandoutError

    def __str__(self):
        who = f"{self.clinic} / " if self.clinic else ""
        return f"{who}{self.code}: {self.error}"


def complete_locales(project, inputs=None):
    """Locales whose catalog is complete and valid."""
    inputs = inputs or load_inputs(project)
    done = []
    for code in available(project):
        try:
            state = locale_state(inputs, code)
        except HandoutError:
            continue
        if state.stats.complete and not state.problems:
            done.append(code)
    return done

