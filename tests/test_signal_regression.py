"""Guard for the PySide6 pin: 6.12.0 on Python 3.11 aborts (``bool_dealloc``) after a few
thousand signal emissions, i.e. after scrolling about 2,000 slices. The process must survive
20,000 emissions of the kinds the viewer uses (int, bool, object payloads)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    from PySide6.QtCore import QCoreApplication, QObject, Signal

    class Emitter(QObject):
        sig_slice = Signal(int)
        sig_flag = Signal(bool)
        sig_payload = Signal(object)

    app = QCoreApplication([])
    e = Emitter()
    seen = [0, 0, 0]

    def on_slice(i):
        seen[0] += 1

    def on_flag(b):
        seen[1] += 1

    def on_payload(d):
        seen[2] += 1

    e.sig_slice.connect(on_slice)
    e.sig_flag.connect(on_flag)
    e.sig_payload.connect(on_payload)
    for i in range(20000):
        e.sig_slice.emit(i)
        e.sig_flag.emit(i % 2 == 0)
        e.sig_payload.emit({"i": i})
    print(seen)
    """
)


def test_twenty_thousand_signal_emissions_do_not_abort() -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300, env=env
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[20000, 20000, 20000]"
