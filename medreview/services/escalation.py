"""Escalation use-cases: the lead's rules, a run (or its preview), the list of escalated items,
and the hook that runs the rules after every write that adds finished ratings.

The hook (``after_ratings``) is called by the grading save when an item is saved as done, by a
package merge and by a ratings import. It reads the rules first (one small query) and does
nothing more without them; with rules, after a save it plans for the saved item on a read
snapshot and takes the write lock only when something is to be escalated; after a merge or an
import it plans once, for the items written, inside the write transaction that gives them to
seniors. Either runs in a short transaction of its own after the save committed (the save
itself never waits for it), reading only what the rules need (``storage.escalation_rows``). A
failure there is logged and leaves the save as it is: ``medreview escalate`` applies whatever
was missed.

Storage is imported inside the functions: the grading window imports this module through
``services.grading`` and must start without SQLAlchemy.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import weakref
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from medreview.domain.changes import Changes
from medreview.domain.escalation import (
    EscalationRules,
    PlannedEscalation,
    SevereRule,
    check_rule,
    check_seniors,
    check_threshold,
    rules_from_settings,
)
from medreview.domain.rubric import Question, QuestionKind
from medreview.errors import InputError

if TYPE_CHECKING:
    from medreview.storage.escalations import EscalationView
    from medreview.storage.project import Project

__all__ = ["EscalationOverview", "EscalationReport", "EscalationRules", "SevereRule",
           "after_ratings", "current_rules", "escalated_items", "escalation_overview",
           "level_choices", "parse_rule_text", "parse_severe", "rules_from_fields",
           "run_escalation", "set_rules", "watch_escalation"]

log = logging.getLogger(__name__)
SLACK = dt.timedelta(seconds=2)  # a write's "now" may be taken a moment before the caller's
_may: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class EscalationReport:
    rules: EscalationRules
    planned: tuple[PlannedEscalation, ...]
    applied: bool  # False: a dry run, nothing written

    @property
    def escalated(self) -> tuple[PlannedEscalation, ...]:
        return tuple(p for p in self.planned if p.senior is not None)

    @property
    def no_senior(self) -> tuple[PlannedEscalation, ...]:
        """Items a rule met that no senior can take (every one has the item already)."""
        return tuple(p for p in self.planned if p.senior is None)

    def to_dict(self) -> dict[str, Any]:
        return {"rules": self.rules.to_settings(), "applied": self.applied,
                "escalated": [{"output_id": p.output_id, "senior": p.senior, "reason": p.reason}
                              for p in self.escalated],
                "no_senior": [{"output_id": p.output_id, "reason": p.reason}
                              for p in self.no_senior]}


def current_rules(project: Project) -> EscalationRules:
    """The lead's rules (empty rules if none are set)."""
    from medreview.storage.escalations import read_rules

    return rules_from_settings(read_rules(project))


def _level(text: str) -> str | int | float:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            continue
    return text


def parse_rule_text(text: str, base: EscalationRules | None = None) -> EscalationRules:
    """``severe=major,disagreement=0.5,senior=Dr A;Dr B`` onto ``base``: ``severe`` is a
    severity level (or ``QUESTION:LEVEL`` for one error or ordinal question, e.g.
    ``harm_extent:2``), ``disagreement`` a share in [0, 1), ``senior`` names split by ``;``;
    ``none`` clears a rule."""
    rules = base or EscalationRules()
    severe, disagreement, seniors = rules.severe, rules.disagreement, rules.seniors
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, sep, value = part.partition("=")
        key, value = key.strip().lower(), value.strip().strip('"').strip("'").strip()
        if not sep:
            raise InputError("expected KEY=VALUE (severe, disagreement, senior)", item=part)
        if key == "severe":
            severe = parse_severe(value)
        elif key == "disagreement":
            disagreement = None if value.lower() in ("", "none") else check_threshold(
                _float(value), part)
        elif key in ("senior", "seniors"):
            seniors = check_seniors([n for n in value.split(";") if n.strip()], part)
        else:
            raise InputError("unknown rule; use severe, disagreement or senior", item=key)
    return EscalationRules(severe, disagreement, seniors)


def parse_severe(value: str) -> SevereRule | None:
    """``major`` (a severity of the error questions), ``harm_extent:2`` (a level of one
    question), or ``''``/``none`` (no severe-harm rule)."""
    value = value.strip()
    if value.lower() in ("", "none"):
        return None
    qid, colon, level = value.rpartition(":")
    if colon and qid.strip() and level.strip():
        return SevereRule(_level(level.strip()), qid.strip())
    return SevereRule(_level(value))


def rules_from_fields(severe: str, disagreement: float | None, seniors: str
                      ) -> EscalationRules:
    """The rules dialog's three fields (seniors split by ``;`` or new lines)."""
    names = [n for n in seniors.replace("\n", ";").split(";") if n.strip()]
    return EscalationRules(parse_severe(severe),
                           None if disagreement is None else check_threshold(disagreement),
                           check_seniors(names))


@dataclass(frozen=True)
class EscalationOverview:
    """What the rules dialog shows: the rules, the levels a rule can name, the items."""

    rules: EscalationRules
    levels: tuple[str, ...]
    items: tuple[EscalationView, ...]


def level_choices(questions: Mapping[str, Question]) -> tuple[str, ...]:
    """Every level a severe rule can name: error severities, then ``question:level`` of the
    ordinal questions."""
    out: list[str] = []
    for q in questions.values():
        if q.kind is QuestionKind.ERROR:
            out += [str(o.value) for o in q.severities if str(o.value) not in out]
    for q in questions.values():
        if q.kind is QuestionKind.ORDINAL and not q.is_case_criterion:
            out += [f"{q.id}:{o.value}" for o in q.options]
    return tuple(out)


