"""JudgeSettingsForm: endpoint, API key source, prompt template and sampling of a judge run.

The form only holds choices; it never holds an API key. It says where a key was found (the
dialog looks that up off the UI thread, keyring first as the run itself does) and builds the
``JudgeConfig`` a run uses.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from medreview.judge.config import DEFAULT_KEY_ENV, KEYRING_SERVICE, JudgeConfig
from medreview.judge.privacy import (
    endpoint_host,
    endpoint_problem,
    is_local_without_lookup,
    public_url,
)
from medreview.judge.templates import STYLES
from medreview.qt.judge.text import STYLE_LABELS
from medreview.services.judging import JudgeRunInfo

DEFAULT_URL = "http://127.0.0.1:11434/v1"  # Ollama's OpenAI-compatible endpoint
KEY_ENV, KEY_RING = "env", "keyring"


def _spin(lo: int, hi: int, value: int, *, special: str = "", tip: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setValue(value)
    if special:
        box.setSpecialValueText(special)  # shown at the minimum
    box.setToolTip(tip)
    box.setAccelerated(True)
    return box


def _dspin(lo: float, hi: float, value: float, step: float, decimals: int, *,
           suffix: str = "", tip: str = "") -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(lo, hi)
    box.setDecimals(decimals)
    box.setSingleStep(step)
    box.setValue(value)
    box.setSuffix(suffix)
    box.setToolTip(tip)
    return box


def _is_http_url(text: str) -> bool:
    parts = urlsplit(text)
    return (parts.scheme in ("http", "https") and bool(parts.hostname)
            and not any(c.isspace() for c in text))


class JudgeSettingsForm(QWidget):
    sig_changed = Signal()
    """Any choice that changes what a run would do (for the estimate)."""
    sig_endpoint_changed = Signal()
    """The URL or the key source changed: look the key up again, re-check consent."""
    sig_store_key = Signal()
    """The user asked to save a key in the OS keyring."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._recorded_locked = False

        # Endpoint ------------------------------------------------------------------------
        self.url = QLineEdit(DEFAULT_URL)
        self.url.setPlaceholderText("https://api.openai.com/v1  or  http://127.0.0.1:8000/v1")
        self.url.setToolTip("Base URL of any OpenAI-compatible endpoint (OpenAI, Azure, vLLM, "
                            "Ollama, llama.cpp, LM Studio).")
        self.model = QLineEdit()
        self.model.setPlaceholderText("e.g. gpt-4o-mini or llama3.1:8b")
        self.key_source = QComboBox()
        self.key_source.addItem("Environment variable", KEY_ENV)
        self.key_source.addItem("OS keyring", KEY_RING)
        self.key_env = QLineEdit(DEFAULT_KEY_ENV)
        self.key_env.setToolTip("Name of the environment variable that holds the key. "
                                "The key itself is never shown or saved in the project.")
        self.store_key = QPushButton("Store key…")
        self.store_key.setToolTip(f"Save a key for this endpoint's host in the OS keyring "
                                  f"(service {KEYRING_SERVICE!r}); it never enters the project.")
        self.key_status = QLabel()
        self.key_status.setObjectName("keyStatus")
        self.key_status.setWordWrap(True)
        key_row = QHBoxLayout()
        key_row.setContentsMargins(0, 0, 0, 0)
        key_row.addWidget(self.key_source)
        key_row.addWidget(self.key_env, 1)
        key_row.addWidget(self.store_key)
        endpoint = QGroupBox("Endpoint")
        ef = QFormLayout(endpoint)
        ef.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        ef.addRow("Base URL", self.url)
        ef.addRow("Model", self.model)
        ef.addRow("API key", key_row)
        ef.addRow("", self.key_status)

        # Prompt and sampling -------------------------------------------------------------
        self.template = QComboBox()
        for key in STYLES:
            self.template.addItem(STYLE_LABELS.get(key, key), key)
        self.template.setToolTip("Prompt template. Automatic picks HealthBench for per-case "
                              "criteria, MedVAL for error questions and Form for scales.")
        self.temperature = _dspin(0.0, 2.0, 0.0, 0.1, 2,
                                  tip="0 = the most likely reply; > 0 for self-consistency")
        self.max_tokens = _spin(16, 65536, 1024, tip="upper bound on each reply")
        self.seed = _spin(-1, 2**31 - 1, -1, special="none",
                          tip="opt-in: sent only when set (a server that refuses it gets "
                              "the run without it)")
        self.samples = _spin(1, 20, 1, tip="> 1: ask several times, majority answer, agreement "
                                            "as confidence (use a temperature > 0)")
        self.images = QCheckBox("Send case images (PNG, JPEG, WebP, GIF) — vision models only")
        self.images.setToolTip("DICOM series are never sent.")
        sampling = QGroupBox("Prompt and sampling")
        sg = QGridLayout(sampling)
        sg.addWidget(QLabel("Template"), 0, 0)
        sg.addWidget(self.template, 0, 1, 1, 3)
        for i, (label, box) in enumerate((("Temperature", self.temperature),
                                          ("Max tokens", self.max_tokens),
                                          ("Seed", self.seed), ("Samples", self.samples))):
            sg.addWidget(QLabel(label), 1 + i // 2, (i % 2) * 2)
            sg.addWidget(box, 1 + i // 2, (i % 2) * 2 + 1)
        sg.addWidget(self.images, 3, 0, 1, 4)
        sg.setColumnStretch(1, 1)
        sg.setColumnStretch(3, 1)

        # Execution -----------------------------------------------------------------------
        self.concurrency = _spin(1, 64, 4, tip="requests in flight at once")
        self.limit = _spin(0, 10_000_000, 0, special="all outputs",
                           tip="judge only the first N outputs (queue order)")
        self.timeout = _spin(5, 900, 60, tip="seconds per request before it is retried")
        self.timeout.setSuffix(" s")
        self.price_in = _dspin(0.0, 1000.0, 0.0, 0.05, 3, suffix=" $",
                               tip="USD per million prompt tokens, for the cost estimate")
        self.price_out = _dspin(0.0, 1000.0, 0.0, 0.05, 3, suffix=" $",
                                tip="USD per million completion tokens, for the cost estimate")
        execution = QGroupBox("Execution and cost")
        xg = QGridLayout(execution)
        cells: tuple[tuple[str, QWidget], ...] = (
            ("Concurrency", self.concurrency), ("Limit", self.limit),
            ("Timeout", self.timeout), ("", QWidget()),
            ("Price in / 1M", self.price_in), ("Price out / 1M", self.price_out))
        for i, (label, widget) in enumerate(cells):
            xg.addWidget(QLabel(label), i // 2, (i % 2) * 2)
            xg.addWidget(widget, i // 2, (i % 2) * 2 + 1)
        xg.setColumnStretch(1, 1)
        xg.setColumnStretch(3, 1)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(endpoint)
        self._after_endpoint = 1
        lay.addWidget(sampling)
        lay.addWidget(execution)
        lay.addStretch(1)
        self._layout = lay

        self.key_source.currentIndexChanged.connect(self._on_key_source)
        self.store_key.clicked.connect(self.sig_store_key)
        for edit in (self.url, self.key_env):
            edit.textChanged.connect(self.sig_endpoint_changed)
        self.key_source.currentIndexChanged.connect(self.sig_endpoint_changed)
        for edit in (self.url, self.model):
            edit.textChanged.connect(self.sig_changed)
        self.template.currentIndexChanged.connect(self.sig_changed)
        self.images.toggled.connect(self.sig_changed)
        for spin in (self.max_tokens, self.seed, self.samples, self.limit):
            spin.valueChanged.connect(self.sig_changed)
        for dspin in (self.temperature, self.price_in, self.price_out):
            dspin.valueChanged.connect(self.sig_changed)
        self._on_key_source()

    def add_endpoint_note(self, widget: QWidget) -> None:
        """Show ``widget`` right under the endpoint group (the dialog's privacy box)."""
        self._layout.insertWidget(self._after_endpoint, widget)

    # reading -----------------------------------------------------------------------------
    def base_url(self) -> str:
        return self.url.text().strip()

    def env_var(self) -> str:
        return self.key_env.text().strip() or DEFAULT_KEY_ENV

    def chosen_style(self) -> str:
        return str(self.template.currentData())

    def chosen_limit(self) -> int | None:
        return self.limit.value() or None

    def problems(self) -> list[str]:
        """What must be fixed before a run can start (empty when ready)."""
        out = []
        if not self.base_url():
            out.append("enter the endpoint's base URL")
        elif not _is_http_url(self.base_url()):
            out.append(f"{public_url(self.base_url())!r} is not a URL "
                       "(e.g. http://127.0.0.1:8000/v1)")
        elif (problem := endpoint_problem(self.base_url(), env_var=self.env_var())) is not None:
            out.append(problem)  # a key in the URL: never shown back, never sent
        if not self.model.text().strip():
            out.append("enter the model name the endpoint expects")
        return out

    def config(self) -> JudgeConfig:
        return JudgeConfig(
            base_url=self.base_url(), model=self.model.text().strip(), api_key_env=self.env_var(),
            temperature=round(self.temperature.value(), 2), max_tokens=self.max_tokens.value(),
            seed=None if self.seed.value() < 0 else self.seed.value(),
            n_samples=self.samples.value(), images=self.images.isChecked(),
            concurrency=self.concurrency.value(), timeout_s=float(self.timeout.value()),
            price_prompt_per_mtok=self.price_in.value(),
            price_completion_per_mtok=self.price_out.value())

    def is_local(self) -> bool:
        return is_local_without_lookup(self.base_url())  # no DNS on the UI thread

    # writing -----------------------------------------------------------------------------
    def set_key_status(self, source: str | None) -> None:
        """Say where the run will find its key (``"keyring"``, ``"env"`` or ``None``)."""
        host = endpoint_host(self.base_url()) or "this endpoint"
        if source == KEY_RING:
            text, state = f"✓ A key for {host} is in the OS keyring (used first).", "ok"
        elif source == KEY_ENV:
            text, state = f"✓ A key is set in ${self.env_var()}.", "ok"
        elif self.is_local():
            text, state = "No key found — a local endpoint usually needs none.", "info"
        elif self.key_source.currentData() == KEY_RING:
            text, state = (f"✗ No key for {host} in the OS keyring: use “Store key…”.", "bad")
        else:
            text, state = f"✗ No key: set the environment variable {self.env_var()}.", "bad"
        self.key_status.setText(text)
        self.key_status.setProperty("state", state)
        self.key_status.style().unpolish(self.key_status)
        self.key_status.style().polish(self.key_status)

    def load_run(self, info: JudgeRunInfo) -> None:
        """Show an earlier run's endpoint, model, template and recorded parameters."""
        if public_url(self.base_url()) != info.base_url:
            self.url.setText(info.base_url)
        self.model.setText(info.model)
        idx = self.template.findData(info.template_key)
        if idx >= 0:
            self.template.setCurrentIndex(idx)
        p = info.params
        self.temperature.setValue(float(p.get("temperature") or 0.0))
        self.max_tokens.setValue(int(p.get("max_tokens") or 1024))
        seed = p.get("seed")
        self.seed.setValue(-1 if seed is None else int(seed))
        self.samples.setValue(int(p.get("n_samples", 1)))
        self.images.setChecked(bool(p.get("images", info.images)))
        self.limit.setValue(info.limit or 0)

    def prefill(self, info: JudgeRunInfo) -> None:
        """Start from the newest run's endpoint and model when nothing was typed yet."""
        if not self.model.text().strip():
            if public_url(self.base_url()) != info.base_url:
                self.url.setText(info.base_url)
            self.model.setText(info.model)

    def set_editable(self, on: bool) -> None:
        for w in self.findChildren(QWidget):
            if isinstance(w, (QLineEdit, QComboBox, QSpinBox, QDoubleSpinBox, QCheckBox,
                              QPushButton)):
                w.setEnabled(on)
        if on:
            self._on_key_source()

    def _on_key_source(self) -> None:
        ring = self.key_source.currentData() == KEY_RING
        self.key_env.setVisible(not ring)
        self.store_key.setVisible(ring)
        self.key_source.setToolTip(
            "The run looks in the OS keyring first (entry for the endpoint's host), then in the "
            "environment variable." if ring else
            "The run reads the key from this environment variable (an OS keyring entry for the "
            "endpoint's host, if any, takes precedence).")

    def focus_first_problem(self) -> None:
        target = self.url if not self.base_url() else self.model
        target.setFocus(Qt.FocusReason.OtherFocusReason)
