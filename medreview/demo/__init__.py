"""The bundled demo project: synthetic cases, model answers, DICOM images and simulated ratings."""

from medreview.demo.build import build_demo_project

__all__ = ["build_demo_project"]
