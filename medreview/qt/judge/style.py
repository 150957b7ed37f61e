"""The judge dialog's own style sheet (object names and dynamic properties set by its widgets).

Colours are either palette roles or translucent tints, so the light and dark themes both work.
"""

from __future__ import annotations

DIALOG_QSS = """
QLabel#dialogTitle { font-size: 15pt; font-weight: 700; }
QLabel#dialogSubtitle, QLabel#runDetail, QLabel#tileCaption, QLabel#estimate,
QLabel#resumeEstimate { color: #7a7f87; }
QLabel#sectionTitle { font-weight: 700; padding-top: 4px; }
QLabel#runHeading { font-size: 12pt; font-weight: 600; }
QLabel#runState { border-radius: 9px; padding: 2px 10px; font-weight: 600; color: white; }
QLabel#runState[level="running"] { background: #2f6fd0; }
QLabel#runState[level="ok"] { background: #1c7c3c; }
QLabel#runState[level="warn"] { background: #b26a00; }
QLabel#runState[level="error"] { background: #b3261e; }
QFrame#tile { border: 1px solid rgba(127, 135, 145, 0.35); border-radius: 6px;
              background: palette(base); }
QFrame#tile[alert="true"] { border: 1px solid #b3261e; }
QLabel#tileValue[alert="true"] { color: #b3261e; }
QLabel#tileValue { font-size: 14pt; font-weight: 700; }
QLabel#runMessage { border-radius: 6px; padding: 8px 10px; }
QLabel#runMessage[level="ok"] { background: rgba(28, 124, 60, 0.10);
                                border: 1px solid rgba(28, 124, 60, 0.45); }
QLabel#runMessage[level="warn"] { background: rgba(217, 130, 43, 0.12);
                                  border: 1px solid rgba(217, 130, 43, 0.55); }
QLabel#runMessage[level="error"] { background: rgba(179, 38, 30, 0.10);
                                   border: 1px solid rgba(179, 38, 30, 0.55); }
QFrame#consentBox { border-radius: 6px; }
QFrame#consentBox[level="local"] { background: rgba(28, 124, 60, 0.08);
                                   border: 1px solid rgba(28, 124, 60, 0.40); }
QFrame#consentBox[level="remote"] { background: rgba(217, 130, 43, 0.08);
                                    border: 1px solid rgba(217, 130, 43, 0.45); }
QFrame#consentBox[level="warn"] { background: rgba(217, 130, 43, 0.14);
                                  border: 1px solid rgba(217, 130, 43, 0.70); }
QFrame#consentBox[level="error"] { background: rgba(179, 38, 30, 0.10);
                                   border: 2px solid #b3261e; }
QLabel#consentTitle { font-weight: 700; }
QLabel#keyStatus[state="ok"] { color: #1c7c3c; }
QLabel#keyStatus[state="bad"] { color: #b3261e; }
QLabel#keyStatus[state="info"] { color: #7a7f87; }
QPushButton#primary { background: #2f6fd0; color: white; border: 1px solid #2458a8;
                      border-radius: 4px; padding: 5px 18px; font-weight: 600; }
QPushButton#primary:hover { background: #2a63bb; }
QPushButton#primary:disabled { background: #a9bfe4; border-color: #a9bfe4; }
QGroupBox { font-weight: 600; }
QLabel#placeholder, QLabel#consentNote { color: #7a7f87; }
QCheckBox#consentCheck { font-weight: 600; }
QLineEdit:disabled, QComboBox:disabled, QSpinBox:disabled, QDoubleSpinBox:disabled,
QCheckBox:disabled, QPushButton:disabled { color: #9aa0a8; }
QGroupBox QLabel, QGroupBox QCheckBox, QGroupBox QLineEdit, QGroupBox QComboBox,
QGroupBox QSpinBox, QGroupBox QDoubleSpinBox, QGroupBox QPushButton { font-weight: normal; }
"""
