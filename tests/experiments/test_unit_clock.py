"""A unit's clock (wall and CPU seconds over its sessions) survives a kill mid-run: a unit killed at
the end of a session and resumed in the next reports the time of both sessions, not only the last."""
import json
import signal
import subprocess
import sys
import time

from edgefer.experiments.units import _Clock

_BUSY = """
import sys, time
from pathlib import Path
from edgefer.experiments.units import _Clock
clock = _Clock(Path(sys.argv[1]))
clock.tick(0.1)
while True:  # a unit at work, until killed
    sum(i * i for i in range(10_000))
"""


def test_a_killed_units_time_is_kept_for_its_resume(tmp_path):
    run = tmp_path / "unit"
    run.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", _BUSY, str(run)])
    saved = run / "time.json"
    deadline = time.time() + 120
    while time.time() < deadline:  # ticks every 0.1 s; wait for one second of work on record
        if saved.exists() and json.loads(saved.read_text())["wall_seconds"] >= 1.0:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = json.loads(saved.read_text())
    assert before["sessions"] == 1 and before["wall_seconds"] >= 1.0 and before["cpu_seconds"] > 0

    clock = _Clock(run)  # the resume: the next session's runner
    clock.tick(0.05)
    time.sleep(0.2)
    clock.stop()
    total = clock.save()
    assert total["sessions"] == 2
    assert total["wall_seconds"] >= before["wall_seconds"] + 0.2
    assert total["cpu_seconds"] >= before["cpu_seconds"]
    assert not clock._stop  # stopped: no thread writes after the unit's last save
    time.sleep(0.2)
    assert json.loads(saved.read_text()) == total
