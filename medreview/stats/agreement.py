"""The public agreement functions in one place (implementations live in small modules).

chance.py: percent agreement, Fleiss, Gwet AC1/AC2, Brennan-Prediger; cohen.py: Cohen's
kappa and PABAK; alpha.py: Krippendorff's alpha; icc.py: Shrout-Fleiss ICCs.
"""

from __future__ import annotations

from medreview.stats.alpha import krippendorff_alpha
from medreview.stats.chance import brennan_prediger, fleiss_kappa, gwet_ac, percent_agreement
from medreview.stats.cohen import cohen_kappa, pabak
from medreview.stats.icc import icc

__all__ = ["brennan_prediger", "cohen_kappa", "fleiss_kappa", "gwet_ac", "icc",
           "krippendorff_alpha", "pabak", "percent_agreement"]
