"""reflow_text joins hard-wrapped lines of real-looking notes and keeps the structure."""

from __future__ import annotations

from medreview.domain.display_text import visible_text
from medreview.domain.reflow import reflow_text

DISCHARGE = """DISCHARGE SUMMARY

History of present illness:
67-year-old man with a history of hypertension and type 2 diabetes
presented with two hours of crushing central chest pain radiating to
the left arm, with diaphoresis and nausea. ECG showed ST elevation in
leads II, III and aVF.

Medications on discharge:
- Aspirin 75 mg once daily
- Ticagrelor 90 mg twice daily, to continue for
  twelve months
* Atorvastatin 80 mg at night
\u2022 Ramipril 2.5 mg once daily
1. Cardiac rehabilitation referral
2) Review in clinic in six weeks

BP: 128/76
HR: 72, regular
Plan: continue dual antiplatelet therapy and titrate ramipril as renal
function allows."""


def test_wrapped_paragraph_becomes_one_line() -> None:
    out = reflow_text(DISCHARGE)
    assert ("67-year-old man with a history of hypertension and type 2 diabetes presented "
            "with two hours of crushing central chest pain radiating to the left arm, with "
            "diaphoresis and nausea. ECG showed ST elevation in leads II, III and aVF.") in out
    assert "Plan: continue dual antiplatelet therapy and titrate ramipril as renal function " \
           "allows." in out


def test_headings_lists_and_labels_keep_their_own_lines() -> None:
    lines = reflow_text(DISCHARGE).split("\n")
    for kept in ("DISCHARGE SUMMARY", "History of present illness:", "Medications on discharge:",
                 "- Aspirin 75 mg once daily",
                 "- Ticagrelor 90 mg twice daily, to continue for twelve months",
                 "* Atorvastatin 80 mg at night", "\u2022 Ramipril 2.5 mg once daily",
                 "1. Cardiac rehabilitation referral", "2) Review in clinic in six weeks",
                 "BP: 128/76", "HR: 72, regular"):
        assert kept in lines, kept


def test_blank_lines_separate_paragraphs_once() -> None:
    out = reflow_text("First para\nwrapped here.\n\n\n\nSecond para\r\nwrapped too.")
    assert out == "First para wrapped here.\n\nSecond para wrapped too."


def test_short_sentence_end_keeps_its_break() -> None:
    text = ("The patient was reviewed on the ward round this morning and is\n"
            "comfortable.\n"
            "Observations are stable and the wound is clean and dry with no\n"
            "erythema.")
    assert reflow_text(text) == (
        "The patient was reviewed on the ward round this morning and is comfortable.\n"
        "Observations are stable and the wound is clean and dry with no erythema.")


def test_tables_stay_as_written() -> None:
    text = "Labs:\n| Na | 139 |\n| K | 4.1 |"
    assert reflow_text(text) == text


def test_no_visible_character_is_lost() -> None:
    out = reflow_text(DISCHARGE)
    assert "".join(out.split()) == "".join(DISCHARGE.split())


def test_hidden_characters_still_marked_after_reflow() -> None:
    out = visible_text(reflow_text("Give 1 mg\nadrenaline\u202e now\u200b."))
    assert out == "Give 1 mg adrenaline⟦U+202E⟧ now⟦U+200B⟧."


def test_empty_and_single_line() -> None:
    assert reflow_text("") == ""
    assert reflow_text("\n\n") == ""
    assert reflow_text("one line") == "one line"