def escalation_overview(project: Project) -> EscalationOverview:
    from medreview.domain.rubric import FormKind
    from medreview.storage.forms import active_form

    forms = [active_form(project, kind).form for kind in (FormKind.RUBRIC, FormKind.TAXONOMY)]
    questions = {q.id: q for f in forms if f is not None for q in f.questions}
    return EscalationOverview(current_rules(project), level_choices(questions),
                              tuple(escalated_items(project)))


def _float(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise InputError("not a number", item=value) from None


def set_rules(project: Project, rules: EscalationRules) -> Changes:
    """Check ``rules`` against the project (a level some question has, seniors who are not
    judges) and store them."""
    from medreview.storage.escalations import write_rules
    from medreview.storage.questions import project_questions
    from medreview.storage.raters import list_raters

    if rules.severe is not None:
        check_rule(project_questions(project), rules.severe)
    judges = {r.name for r in list_raters(project, "judge")}
    for name in rules.seniors:
        if name in judges:
            raise InputError("a senior rater must be a physician, not a judge", item=name)
    write_rules(project, rules.to_settings())
    return Changes(project=True)


def run_escalation(project: Project, *, dry_run: bool = False, by: str = "lead",
                   rules: EscalationRules | None = None) -> tuple[EscalationReport, Changes]:
    """Apply the saved rules to every item, or only preview them with ``dry_run`` (a preview
    may try ``rules`` not saved yet; a run always applies the saved ones, as the hooks do)."""
    from medreview.storage.escalations import escalate_rules, plan_rules

    if rules is None or not dry_run:
        rules = current_rules(project)
    if not rules.active:
        return EscalationReport(rules, (), not dry_run), Changes()
    if dry_run:
        return EscalationReport(rules, tuple(plan_rules(project, rules)), False), Changes()
    done = tuple(escalate_rules(project, rules, by=by))
    report = EscalationReport(rules, done, True)
    return report, _changes(report.escalated)


def _changes(escalated: Collection[PlannedEscalation]) -> Changes:
    if not escalated:
        return Changes()
    return Changes(raters=True, queue=frozenset(p.output_id for p in escalated))


def after_ratings(project: Project, output_ids: Collection[int] | None = None, *,
                  since: dt.datetime | None = None, by: str = "rule") -> Changes:
    """Escalate what the rules now catch among ``output_ids`` (None: every item; ``since``:
    the items finished from then on, e.g. by a merge) after a write that committed finished
    ratings. Never raises: the write it follows has succeeded."""
    try:
        return _after_ratings(project, output_ids, since, by)
    except Exception as exc:  # the save stands; `medreview escalate` catches up
        log.warning("escalation after a save did not run: %s", exc, exc_info=True)
        return Changes()


def _after_ratings(project: Project, output_ids: Collection[int] | None,
                   since: dt.datetime | None, by: str) -> Changes:
    from medreview.storage.escalations import (
        escalate_rules,
        may_escalate,
        outputs_rated_since,
        plan_rules,
    )

    if project.read_only:
        return Changes()
    rules = current_rules(project)
    if not rules.active:  # no rule: the items written are not even looked up
        return Changes()
    may = _may.get(project)
    if may is None:
        may = _may[project] = may_escalate(project)
    if not may:  # a physician's server login: the lead's writes escalate
        return Changes()
    if since is not None:
        output_ids = outputs_rated_since(project, since - SLACK)
        if not output_ids:
            return Changes()
    # A save's item: a first look on a read snapshot, the write lock only if a rule fires.
    # A merge's or an import's items: planned once, in the write transaction that follows
    # the bulk write (a first look would read them all twice for the same plan).
    elif not plan_rules(project, rules, output_ids, light=True):
        return Changes()
    planned = escalate_rules(project, rules, by=by, output_ids=output_ids)
    return _changes([p for p in planned if p.senior is not None])


def escalated_items(project: Project, output_id: int | None = None) -> list[EscalationView]:
    """Every escalated item (of ``output_id`` only, if given) with its senior, reason and the
    senior's progress."""
    from medreview.storage.escalations import escalations

    return escalations(project, output_id)


def watch_escalation(project: Project, stop: threading.Event,
                     on_report: Callable[[EscalationReport], None], *,
                     on_error: Callable[[str], None] | None = None,
                     by: str = "medreview escalate --watch", check_s: float = 15.0) -> None:
    """Apply the rules whenever a server project changes, until ``stop`` is set.

    On a server a physician's own login may not write escalations (their save skips the rule),
    so the lead keeps this running beside the study: every change hint (LISTEN/NOTIFY, a
    hint only, and a check every ``check_s`` seconds) leads to one run over all items; a run
    that finds nothing writes nothing, so its own writes end in one quiet run. ``on_report``
    gets each run that escalated something, ``on_error`` one line for a run that failed (the
    next hint tries again). A folder project needs no watcher: every save
    there applies the rules itself.
    """
    from medreview.services.team import watch_changes

    wake = threading.Event()
    listener = watch_changes(project, lambda _revision: wake.set(), check_s=check_s)
    if listener is None:
        raise InputError("--watch is for server projects: in a folder project every save "
                         "applies the escalation rules by itself")
    try:
        while not stop.is_set():
            if not wake.wait(0.2):
                continue
            wake.clear()
            try:
                report, _changes = run_escalation(project, by=by)
            except Exception as exc:  # the server away, a bad rule: say so, try on the next hint
                log.warning("escalation run failed", exc_info=True)
                if on_error is not None:
                    on_error((str(exc).strip().splitlines() or [type(exc).__name__])[0])
                continue
            if report.escalated:
                on_report(report)
    finally:
        listener.stop()
