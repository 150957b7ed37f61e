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
    # Radiopaedia "Windowing (CT)" gives subdural W 130-300 / L 50-100; 215/75 sits inside it
    # and is the value many PACS ship (blood against the inner table of the skull).
    WindowPreset("Subdural", 75.0, 215.0),
    # "Stroke window" W 40 / L 40: Turner & Holdsworth, Br J Radiol 2011;84:1061 (PMC3473839);
    # Lev et al., Radiology 1999;213:150 used a similar narrow window (W 8 / L 32 start).
    WindowPreset("Stroke", 40.0, 40.0),
    # Temporal bone W 4000 / L 700: Radiopaedia "Windowing (CT)" (also W 2800 / L 600).
    WindowPreset("Temporal bone", 700.0, 4000.0),
)

PRESETS: dict[str, tuple[WindowPreset, ...]] = {"CT": _CT}


def presets_for(modality: str) -> tuple[WindowPreset, ...]:
    """Presets for a modality code ("CT", "MR", ...); empty when none apply."""
    return PRESETS.get(modality.strip().upper(), ())
