"""Multi-rater study screens: assignment, adjudication, and rater packages (open, return, merge)."""
