"""medreview: physician review of medical AI answers.

The package root imports nothing heavy so that `medreview --help` starts fast.
"""

__version__ = "0.1.0"
