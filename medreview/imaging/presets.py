"""Window (center/width) presets per modality, in modality units (HU for CT).

Values follow the common radiology conventions (OHIF/Weasis defaults). Preset 0 in the viewer
is always the file's own window; these are 1..n.
"""

from __future__ import annotations

from dataclasses import dataclass

from medreview.imaging.pipeline import Window


@dataclass(frozen=True)
class WindowPreset:
    name: str
    center: float
    width: float

    @property
    def window(self) -> Window:
        return Window(self.center, self.width)


_CT = (
    WindowPreset("Brain", 40.0, 80.0),
    WindowPreset("Soft tissue / abdomen", 40.0, 400.0),
    WindowPreset("Lung", -600.0, 1500.0),
    WindowPreset("Bone", 480.0, 2500.0),
    WindowPreset("Liver", 90.0, 150.0),
    WindowPreset("Mediastinum", 50.0, 350.0),
)

PRESETS: dict[str, tuple[WindowPreset, ...]] = {"CT": _CT}


def presets_for(modality: str) -> tuple[WindowPreset, ...]:
    """Presets for a modality code ("CT", "MR", ...); empty when none apply."""
    return PRESETS.get(modality.strip().upper(), ())
