"""Corner text over the image: patient (hideable), series, slice/window, value under cursor."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from medreview.imaging.frames import DecodedFrame
from medreview.imaging.pipeline import Window

_STYLE = "color: #e8e8e8; background: rgba(0,0,0,90); padding: 2px; font-size: 11px;"


def format_value(
    frame: DecodedFrame, row: int, col: int, value: float | tuple[int, ...] | None
) -> str:
    """'x, y: value unit' for the pixel under the cursor."""
    where = f"x {col}, y {row}"
    if value is None:
        return f"{where}: padding"
    if isinstance(value, tuple):
        return f"{where}: RGB {value}"
    unit = frame.info.units
    number = f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"
    return f"{where}: {number} {unit}".rstrip()


class Overlay:
    """Four QLabels parented to the graphics view, transparent to the mouse."""

    def __init__(self, host: QWidget, *, hide_patient: bool = False) -> None:
        self.host = host
        self.hide_patient = hide_patient
        self.labels = {}
        for corner in ("tl", "tr", "bl", "br"):
            label = QLabel(host)
            label.setStyleSheet(_STYLE)
            label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            label.setTextFormat(Qt.TextFormat.PlainText)
            self.labels[corner] = label
        self._patient = ""
        self._error = ""

    def update_from(
        self,
        frame: DecodedFrame | None,
        *,
        title: str,
        index: int,
        count: int,
        window: Window | None,
        loading: bool,
        inverted: bool,
        target: int | None = None,
    ) -> None:
        """``index`` is the slice on screen; ``target``, when another, the one being loaded
        (the label never gives the image on screen another slice's number)."""
        self._error = ""
        info = frame.info if frame is not None else None
        if info is not None:
            self._patient = "\n".join(
                x
                for x in (info.patient_name.replace("^", " "), info.patient_id, info.study_date)
                if x
            )
        elif count == 0:
            self._patient = ""
        self._set("tl", "" if self.hide_patient else self._patient)
        top_right = [title] if title else []
        if info is not None:
            # The caller's title often names modality and series already ("CT · Head …").
            top_right += [x for x in (info.modality, info.series_description)
                          if x and x not in title]
        self._set("tr", "\n".join(dict.fromkeys(top_right)))
        lines = [f"Slice {index + 1}/{count}" if count else "No images"]
        if window is not None and not (frame is not None and frame.is_colour):
            lines.append(f"W {window.width:.0f}  L {window.center:.0f}")
        if inverted:
            lines.append("Inverted")
        if frame is not None and frame.is_reduced:
            lines.append(f"Preview 1/{frame.scale}")
        if loading:
            lines.append("Loading…" if target is None or target == index
                         else f"Loading slice {target + 1}…")
        self._set("bl", "\n".join(lines))

    def set_cursor(self, text: str) -> None:
        self._set("br", text)

    def set_error(self, reason: str) -> None:
        self._error = reason
        self._set("br", f"Cannot display: {reason}")

    def text(self) -> str:
        return "\n".join(self.labels[c].text() for c in ("tl", "tr", "bl", "br"))

    def _set(self, corner: str, text: str) -> None:
        label = self.labels[corner]
        label.setText(text)
        label.setVisible(bool(text))
        label.adjustSize()
        self.place()

    def place(self) -> None:
        w, h, m = self.host.width(), self.host.height(), 4
        tl, tr, bl, br = (self.labels[c] for c in ("tl", "tr", "bl", "br"))
        tl.move(m, m)
        tr.move(max(w - tr.width() - m, m), m)
        bl.move(m, max(h - bl.height() - m, m))
        br.move(max(w - br.width() - m, m), max(h - br.height() - m, m))
