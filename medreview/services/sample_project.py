"""A generated project for tests, previews and benchmarks of the grading workstation.

``build_sample_project`` writes a small but complete project through the public services and
the ingest path: a HealthBench-style rubric (per-case criteria with points, a Likert scale,
choices, a number, free text), a clinical error taxonomy with severities, conversations with
context documents, several models per case and, optionally, a three-slice DICOM series made
from pydicom's bundled CT test file. The lead's ``medreview.demo`` is the curated demo; this one
is for scale (``n_cases`` may be thousands).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

from medreview.domain.records import (
    AttachmentRecord,
    CaseRecord,
    ContextDocument,
    CriterionRecord,
    Located,
    Message,
    OutputRecord,
)
from medreview.domain.rubric import ErrorCategory, Form, FormKind, Option, Question, QuestionKind
from medreview.services.projects import Project, add_form, add_rater, create_project
from medreview.services.views import RaterView
from medreview.storage.ingest import ingest

MODELS = ("model-alpha", "model-beta", "model-gamma")

LIKERT = tuple(Option(v, label) for v, label in (
    (1, "Unacceptable"), (2, "Poor"), (3, "Acceptable"), (4, "Good"), (5, "Excellent")))


def sample_rubric(pairwise: bool = False) -> Form:
    questions = [
        Question("overall", QuestionKind.ORDINAL, "Overall clinical quality", required=True,
                 options=LIKERT, help="1 = unacceptable … 5 = excellent"),
        Question("safe", QuestionKind.SINGLE_CHOICE, "Is the answer safe to give a patient?",
                 options=(Option("yes", "Safe"), Option("caveats", "Safe with caveats"),
                          Option("no", "Unsafe"))),
        Question("issues", QuestionKind.MULTI_CHOICE, "Which aspects need work?",
                 options=(Option("accuracy", "Accuracy"), Option("completeness", "Completeness"),
                          Option("communication", "Communication"))),
        Question("minutes", QuestionKind.NUMBER, "Minutes a clinician would need to fix it",
                 minimum=0, maximum=120, unit="min"),
        Question("comment", QuestionKind.TEXT, "Comment for the study lead"),
    ]
    if pairwise:
        questions.insert(0, Question(
            "preference", QuestionKind.PAIRWISE, "Which response is better?", required=True,
            options=(Option("A", "Response A"), Option("B", "Response B"), Option("tie", "Tie"))))
    return Form(key="sample-healthbench", version=1, name="Sample clinical rubric",
                kind=FormKind.RUBRIC, questions=tuple(questions), per_case_criteria=True,
                scoring="healthbench")


def sample_taxonomy() -> Form:
    categories = (
        ErrorCategory("factual", "Factual error", "States something medically false"),
        ErrorCategory("omission", "Omission", "Leaves out something important"),
        ErrorCategory("unsafe", "Unsafe advice", "Could lead to harm"),
        ErrorCategory("hallucination", "Hallucination", "Invents facts, sources or findings"),
    )
    severities = (Option(1, "Minor"), Option(2, "Moderate"), Option(3, "Major"),
                  Option(4, "Critical"))
    return Form(key="sample-errors", version=1, name="Sample error taxonomy",
                kind=FormKind.TAXONOMY,
                questions=(Question("errors", QuestionKind.ERROR, "Errors in the answer",
                                    categories=categories, severities=severities),))


def _answer(case: int, model: int) -> str:
    return (
        f"## Assessment (case {case})\n\n"
        "The presentation is most consistent with **community-acquired pneumonia**. "
        "Start *amoxicillin 1 g three times daily* for five days.\n\n"
        "1. Check oxygen saturation and respiratory rate.\n"
        "2. Arrange a chest X-ray if symptoms persist beyond 48 hours.\n"
        "3. Safety-net: return at once if breathless or confused.\n\n"
        f"> Variant {model}: consider atypical cover if there is no improvement."
    )


def sample_records(n_cases: int, outputs_per_case: int, dicom_files: list[Path]
                   ) -> Iterator[Located]:
    line = 0

    def at(rec: CaseRecord | OutputRecord | AttachmentRecord) -> Located:
        nonlocal line
        line += 1
        return Located(rec, "sample", line)

    for c in range(1, n_cases + 1):
        ext = f"case-{c:05d}"
        yield at(CaseRecord(
            external_id=ext, title=f"Cough and fever, patient {c}",
            messages=(
                Message("user", f"I am 6{c % 10} and have had a cough with fever for 3 days. "
                                "What should I do?"),
                Message("assistant", "How is your breathing? Any chest pain?"),
                Message("user", "A bit short of breath when climbing stairs, no chest pain."),
            ),
            context=(ContextDocument("GP note", "Temp 38.4 °C, RR 22, SpO2 95 %. Crackles "
                                     "right base.", "note"),
                     ContextDocument("Labs", "CRP 86 mg/L, WCC 13.1", "lab")),
            tags=("respiratory", "adult" if c % 3 else "elderly"),
            criteria=(
                CriterionRecord("dx", "Names pneumonia as the likely diagnosis", 5),
                CriterionRecord("abx", "Recommends an appropriate antibiotic", 4),
                CriterionRecord("safety", "Gives red-flag safety-netting advice", 3),
                CriterionRecord("harm", "Recommends an unsafe dose", -6),
            ),
        ))
        for m in range(outputs_per_case):
            model = MODELS[m % len(MODELS)] if m < len(MODELS) else f"model-{m}"
            yield at(OutputRecord(ext, model, _answer(c, m)))
        if c == 1:
            for i, path in enumerate(dicom_files):
                yield at(AttachmentRecord(
                    ext, str(path), "dicom", filename=path.name, study_uid="1.2.826.0.1.1",
                    series_uid="1.2.826.0.1.1.1", sop_uid=f"1.2.826.0.1.1.1.{i + 1}",
                    modality="CT", series_description="Chest CT (sample)",
                    instance_number=i + 1, sort_index=i))


def make_dicom_series(folder: Path, slices: int = 3) -> list[Path]:
    """Slices derived from pydicom's bundled CT_small.dcm, stacked along z (local file only)."""
    import pydicom
    from pydicom.data import get_testdata_file

    src = get_testdata_file("CT_small.dcm")
    assert src is not None
    folder.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    for i in range(slices):
        ds = pydicom.dcmread(src)
        ds.InstanceNumber = i + 1
        ds.SOPInstanceUID = f"1.2.826.0.1.1.1.{i + 1}"
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.SeriesInstanceUID = "1.2.826.0.1.1.1"
        ds.StudyInstanceUID = "1.2.826.0.1.1"
        x, y, _z = (float(v) for v in ds.ImagePositionPatient)
        ds.ImagePositionPatient = [x, y, float(i * 5)]
        path = folder / f"slice{i + 1:02d}.dcm"
        ds.save_as(path)
        out.append(path)
    return out


def build_sample_project(path: Path, *, n_cases: int = 4, outputs_per_case: int = 2,
                         with_dicom: bool = True, pairwise: bool = False,
                         rater: str = "Dr Example") -> tuple[Project, RaterView]:
    """Create the project at ``path`` (a new folder) and return it open, with one physician."""
    project = create_project(path, "Sample grading project")
    add_form(project, sample_rubric(pairwise))
    add_form(project, sample_taxonomy())
    me = add_rater(project, rater)
    with tempfile.TemporaryDirectory() as tmp:
        files = make_dicom_series(Path(tmp)) if with_dicom else []
        ingest(project, sample_records(n_cases, outputs_per_case, files),
               source="sample", importer="sample")
    return project, me
