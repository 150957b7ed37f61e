"""Statistics screens: the agreement dashboard and the judge calibration view."""
