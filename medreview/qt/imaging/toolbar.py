"""The viewer's button row: tools, presets, invert, fit, 1:1, hide patient details, cine,
maximise."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from medreview.imaging.presets import WindowPreset

_TOOLS = (("navigate", "Pan", "N"), ("window", "W/L", "W"), ("rect", "Rect", "R"),
          ("ellipse", "Ellipse", "E"), ("point", "Point", "P"), ("length", "Length", "L"),
          ("angle", "Angle", "A"), ("roi", "ROI", "D"))  # fmt: skip


class ViewerToolbar(QWidget):
    """Buttons never take focus, so viewer keys keep working after a click."""

    sig_tool = Signal(str)
    """The user picked a tool (one of ``view_box.TOOLS``)."""

    sig_preset = Signal(int)
    """Preset number: 0 = the file's window, 1..n = modality presets."""

    sig_invert = Signal(bool)
    """Invert toggled."""

    sig_fit = Signal()
    """Fit the image to the view."""

    sig_one_to_one = Signal()
    """One image pixel per screen pixel."""

    sig_hide_patient = Signal(bool)
    """Hide (True) or show patient details in the overlay."""

    sig_overlays = Signal(bool)
    """Show (True) or hide the DICOM overlay planes (60xx graphics) on the image."""

    sig_cine = Signal(bool)
    """Cine play (True) / pause."""

    sig_fps = Signal(int)
    """Cine speed changed (frames per second)."""

    sig_maximise = Signal()
    """Toggle the image pane filling its window."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # two rows (tools + presets, then display controls) so the pane stays narrow enough
        # to sit beside the answer text
        outer = QVBoxLayout(self)
        outer.setContentsMargins(2, 2, 2, 2)
        outer.setSpacing(2)
        row, row2 = QHBoxLayout(), QHBoxLayout()
        outer.addLayout(row)
        outer.addLayout(row2)
        self._tool_buttons: dict[str, QToolButton] = {}
        group = QButtonGroup(self)
        group.setExclusive(True)
        for name, label, key in _TOOLS:
            b = self._button(label, f"{label} tool ({key})", checkable=True)
            b.clicked.connect(lambda _=False, n=name: self.sig_tool.emit(n))
            group.addButton(b)
            self._tool_buttons[name] = b
            row.addWidget(b)
        self._tool_buttons["navigate"].setChecked(True)
        self.presets = QComboBox()
        self.presets.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.presets.setToolTip("Window presets (keys 0-9)")
        self.presets.activated.connect(self.sig_preset.emit)
        row.addWidget(self.presets)
        self.invert = self._button("Invert", "Invert grey levels (I)", checkable=True)
        self.invert.toggled.connect(self.sig_invert.emit)
        fit = self._button("Fit", "Fit to window (F)")
        fit.clicked.connect(self.sig_fit.emit)
        one = self._button("1:1", "One image pixel per screen pixel (O)")
        one.clicked.connect(self.sig_one_to_one.emit)
        self.hide_patient = self._button("Hide patient", "Hide patient details (H)",
                                         checkable=True)  # fmt: skip
        self.hide_patient.toggled.connect(self.sig_hide_patient.emit)
        self.overlays = self._button("Overlays", "Show the file's overlay graphics (V)",
                                     checkable=True)  # fmt: skip
        self.overlays.toggled.connect(self.sig_overlays.emit)
        self.overlays.setEnabled(False)
        self.cine = self._button("Play", "Cine play / pause (C)", checkable=True)
        self.cine.toggled.connect(self.sig_cine.emit)
        self.fps = QSpinBox()
        self.fps.setRange(1, 60)
        self.fps.setValue(10)
        self.fps.setSuffix(" fps")
        self.fps.setToolTip("Cine speed (frames per second)")
        self.fps.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.fps.valueChanged.connect(self.sig_fps.emit)
        maximise = self._button("Max", "Image pane fills the window / back (M)")
        maximise.clicked.connect(self.sig_maximise.emit)
        for w in (self.invert, fit, one, self.hide_patient, self.overlays, self.cine, self.fps,
                  maximise):
            row2.addWidget(w)
        row.addStretch(1)
        row2.addStretch(1)
        self.counter = QLabel("0 / 0")
        self.counter.setMinimumWidth(70)
        self.counter.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.set_presets(())

    def _button(self, text: str, tip: str, *, checkable: bool = False) -> QToolButton:
        b = QToolButton()
        b.setText(text)
        b.setToolTip(tip)
        b.setCheckable(checkable)
        b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        return b

    def set_presets(self, presets: Sequence[WindowPreset]) -> None:
        self.presets.blockSignals(True)
        self.presets.clear()
        self.presets.addItem("0  File window")
        for i, p in enumerate(presets, start=1):
            self.presets.addItem(f"{i}  {p.name} ({p.width:g}/{p.center:g})")
        self.presets.blockSignals(False)

    def set_tool(self, tool: str) -> None:
        self._tool_buttons[tool].setChecked(True)

    def set_inverted(self, on: bool) -> None:
        self.invert.blockSignals(True)
        self.invert.setChecked(on)
        self.invert.blockSignals(False)

    def set_playing(self, on: bool) -> None:
        self.cine.blockSignals(True)
        self.cine.setChecked(on)
        self.cine.setText("Pause" if on else "Play")
        self.cine.blockSignals(False)

    def set_overlays(self, on: bool, available: bool) -> None:
        self.overlays.blockSignals(True)
        self.overlays.setChecked(on)
        self.overlays.setEnabled(available)
        self.overlays.blockSignals(False)

    def set_hide_patient(self, on: bool) -> None:
        self.hide_patient.blockSignals(True)
        self.hide_patient.setChecked(on)
        self.hide_patient.blockSignals(False)
