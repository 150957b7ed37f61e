"""Small helpers shared by the judge dialog tests."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QLabel,
    QLineEdit,
    QProgressBar,
    QTableWidget,
    QWidget,
)

from medreview.qt.judge.run_dialog import JudgeRunDialog


def configure(dialog: JudgeRunDialog, url: str, *, model: str = "fake-judge",
              concurrency: int = 3, env: str = "") -> None:
    form = dialog.form
    form.url.setText(url)
    form.model.setText(model)
    form.concurrency.setValue(concurrency)
    if env:
        form.key_env.setText(env)


def all_text(root: QWidget) -> str:
    """Every string the dialog shows or could show: labels, fields, items, tool tips."""
    parts: list[str] = [root.windowTitle(), root.toolTip()]
    for w in [root, *root.findChildren(QWidget)]:
        parts.append(w.toolTip())
        if isinstance(w, QLabel):
            parts.append(w.text())
        elif isinstance(w, QLineEdit):
            parts += [w.text(), w.placeholderText()]
        elif isinstance(w, QAbstractButton):
            parts.append(w.text())
        elif isinstance(w, QComboBox):
            parts += [w.itemText(i) for i in range(w.count())]
        elif isinstance(w, QProgressBar):
            parts.append(w.text())
        if isinstance(w, QTableWidget):
            for r in range(w.rowCount()):
                for c in range(w.columnCount()):
                    item = w.item(r, c)
                    if item is not None:
                        parts += [item.text(), item.toolTip()]
    return "\n".join(parts)
