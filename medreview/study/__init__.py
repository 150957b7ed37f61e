"""Multi-rater studies: assignment, offline rater packages, merge, audit trail, adjudication.

Qt-free. The app reaches these through ``medreview.services.study``; the CLI through
``medreview assign|package|merge|adjudicate``.
"""
