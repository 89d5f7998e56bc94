"""The pipeline: one topic's handout in one locale, from catalogs to PDF.

    build_pdf(inputs, renderer, job)      the whole way, for `build` and `serve`
      prepare()                           catalogs checked -> the frozen Handout value
      laid_out()                          Handout -> HTML (Jinja) -> laid-out pages
      require_fit()                       one page, clinic box holds, no text past its column
      renderer.pdf_bytes()                pages -> PDF bytes
`check` runs the same steps up to and including the fit, and writes nothing.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from babel.dates import format_date
from babel.messages.catalog import Catalog

from . import (
    catalog,
    clinic as clinic_lib,
    content,
    fonts,
    handout as handouts,
    locales,
    markup,
    paper as papers,
    references,
    render,
    validate,
)
from .errors import HandoutError
from .incremental import candidate_codes
from .locales import SOURCE_LOCALE
from .project import Project


@dataclass(frozen=True)
class Options:
    """How a handout is built (what the user chose on the command line)."""

    draft: bool = False
    paper: str = "auto"
    require_reviewed: bool = False


@dataclass
class Inputs:
    """What every locale of one topic shares, loaded once per build."""

    project: Project
    source: Any  # content.Source
    refs: dict
    pot: Catalog  # the topic's template
    labels_pot: Catalog  # the labels every topic shares
    manifest: fonts.Manifest
    numbers: dict  # citation key -> reference number
    states: dict = field(default_factory=dict)  # locale -> LocaleState, read once
    baselines: dict = field(default_factory=dict)  # the English laid out, for `check`

    @property
    def pots(self) -> tuple[Catalog, Catalog]:
        return (self.labels_pot, self.pot)


def load_inputs(project: Project) -> Inputs:
    """The English source, references and templates of ``project``'s topic."""
    rel = project.relative
    source = content.load(project.source_file, rel(project.source_file), inside=project.content_dir)
    refs = references.load(project.references_file, rel(project.references_file), inside=project.content_dir)
    numbers = references.number([u.text for u in source.units], refs, rel(project.source_file))
    pot = catalog.template(source, rel)
    labels_pot = catalog.labels_template(project.templates_dir, rel)
    manifest = fonts.load_manifest(project.templates_dir)
    return Inputs(project, source, refs, pot, labels_pot, manifest, numbers)


def available(project: Project) -> list[str]:
    """Locale codes of the topic (named as Babel spells them), plus the English source."""
    return [c for c in candidate_codes(project) if c == SOURCE_LOCALE or locales.canonical(c) == c]


def resolve_codes(project: Project, codes: list[str]) -> list[str]:
    return [locales.resolve(code, available(project)) for code in codes]


@dataclass(frozen=True)
class Part:
    """One catalog of a locale: the shared labels, or the topic's own text."""

    path: Path
    where: str  # the path as messages show it
    loaded: catalog.Loaded
    pot: Catalog


@dataclass
class LocaleState:
    """A locale's catalogs (labels and topic), checked against the templates."""

    code: str
    parts: tuple  # (labels Part, topic Part); empty for the English source
    stats: catalog.Stats
    translations: dict
    problems: list  # (where, line, message), sorted

    @property
    def path(self) -> Path | None:
        return self.parts[-1].path if self.parts else None

    @property
    def loaded(self) -> catalog.Loaded | None:
        return self.parts[-1].loaded if self.parts else None

    def first_problem(self, code: str) -> HandoutError | None:
        if not self.problems:
            return None
        where, line, message = self.problems[0]
        more = f" (and {len(self.problems) - 1} more; run `nkhandout check --lang {code}`)" \
            if len(self.problems) > 1 else ""
        return HandoutError(message + more, f"{where}:{line}")

    @property
    def review(self) -> dict:
        headers = self.loaded.extra_headers if self.loaded else {}
        return {
            "status": headers.get("X-Review-Status", "unreviewed") if self.loaded else "source",
            "by": headers.get("X-Reviewed-By", ""),
            "date": headers.get("X-Review-Date", ""),
            "version": headers.get("X-Reviewed-Version", ""),
        }

    def reviewed_for(self, version: str) -> bool:
        review = self.review
        return review["status"] == "source" or (
            review["status"] == "reviewed" and bool(review["by"]) and review["version"] == version)


def locale_state(inputs: Inputs, code: str) -> LocaleState:
    """Load and check ``code``'s catalogs, once per build."""
    if code not in inputs.states:
        inputs.states[code] = _read_state(inputs, code)
    return inputs.states[code]


def _read_part(project: Project, path: Path, code: str, pot: Catalog) -> tuple[Part, list, dict]:
    """One catalog of a locale: the Part, its problems, its translations."""
    where = project.relative(path)
    if not path.exists() and not path.is_symlink():
        raise HandoutError("catalog not found", where, f"run `nkhandout init-locale {code}`")
    loaded = catalog.load(path, where, locale=code, inside=project.content_dir)
    problems = [(where, line, message) for line, message in catalog.header_problems(loaded, code, path.name)]
    translations = catalog.translations(loaded.catalog)
    for message in pot:
        if not message.id or not isinstance(message.id, str):  # the templates have no plural forms
            continue
        text = translations.get((message.context, message.id))
        if text:
            odd = catalog.text_problem(text)
            for problem in validate.problems(message.id, text) + ([odd] if odd else []):
                found = loaded.catalog.get(message.id, context=message.context)
                problems.append((where, getattr(found, "lineno", 0) or 0, f"{message.context}: {problem}"))
    return Part(path, where, loaded, pot), problems, translations


