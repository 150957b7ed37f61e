"""The public agreement functions in one place (implementations live in small modules).

chance.py: percent agreement, Fleiss, Gwet AC1/AC2, Brennan-Prediger; cohen.py: Cohen's
kappa and PABAK; conger.py: Conger's and Light's kappa; alpha.py: Krippendorff's alpha;
icc.py: Shrout-Fleiss ICCs (ANOVA, listwise); icc_reml.py: ICCs from REML variance components
with missing ratings.
"""

from __future__ import annotations

from medreview.stats.alpha import krippendorff_alpha
from medreview.stats.chance import brennan_prediger, fleiss_kappa, gwet_ac, percent_agreement
from medreview.stats.cohen import cohen_kappa, pabak
from medreview.stats.conger import conger_kappa, light_kappa
from medreview.stats.icc import icc
from medreview.stats.icc_reml import icc_reml

__all__ = ["brennan_prediger", "cohen_kappa", "conger_kappa", "fleiss_kappa", "gwet_ac", "icc",
           "icc_reml", "krippendorff_alpha", "light_kappa", "pabak", "percent_agreement"]
