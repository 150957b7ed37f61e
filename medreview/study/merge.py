"""Bring graded rater packages back into the project that issued them.

A package is accepted only if this project issued it (its uid is in ``issued_package``), to the
rater it names, its seal verifies with the key kept in that record, and every judgment and
revision in it is by that rater, a physician, about an output assigned to them in that package
(outputs are named by the package's own tokens; the token -> output map never left this
project), dated no later than the merge plus ``CLOCK_SKEW``, and valid for the form version it
names. Anything else refuses the whole package with one line and nothing is written: every
package is checked before the one transaction that applies them all.

Revisions are matched by ``uid``, so merging is idempotent and order-independent for the usual
cases: a package's chain of revisions for a judgment either extends the project's chain
(fast-forward: the new revisions are appended), or is already contained in it (nothing to do).
If both sides have revisions the other lacks (the same item graded in two copies), that is a
*true conflict*: all incoming revisions are still appended (nothing is lost), the conflict is
listed, and the judgment's current value becomes the newer tip by (creation time, uid) — if
that is not already the last revision a ``resolve`` revision restating it is appended — so the
current value does not depend on merge order.

A revision the package marks as a retest (source ``retest``, storage/retests.py) is accepted only
for an item this project chose for that rater's retest, after the rater finished the item; it is
stored as a retest: never the judgment's current answer, and no side of a conflict.

The package database is unpacked into a hidden folder inside the project (not the system temp
folder: it holds case text), removed when the merge ends; one left by a killed merge is removed
by the next.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from medreview.domain.package_revision import PackageRevision
from medreview.errors import PackageError, ProjectReadOnly
from medreview.progress import Progress, no_progress
from medreview.storage.base import utcnow
from medreview.storage.merging import (
    Conflict,
    IncomingPackage,
    IncomingRevision,
    MergeReference,
    PackageContents,
    PackageForm,
    PackageJudgment,
    PackageMergeResult,
    apply_packages,
    merge_reference,
    package_contents,
    revision_owners,
)
from medreview.storage.project import Project
from medreview.storage.retests import retest_outputs
from medreview.storage.revisions import RETEST_SOURCE, RevisionContent, gc_paused
from medreview.study.merge_revision import CLOCK_SKEW, Refused, RevisionChecks, one_line
from medreview.study.package_open import (
    WORK_PREFIX,
    _work_folder,
    check_issued,
    open_package,
)

__all__ = ["CLOCK_SKEW", "WORK_PREFIX", "Conflict", "MergeReport", "PackageMergeResult",
           "check_issued", "merge_packages", "one_line"]


@dataclass
class MergeReport:
    packages: list[PackageMergeResult] = field(default_factory=list)

    @property
    def added(self) -> int:
        return sum(p.added for p in self.packages)

    @property
    def conflicts(self) -> list[Conflict]:
        return [c for p in self.packages for c in p.conflicts]


def _fail(reason: str, file: str, item: str | None = None) -> PackageError:
    return PackageError(reason, source=file, item=item)


# --- reading one package ---------------------------------------------------------------------


def _read_package(file: Path, project: Project, lead: MergeReference, now: dt.datetime,
                  work: Path) -> IncomingPackage:
    src = str(file)
    issued, pkg = open_package(file, project, lead, work)
    try:
        # The collector off while checking: every row read stays alive, so each full
        # collection would scan them all again (at 100k revisions, half of the checks' time).
        with gc_paused():
            return _load(package_contents(pkg), IncomingPackage(src, issued), lead, now,
                         project)
    except PackageError:
        raise
    except Exception as exc:  # a damaged database inside valid checksums: still a refusal
        raise _fail(f"package database cannot be read: {str(exc)[:200]}", src) from exc
    finally:
        pkg.close()


def _load(c: PackageContents, pkg: IncomingPackage, lead: MergeReference, now: dt.datetime,
          project: Project) -> IncomingPackage:
    src, issued = pkg.file, pkg.issued
    settings = c.settings
    if settings.get("source_project_uid") != lead.uid or (
            settings.get("package_uid") != issued.uid):
        raise _fail("package database does not match its manifest (foreign or tampered)", src)
    raters = c.raters
    if len(raters) != 1 or raters[0].name != issued.rater:
        raise _fail(f"package must hold exactly its own rater {issued.rater!r} (another rater "
                    "was written into it)", src)
    if raters[0].kind != issued.rater_kind:
        raise _fail(f"package rater kind was changed to {str(raters[0].kind)[:20]!r}", src)
    rater_id = raters[0].id
    token_of: dict[int, str] = {}
    for o in c.outputs:
        sent = issued.outputs.get(str(o.token))
        if sent is None:
            raise _fail("package holds an output it was not sent", src,
                        item=one_line(o.token, 40))
        if o.text_sha256 != sent.text_sha256:
            raise _fail("an answer text was changed inside the package", src,
                        item=f"output {o.token}")
        token_of[o.id] = str(o.token)
    out_map = {pid: issued.outputs[t].output_id for pid, t in token_of.items()}
    forms = c.forms
    for judgment in c.judgments:
        if judgment.rater_id != rater_id or judgment.output_id not in token_of:
            raise _fail("package holds a judgment of an output not assigned in it", src,
                        item=f"judgment {judgment.id}")
    revs = c.revisions
    known = revision_owners(project, [r.uid for r in revs])
    by_judgment = {j.id: j for j in c.judgments}
    ours_of = {j.id: out_map[j.output_id] for j in c.judgments}  # judgment -> our output
    checks = _Checks(lead, issued, now, out_map)
    chains = pkg.chains
    mine = (issued.rater_id,)
    retests = retest_outputs(project, issued.rater_id)  # our outputs chosen for a retest
    finished: set[int] = set()  # package judgments with a finished ordinary revision so far
    for r in revs:
        try:
            ours = ours_of.get(r.judgment_id)
            if ours is None:
                raise _Refused("package holds a revision of no judgment of its rater")
            form = forms.get(r.form_id)
            tax = forms.get(r.taxonomy_id) if r.taxonomy_id else None
            if form is None or (r.taxonomy_id and tax is None):
                raise _Refused("revision names a form the package does not have")
            owner = known.get(r.uid)
            retest = r.source == RETEST_SOURCE
            if retest and owner is None:
                # A retest is served once the rater finished the item, and only for an item
                # the lead chose for this rater's retest (storage/retests.py).
                if ours not in retests:
                    raise _Refused("revision is marked as a retest of an item not chosen for "
                                   "this rater's retest")
                if r.judgment_id not in finished:
                    raise _Refused("retest revision comes before the rater finished the item")
            elif not retest and r.status == "done":
                finished.add(r.judgment_id)
            if owner is None:
                incoming = checks.new_revision(r, form, tax, ours, retest)
            elif owner != (*mine, ours):  # sent out with the package (or merged before)
                raise _Refused("revision uid belongs to another judgment in this project")
            else:  # content matters only for new revisions (known ones are skipped by uid)
                incoming = IncomingRevision(
                    uid=r.uid, form=(form.key, form.version),
                    taxonomy=(tax.key, tax.version) if tax else None, content=RevisionContent(),
                    author=r.author, created_at=r.created_at, guideline_version=None)
        except _Refused as exc:
            raise _fail(exc.reason, src, item=_where(r, by_judgment, token_of)) from None
        chain = chains.get(ours)
        if chain is None:
            chains[ours] = [incoming]
        else:
            chain.append(incoming)
    return pkg


_Refused = Refused


def _where(r: PackageRevision, by_judgment: dict[int, PackageJudgment],
           token_of: dict[int, str]) -> str:
    """The item a refusal names, built only when a revision is refused."""
    j = by_judgment.get(r.judgment_id)
    if j is None:
        return f"revision {one_line(r.uid, 40)}"
    return f"output {token_of[j.output_id]}, revision {one_line(r.uid, 40)}"


class _Checks(RevisionChecks):
    """``RevisionChecks`` giving each new revision as the write takes it."""

    def new_revision(self, r: PackageRevision, form: PackageForm, tax: PackageForm | None,
                     ours: int, retest: bool = False) -> IncomingRevision:
        forms, annotations, version = self.check(r, form, tax, ours)
        content = RevisionContent(
            answers=dict(r.answers), annotations=annotations, rationale=r.rationale,
            confidence=r.confidence, overall_score=r.overall_score,
            time_on_task_s=r.time_on_task_s, flagged=r.flagged, skipped=r.skipped,
            status=r.status)
        return IncomingRevision(
            uid=r.uid, form=forms.form_key, taxonomy=forms.taxonomy_key, content=content,
            author=r.author, created_at=r.created_at, guideline_version=version,
            retest=retest)


def merge_packages(project: Project, files: Sequence[Path],
                   progress: Progress = no_progress, *,
                   now: dt.datetime | None = None) -> MergeReport:
    """Check every package, then merge them all in one transaction (all or nothing)."""
    if project.read_only:
        raise ProjectReadOnly(f"the project is open read-only ({project.read_only_reason}); "
                              "nothing can be merged", source=str(project.path))
    # The collector off for the whole merge: the checked rows of every package stay alive
    # until the write, and each collection would scan them all again (they make no cycles and
    # are freed by reference counting when _merge returns, before the collector runs again).
    with gc_paused():
        return _merge(project, files, progress, now or utcnow())


def _merge(project: Project, files: Sequence[Path], progress: Progress,
           now: dt.datetime) -> MergeReport:
    from medreview.study.merge_pipeline import pipelined_merge  # (it imports this module)

    piped = pipelined_merge(project, files, progress, now)
    if piped is not None:
        progress(len(files) * 2, len(files) * 2, "done")
        return MergeReport(piped)
    lead = merge_reference(project, ())  # each package adds its outputs' cases
    packages: list[IncomingPackage] = []
    with _work_folder(project) as work:
        for i, f in enumerate(files):
            progress(i, len(files) * 2, f"checking {Path(f).name}")
            packages.append(_read_package(Path(f), project, lead, now, work))

    def merging(i: int, pkg: IncomingPackage) -> None:
        progress(len(files) + i, len(files) * 2, f"merging {Path(pkg.file).name}")

    report = MergeReport(apply_packages(project, packages, merging,
                                        criterion_cache=lead.criterion_cache))
    progress(len(files) * 2, len(files) * 2, "done")
    return report