def _read_state(inputs: Inputs, code: str) -> LocaleState:
    project = inputs.project
    if code == SOURCE_LOCALE:
        total = sum(1 for pot in inputs.pots for m in pot if m.id)
        return LocaleState(code, (), catalog.Stats(total, 0, 0), {}, [])
    parts, problems, translations = [], [], {}
    counts = [0, 0, 0]
    for path, pot in ((project.labels_file(code), inputs.labels_pot), (project.catalog_file(code), inputs.pot)):
        part, found, texts = _read_part(project, path, code, pot)
        parts.append(part)
        problems += found
        translations.update(texts)
        stats = catalog.stats(part.loaded.catalog, pot)
        counts = [counts[0] + stats.translated, counts[1] + stats.fuzzy, counts[2] + stats.untranslated]
    problems.sort(key=lambda problem: (problem[0] != parts[-1].where, problem[1]))
    return LocaleState(code, tuple(parts), catalog.Stats(*counts), translations, problems)


def gaps(state: LocaleState) -> list[tuple[str, catalog.Gap]]:
    """(where, gap) for every string of ``state`` not translated yet: the one
    place that decides what a complete locale is (catalog.gaps)."""
    return [(part.where, gap) for part in state.parts for gap in catalog.gaps(part.loaded.catalog, part.pot)]


def check_glyphs(inputs: Inputs, code: str, state: LocaleState) -> None:
    """Raise unless the locale's fonts are installed and draw every character
    the page prints in this locale (the same check for `check` and `build`)."""
    project = inputs.project
    info = locales.info(code)
    texts = list(state.translations.values()) or [m.id for pot in inputs.pots for m in pot if m.id]
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


def choose_paper(paper: str, clinic: Any, info: Any) -> str:
    """--paper wins; else the clinic's country; else the locale's territory."""
    if paper != "auto":
        return paper
    if clinic is not None and clinic.country:
        return papers.for_territory(clinic.country)
    return info.paper


def prepare(inputs: Inputs, code: str, options: Options = Options(), clinic: Any = None) -> handouts.Handout:
    """The Handout for ``code``, refusing what is not fit to print."""
    project = inputs.project
    state = locale_state(inputs, code)
    where = project.relative(state.path) if state.path else project.relative(project.source_file)
    problem = state.first_problem(code)
    if problem is not None:
        raise problem
    if options.require_reviewed and not state.reviewed_for(inputs.source.version):
        raise HandoutError(
            "not reviewed by a qualified medical translator for content version "
            f"{inputs.source.version}", where, "have it reviewed (nkhandout mark-reviewed) or drop --require-reviewed")
    info = locales.info(code)
    check_glyphs(inputs, code, state)
    if clinic is not None:
        clinic_lib.check_glyphs(clinic, inputs.manifest, project.fonts_dir, code)
    if not options.draft and not state.stats.complete:
        holes = gaps(state)
        at, first = holes[0]
        more = f" (and {len(holes) - 1} more string(s))" if len(holes) > 1 else ""
        raise HandoutError(
            first.message + more, f"{at}:{first.line}" if first.line else at,
            f"nkhandout check --lang {code} lists each; or build with --draft")
    style = inputs.manifest.typography(code)
    return handouts.build(
        inputs.source, inputs.refs, inputs.numbers, info, state.translations, inputs.labels_pot,
        draft=options.draft, reviewed_translation=state.reviewed_for(inputs.source.version),
        paper=choose_paper(options.paper, clinic, info), clinic=clinic,
        keep_words=style.keep_words, digits=style.digits)


def laid_out(inputs: Inputs, renderer: render.Renderer, code: str, options: Options = Options(),
             clinic: Any = None) -> tuple[handouts.Handout, str, Any]:
    """(Handout, HTML, laid-out document) for ``code``."""
    value = prepare(inputs, code, options, clinic)
    html = render.to_html(value, renderer.env)
    return value, html, renderer.layout(value, html)


def require_fit(value: handouts.Handout, document: Any) -> None:
    """Refuse a page that is not fit to print: more than one page (a draft
    that still shows English may run over: it is never given to patients),
    a clinic field its box does not hold, text wider than its column."""
    if len(document.pages) > 1 and not (value.draft and value.missing):
        over = render.overflow_mm(document)
        longest = render.section_heights(document)
        section = f"; longest section: '{longest[0][0]}' ({longest[0][1]:.0f} mm)" if longest else ""
        raise HandoutError(
            f"handout takes {len(document.pages)} pages: it overflows one page by about {over:.0f} mm{section}",
            f"locale {value.code}", "shorten the text")
    clinic_lib.check_box(document, value.clinic, value.code)
    overrun = render.overrun_error(document, value.code)
    if overrun is not None:
        raise overrun


def build_pdf(inputs: Inputs, renderer: render.Renderer, code: str, options: Options = Options(),
              clinic: Any = None) -> bytes:
    """The PDF of ``code``'s handout: the whole pipeline, nothing written."""
    value, html, document = laid_out(inputs, renderer, code, options, clinic)
    require_fit(value, document)
    return renderer.pdf_bytes(value, document, html)


def render_one(renderer: render.Renderer, value: handouts.Handout) -> tuple[Any, str]:
    """Lay out a prepared Handout; refuse it unless it fits (see require_fit)."""
    html = render.to_html(value, renderer.env)
    document = renderer.layout(value, html)
    require_fit(value, document)
    return document, html


@dataclass(frozen=True)
class Failure:
    """One handout that could not be built, and why."""

    code: str
    clinic: str
    error: HandoutError
    topic: str = ""

    def __str__(self) -> str:
        who = f"{self.clinic} / " if self.clinic else ""
        what = f"{self.topic} " if self.topic else ""
        return f"{who}{what}{self.code}: {self.error}"


def complete_locales(project: Project, inputs: Inputs | None = None) -> list[str]:
    """Locales whose catalogs for the topic are complete and valid."""
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
