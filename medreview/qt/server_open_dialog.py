"""Project → Open server project…: the URL a study lead sent, a password, TLS options.

The dialog stays open while the window connects (``set_busy``); a refusal comes back as one
line under the fields (``show_error``), the fields kept, so a mistyped password is fixed in
place. The password field's text goes to the driver and, only if "remember" is ticked and the
project opened, to the OS keyring; it is cleared once the dialog is done.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from medreview.errors import MedreviewError
from medreview.qt.status import set_tone
from medreview.services.server_projects import SSL_MODES, ServerLogin, clean_url, with_tls

HELP = ("The project URL your study lead sent, e.g. "
        "postgresql://stroke_study_dr_okafor@db.hospital.example:5432/stroke_study "
        "(`medreview team add-rater` prints it).")


class ServerOpenDialog(QDialog):
    sig_open = Signal(object)
    """A ``ServerLogin`` to try (the dialog stays open until ``accept`` or ``show_error``)."""

    def __init__(self, parent: QWidget | None = None, url: str = "", error: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Open a server project")
        self.setMinimumWidth(620)
        intro = QLabel(HELP)
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.PlainText)
        self.url = QLineEdit(url)
        self.url.setPlaceholderText("postgresql://login@host:5432/database")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("empty: from the system keyring, PGPASSWORD or .pgpass")
        self.remember = QCheckBox("&Remember the password in the system keyring")
        self.sslmode = QComboBox()
        for mode in SSL_MODES:
            self.sslmode.addItem(mode or "as in the URL (libpq: prefer)", mode)
        self.ca = QLineEdit()
        self.ca.setPlaceholderText("the hospital's CA certificate (.pem), for verify-ca/-full")
        self.ca_browse = QPushButton("&Browse…")
        self.ca_browse.clicked.connect(self._browse_ca)
        ca_row = QHBoxLayout()
        ca_row.addWidget(self.ca, 1)
        ca_row.addWidget(self.ca_browse)
        self.read_only = QCheckBox("Open read-&only (browse, statistics, export)")
        form = QFormLayout()
        form.addRow("Project &URL:", self.url)
        form.addRow("&Password:", self.password)
        form.addRow("", self.remember)
        form.addRow("&TLS mode:", self.sslmode)
        ca_label = QLabel("&CA certificate:")
        ca_label.setBuddy(self.ca)  # a row of a layout gets no buddy from addRow: Alt+C
        form.addRow(ca_label, ca_row)
        form.addRow("", self.read_only)
        self.error = QLabel(error)
        self.error.setObjectName("serverOpenError")
        self.error.setTextFormat(Qt.TextFormat.PlainText)  # it may quote what a server said
        self.error.setWordWrap(True)
        set_tone(self.error, "error")
        self.error.setVisible(bool(error))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._submit)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addLayout(form)
        lay.addWidget(self.error)
        lay.addWidget(self.buttons)
        (self.password if url else self.url).setFocus()
        self.finished.connect(lambda _r: self.password.clear())

    def _browse_ca(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "CA certificate", "",
                                              "Certificates (*.pem *.crt);;All files (*)")
        if path:
            self.ca.setText(path)

    def login(self) -> ServerLogin:
        """What the fields say (``MedreviewError`` with one line if the URL is not one)."""
        from medreview.services.server_projects import is_server_url

        url = clean_url(self.url.text())
        if not url:
            raise MedreviewError("enter the project URL your study lead sent")
        if not is_server_url(url):
            raise MedreviewError("not a server project URL; expected "
                                 "postgresql://login@host:port/database")
        url = with_tls(url, str(self.sslmode.currentData() or ""), self.ca.text().strip())
        return ServerLogin(url=url, password=self.password.text() or None,
                           remember=self.remember.isChecked(),
                           read_only=self.read_only.isChecked())

    def _submit(self) -> None:
        try:
            login = self.login()
        except MedreviewError as exc:
            self.show_error(exc.message)
            return
        self.set_busy(True)
        self.sig_open.emit(login)

    def set_busy(self, busy: bool) -> None:
        """Connecting: the fields wait (Cancel stays: the window drops a late answer)."""
        for w in (self.url, self.password, self.remember, self.sslmode, self.ca, self.ca_browse,
                  self.read_only):
            w.setEnabled(not busy)
        open_button = self.buttons.button(QDialogButtonBox.StandardButton.Open)
        open_button.setEnabled(not busy)
        if busy:
            set_tone(self.error, None)
            self.error.setText("Connecting…")
            self.error.setVisible(True)

    def show_error(self, line: str) -> None:
        self.set_busy(False)
        set_tone(self.error, "error")
        self.error.setText(line)
        self.error.setVisible(True)
