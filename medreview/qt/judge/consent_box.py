"""ConsentBox: where the case data goes, and the project's recorded consent for remote use.

A local endpoint (localhost, 127.0.0.0/8, ::1) keeps everything on this machine. For any other
endpoint the project must hold recorded consent (``services.projects.set_consent``) before a
run starts; the box warns and offers to record it, and the run refuses to start otherwise.
"""

from __future__ import annotations

import getpass

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QFrame, QLabel, QVBoxLayout, QWidget

from medreview.judge.privacy import endpoint_host, is_local_without_lookup
from medreview.qt.judge.text import when
from medreview.services.judging import ConsentState


def default_consenter() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (some containers): still record something honest
        return "app user"


class ConsentBox(QFrame):
    sig_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("consentBox")
        self.state: ConsentState | None = None
        self.base_url = ""
        self.images = False
        self.title = QLabel()
        self.title.setObjectName("consentTitle")
        self.body = QLabel()
        self.body.setWordWrap(True)
        self.check = QCheckBox("Record consent for this project")
        self.check.setObjectName("consentCheck")
        self.check.toggled.connect(self.sig_changed)
        self.check_note = QLabel()
        self.check_note.setObjectName("consentNote")
        self.check_note.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 8, 12, 10)
        lay.setSpacing(4)
        lay.addWidget(self.title)
        lay.addWidget(self.body)
        lay.addWidget(self.check)
        lay.addWidget(self.check_note)
        self._render()

    def set_endpoint(self, base_url: str, images: bool) -> None:
        self.base_url, self.images = base_url, images
        self._render()

    def set_state(self, state: ConsentState) -> None:
        self.state = state
        self._render()

    def is_local(self) -> bool:
        return is_local_without_lookup(self.base_url)  # no DNS on the UI thread

    def recorded(self) -> bool:
        return self.state is not None and self.state.data_may_leave

    def needs_recording(self) -> bool:
        """Remote endpoint, no consent in the project yet."""
        return bool(self.base_url) and not self.is_local() and not self.recorded()

    def ready(self) -> bool:
        """May a run start as far as privacy goes (consent checked when it is still needed)?"""
        return not self.needs_recording() or self.check.isChecked()

    def show_refusal(self) -> None:
        self.setProperty("level", "error")
        self._repolish()

    def _render(self) -> None:
        host = endpoint_host(self.base_url) or "the endpoint"
        what = ("case text, answers and images" if self.images else "case text and answers")
        self.check.setVisible(False)
        self.check_note.setVisible(False)
        if not self.base_url or self.is_local():
            self.title.setText("Local endpoint — nothing leaves this machine")
            self.body.setText(f"Requests go to {host} on this computer.")
            level = "local"
        elif self.recorded():
            assert self.state is not None
            self.title.setText(f"Remote endpoint — data will be sent to {host}")
            self.body.setText(
                f"The {what} are sent to {host}. Consent to send case data off this machine "
                f"was recorded by {self.state.by or 'unknown'} on {when(self.state.at)}.")
            level = "remote"
        else:
            self.title.setText("Remote endpoint — data would leave this machine")
            self.body.setText(
                f"The {what} would be sent to {host}. This project has no recorded consent "
                "for that. Only continue if your data-protection approval covers sending "
                "these cases to this provider.")
            self.check_note.setText(f"Saved in the project as given by {default_consenter()}, "
                                    "with the time; it covers remote endpoints for this "
                                    "project's judge runs.")
            self.check.setVisible(True)
            self.check_note.setVisible(True)
            level = "warn"
        self.setProperty("level", level)
        self._repolish()

    def _repolish(self) -> None:
        self.style().unpolish(self)
        self.style().polish(self)
