"""Project → Open server project… without a server: what the dialog makes of its fields, and
an unreachable host refused in one line inside it (a real connection attempt to a closed port
on 127.0.0.1). Opening real server projects: tests/postgres/test_app_server_project.py."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialogButtonBox, QLineEdit

from medreview.qt.main_window import MainWindow
from medreview.qt.server_open_dialog import ServerOpenDialog
from medreview.qt.settings import UiSettings

URL = "postgresql://stroke_study_dr_a@db.hospital.example:5432/stroke_study"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_dialog_reads_a_pasted_url_a_password_and_tls_options(qtbot: object) -> None:
    dialog = ServerOpenDialog()
    qtbot.addWidget(dialog)  # type: ignore[attr-defined]
    assert dialog.password.echoMode() == QLineEdit.EchoMode.Password
    assert not dialog.remember.isChecked()  # kept in the keyring only when asked
    dialog.url.setText(f"  project:  {URL}  ")
    dialog.password.setText("pw-typed")
    dialog.sslmode.setCurrentIndex(dialog.sslmode.findData("verify-full"))
    dialog.ca.setText("/etc/ssl/hospital-ca.pem")
    login = dialog.login()
    assert login.url.startswith("postgresql") and "sslmode=verify-full" in login.url
    assert "hospital-ca.pem" in login.url and "pw-typed" not in login.url
    assert login.password == "pw-typed" and not login.remember and not login.read_only
    assert "pw-typed" not in repr(login)
    dialog.url.setText("/home/me/stroke-study")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Open).click()
    assert dialog.error.text().startswith("not a server project URL")
    dialog.reject()
    assert dialog.password.text() == ""  # not kept in the widget once the dialog is done


@pytest.mark.parametrize("how", ["dialog", "recent"])
def test_an_unreachable_server_is_one_line_in_the_dialog(
        qtbot: object, tmp_path: Path, how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring
    from keyring.backends.null import Keyring as NoKeyring

    monkeypatch.setenv("PGCONNECT_TIMEOUT", "5")
    monkeypatch.delenv("PGPASSWORD", raising=False)
    previous = keyring.get_keyring()
    keyring.set_keyring(NoKeyring())  # never the developer's own keyring
    try:
        _unreachable(qtbot, tmp_path, how)
    finally:
        keyring.set_keyring(previous)


def _unreachable(qtbot: object, tmp_path: Path, how: str) -> None:
    window = MainWindow(UiSettings(tmp_path / "qt.ini"))
    qtbot.addWidget(window)  # type: ignore[attr-defined]
    url = f"postgresql://dr_a@127.0.0.1:{_closed_port()}/stroke_study"
    if how == "dialog":
        dialog = window.open_server_dialog()
        dialog.url.setText(url)
        dialog.password.setText("Secret-pw-1")
        dialog.buttons.button(QDialogButtonBox.StandardButton.Open).click()
    else:  # the recent list or `medreview gui URL`: no password typed
        window.open_project(url)

    def refused() -> ServerOpenDialog | None:
        shown = [d for d in window.findChildren(ServerOpenDialog) if d.isVisible()
                 and d.error.isVisible() and d.error.text() != "Connecting…"]
        return shown[0] if shown else None

    qtbot.waitUntil(lambda: refused() is not None, timeout=20000)  # type: ignore[attr-defined]
    dialog = refused()
    assert dialog is not None
    line = dialog.error.text()
    assert "cannot open the database" in line and "\n" not in line, line
    assert "Secret-pw-1" not in line and "Traceback" not in line
    assert dialog.url.isEnabled() and window.project is None
    assert window.settings.recent_projects() == []  # only a project that opened is remembered
    dialog.reject()
