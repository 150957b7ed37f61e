"""The judge dialog's own style sheet (object names and dynamic properties set by its widgets).

Status colours are the tones of ``qt/status.py`` (solid for the run's state badge, translucent
tints for message boxes), so the judge screens colour a state like every other screen; the
rest are palette roles, so the light and dark themes both work.
"""

from __future__ import annotations

from medreview.qt.status import TONES, tone_color


def _tint(tone: str, alpha: float) -> str:
    c = tone_color(tone)
    return f"rgba({c.red()}, {c.green()}, {c.blue()}, {alpha:.2f})"


_QSS = """
QLabel#dialogTitle {{ font-size: 15pt; font-weight: 700; }}
QLabel#dialogSubtitle, QLabel#runDetail, QLabel#tileCaption, QLabel#estimate,
QLabel#resumeEstimate {{ color: {muted}; }}
QLabel#sectionTitle {{ font-weight: 700; padding-top: 4px; }}
QLabel#runHeading {{ font-size: 12pt; font-weight: 600; }}
QLabel#runState {{ border-radius: 9px; padding: 2px 10px; font-weight: 600; color: white; }}
QLabel#runState[level="running"] {{ background: {active}; }}
QLabel#runState[level="ok"] {{ background: {ok}; }}
QLabel#runState[level="warn"] {{ background: {warn}; }}
QLabel#runState[level="error"] {{ background: {error}; }}
QFrame#tile {{ border: 1px solid rgba(127, 135, 145, 0.35); border-radius: 6px;
              background: palette(base); }}
QFrame#tile[alert="true"] {{ border: 1px solid {error}; }}
QLabel#tileValue[alert="true"] {{ color: {error}; }}
QLabel#tileValue {{ font-size: 14pt; font-weight: 700; }}
QLabel#runMessage {{ border-radius: 6px; padding: 8px 10px; }}
QLabel#runMessage[level="ok"] {{ background: {ok_10}; border: 1px solid {ok_45}; }}
QLabel#runMessage[level="warn"] {{ background: {warn_12}; border: 1px solid {warn_55}; }}
QLabel#runMessage[level="error"] {{ background: {error_10};
                                   border: 1px solid {error_55}; }}
QFrame#consentBox {{ border-radius: 6px; }}
QFrame#consentBox[level="local"] {{ background: {ok_08}; border: 1px solid {ok_40}; }}
QFrame#consentBox[level="remote"] {{ background: {warn_08};
                                    border: 1px solid {warn_45}; }}
QFrame#consentBox[level="warn"] {{ background: {warn_14}; border: 1px solid {warn_70}; }}
QFrame#consentBox[level="error"] {{ background: {error_10}; border: 2px solid {error}; }}
QLabel#consentTitle {{ font-weight: 700; }}
QLabel#keyStatus[state="ok"] {{ color: {ok}; }}
QLabel#keyStatus[state="bad"] {{ color: {error}; }}
QLabel#keyStatus[state="info"] {{ color: {muted}; }}
QPushButton#primary {{ background: #2f6fd0; color: white; border: 1px solid #2458a8;
                      border-radius: 4px; padding: 5px 18px; font-weight: 600; }}
QPushButton#primary:hover {{ background: #2a63bb; }}
QPushButton#primary:disabled {{ background: #a9bfe4; border-color: #a9bfe4; }}
QGroupBox {{ font-weight: 600; }}
QLabel#placeholder, QLabel#consentNote {{ color: {muted}; }}
QCheckBox#consentCheck {{ font-weight: 600; }}
QLineEdit:disabled, QComboBox:disabled, QSpinBox:disabled, QDoubleSpinBox:disabled,
QCheckBox:disabled, QPushButton:disabled {{ color: #9aa0a8; }}
QGroupBox QLabel, QGroupBox QCheckBox, QGroupBox QLineEdit, QGroupBox QComboBox,
QGroupBox QSpinBox, QGroupBox QDoubleSpinBox, QGroupBox QPushButton {{ font-weight: normal; }}
"""

# Tints by tone and opacity, named tone_percent in the sheet above.
_TINTS = {f"{tone}_{round(alpha * 100):02d}": _tint(tone, alpha)
          for tone in ("ok", "warn", "error")
          for alpha in (0.08, 0.10, 0.12, 0.14, 0.40, 0.45, 0.55, 0.70)}
DIALOG_QSS = _QSS.format(**TONES, **_TINTS)
