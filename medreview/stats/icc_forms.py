"""The Shrout-Fleiss ICC forms and their names, shared by the ANOVA (``stats.icc``) and REML
(``stats.icc_reml``) estimators; a module of its own so neither imports the other's."""

from __future__ import annotations

from typing import Literal

Form = Literal["ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k"]

FORM_NAMES = {
    "ICC1": "ICC(1,1) one-way random, single rater",
    "ICC2": "ICC(2,1) = ICC(A,1) two-way random, absolute agreement, single rater",
    "ICC3": "ICC(3,1) = ICC(C,1) two-way mixed, consistency, single rater",
    "ICC1k": "ICC(1,k) one-way random, mean of k raters",
    "ICC2k": "ICC(2,k) = ICC(A,k) two-way random, absolute agreement, mean of k raters",
    "ICC3k": "ICC(3,k) = ICC(C,k) two-way mixed, consistency, mean of k raters",
}
