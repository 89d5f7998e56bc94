"""Translator workflows: the template, new locales, updates, review marks."""

import datetime
import io
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

from . import build as builder, catalog, files, locales
from .errors import HandoutError, UsageError
from .locales import SOURCE_LOCALE
from .project import Project

HEADER_COMMENT = """\
# {language} translation of {what}.
# Draft translation, not yet reviewed by a qualified medical translator.
# Edit the msgstr lines in Poedit, Weblate or a text editor, then run:
# nkhandout check --lang {code}   (see TRANSLATING.md)
#"""

UNREVIEWED = {
    "X-Review-Status": "unreviewed",
    "X-Reviewed-By": "",
    "X-Review-Date": "",
    "X-Reviewed-Version": "",
}


def pot_text(pot: Catalog) -> str:
    buffer = io.BytesIO()
    write_po(buffer, pot, width=76, omit_header=False, sort_output=False)
    return buffer.getvalue().decode("utf-8")


def _write_if_changed(path, text):
    return files.write_if_changed(path, text.encode("utf-8"))


def _new_catalog(pot, info, canonical, what):
    new = Catalog(locale=info.locale, project=catalog.PROJECT, version=pot.version,
                  creation_date=pot.creation_date, revision_date="YEAR-MO-DA HO:MI+ZONE",
                  msgid_bugs_address="",
                  last_translator="", language_team=f"{info.native_name} <>",
                  charset="utf-8", fuzzy=False,
                  header_comment=HEADER_COMMENT.format(language=info.locale.english_name, code=canonical,
                                                       what=what))
    for message in pot:
        if message.id:
            new.add(message.id, "", context=message.context, auto_comments=message.auto_comments,
                    locations=message.locations, flags=message.flags)
    return catalog.Loaded(new, dict(UNREVIEWED), canonical)


def init_locale(project: Project, code: str) -> list[Path]:
    """Start locale CODE: the shared labels' catalog (unless it exists) and a
    catalog for each topic that has none; return the paths created."""
    canonical = locales.canonical(code)
    if canonical is None:
        raise UsageError(f"{code!r} is not a locale Babel knows",
                         hint="use a code such as it, pt_BR or zh_Hant")
    if canonical == SOURCE_LOCALE:
        raise UsageError("en is the source language; it has no catalog")
    topics = project.topic_names()
    if not topics:
        raise UsageError("this project has no topic yet", hint="start one with `nkhandout init-topic NAME`")
    info = locales.info(canonical)
    made, existing = [], None
    for name in topics:
        bound = project.for_topic(name)
        have = {c.lower(): c for c in builder.available(bound)}
        if canonical.lower() in have:
            existing = bound.catalog_file(have[canonical.lower()])
            continue
        inputs = builder.load_inputs(bound)
        labels = project.labels_file(canonical)
        if not labels.exists() and labels not in made:
            files.ensure_dir(project.labels_dir)
            files.write_atomic(labels, catalog.dump(_new_catalog(
                inputs.labels_pot, info, canonical, "the page's own words, shared by every topic")).encode("utf-8"))
            made.append(labels)
        files.ensure_dir(bound.locales_dir)
        path = bound.catalog_file(canonical)
        files.write_atomic(path, catalog.dump(_new_catalog(
            inputs.pot, info, canonical, f"the handout '{inputs.source.title.text}'")).encode("utf-8"))
        made.append(path)
    if not made:
        assert existing is not None  # every topic has the locale already
        raise UsageError(f"locale {canonical} already exists", hint=f"edit {project.relative(existing)}")
    return made


def update(project: Project) -> dict[str, list[str]]:
    """Regenerate the templates and merge them into every catalog of every
    topic and of the shared labels.

    Returns {catalog path (relative): [changed contexts]} for the catalogs
    that changed. Every catalog is read and merged before anything is
    written, so a catalog that cannot be read leaves the templates and all
    catalogs as they were.
    """
    report = {}
    pending: list[tuple] = []  # (path, text, report key, changed): written only once all are merged
    labels_pot = None
    for name in project.topic_names():
        bound = project.for_topic(name)
        inputs = builder.load_inputs(bound)
        labels_pot = inputs.labels_pot
        pending.append((bound.template_file, pot_text(inputs.pot), None, []))
        for code in builder.available(bound):
            if code != SOURCE_LOCALE:
                pending.append(_merged(bound, bound.catalog_file(code), code, inputs.pot))
    if labels_pot is not None:
        pending.append((project.labels_template_file, pot_text(labels_pot), None, []))
        for path in sorted(project.labels_dir.glob("*.po")) if project.labels_dir.is_dir() else ():
            code = path.stem
            if locales.canonical(code) == code:
                pending.append(_merged(project, path, code, labels_pot))
    for path, text, key, changed in pending:
        if _write_if_changed(path, text) and key is not None:
            report[key] = changed
    return report


def _merged(project, path, code, pot):
    """(path, merged text, report key, changed contexts) of one catalog."""
    loaded = catalog.load(path, project.relative(path), locale=code, inside=project.content_dir)
    merged, changed = catalog.merge(loaded, pot)
    return path, catalog.dump(merged), project.relative(path), changed


def mark_reviewed(project: Project, code: str, reviewer: str, day: datetime.date | None = None) -> Path:
    """Record that a qualified reviewer checked ``code`` for this content version."""
    if not reviewer or not reviewer.strip():
        raise UsageError("say who reviewed it", hint='--by "Name, qualification"')
    catalog.check_header_value("--by", reviewer, UsageError)
    if day is not None:
        catalog.check_header_value("--date", day.isoformat(), UsageError)
    inputs = builder.load_inputs(project)
    state = builder.locale_state(inputs, code)
    if state.path is None:
        raise UsageError("en is the source language; review the content itself instead")
    where = project.relative(state.path)
    assert state.loaded is not None  # a locale with a catalog file has it loaded
    if not state.stats.complete or state.problems:
        raise HandoutError("only a complete catalog that passes `nkhandout check` can be marked reviewed", where)
    day = day or datetime.date.today()
    for part in state.parts[:-1]:  # the shared labels: reviewed with the topic
        part.loaded.extra_headers.update({
            "X-Review-Status": "reviewed", "X-Reviewed-By": reviewer.strip().replace('"', "'"),
            "X-Review-Date": day.isoformat(), "X-Reviewed-Version": catalog.LABELS_VERSION})
        files.write_atomic(part.path, catalog.dump(part.loaded).encode("utf-8"))
    state.loaded.extra_headers.update({
        "X-Review-Status": "reviewed",
        "X-Reviewed-By": reviewer.strip().replace('"', "'"),
        "X-Review-Date": day.isoformat(),
        "X-Reviewed-Version": inputs.source.version,
    })
    files.write_atomic(state.path, catalog.dump(state.loaded).encode("utf-8"))
    return state.path
