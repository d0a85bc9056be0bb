"""Killed runs never leave half a result: ``train --output`` and ``reproduce --plots`` (a fast variant of
the PANTHER sweep) killed by SIGTERM or SIGKILL at random moments around their writes.

After each kill every target is the old file or the new complete one; after SIGTERM no temp file is
left at all; after SIGKILL the next run that writes the same target removes the leftover.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pimtrain.design.io import TEMP_TAG, atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
OLD = "OLD CONTENT\n"
PNG_START, PNG_END = b"\x89PNG\r\n\x1a\n", b"IEND\xaeB`\x82"

# reproduce panther2020 --plots with the sweep cut to one slice configuration, one CRS interval, one epoch
FAST_REPRODUCE = """
import sys
import pimtrain.papers.panther_accuracy as pa
full = pa.sweep
pa.sweep = lambda epochs=2, **kw: full(epochs=1, configs=("44466555",), intervals=(64,))
from pimtrain.cli import main
sys.argv = ["pimtrain", "reproduce", "panther2020", "--plots", sys.argv[1], "--output", sys.argv[2], "--json"]
main()
"""


def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def _train_cmd(out: Path):
    return [sys.executable, "-m", "pimtrain.cli", "train", "-d", "ideal", "--epochs", "1", "--batch-size", "64",
            "--json", "--output", str(out)]


def _reproduce_cmd(folder: Path, out: Path):
    return [sys.executable, "-c", FAST_REPRODUCE, str(folder), str(out)]


def _complete(path: Path) -> bool:
    data = path.read_bytes()
    if data == OLD.encode():
        return True
    if path.suffix == ".png":
        return data.startswith(PNG_START) and data.endswith(PNG_END)
    try:
        json.loads(data)
    except ValueError:
        return False
    return True


def _temps(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if TEMP_TAG in p.name]


def _run(cmd, kill_after: float | None, sig) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    if kill_after is None:
        assert proc.wait(timeout=300) == 0
    else:
        try:
            proc.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            proc.send_signal(sig)
            proc.wait(timeout=60)
    return time.perf_counter() - start


def _kill_cycle(tmp_path, targets, cmd, n_kills, seed):
    rng = random.Random(seed)
    for t in targets:
        t.parent.mkdir(parents=True, exist_ok=True)
        t.write_text(OLD)
    duration = _run(cmd, None, None)  # an undisturbed run: how long it takes
    assert all(_complete(t) and t.read_bytes() != OLD.encode() for t in targets)
    for k in range(n_kills):
        sig = signal.SIGTERM if k % 2 == 0 else signal.SIGKILL
        for t in targets:
            t.write_text(OLD)
        _run(cmd, rng.uniform(0.6, 1.02) * duration, sig)
        for t in targets:
            assert _complete(t), f"{t.name} is half written after {sig.name}"
        folders = {t.parent for t in targets}
        if sig == signal.SIGTERM:
            assert not [p for f in folders for p in _temps(f)], "SIGTERM left temp files"
        for t in targets:  # the next run writing there
            atomic_write_text(t, OLD)
        assert not [p for f in folders for p in _temps(f)], "a SIGKILL leftover survived the next run"


def test_train_output_killed_is_old_or_new(tmp_path):
    out = tmp_path / "result.json"
    _kill_cycle(tmp_path, [out], _train_cmd(out), n_kills=2, seed=1)


@pytest.mark.slow
def test_train_output_killed_many_times(tmp_path):
    out = tmp_path / "result.json"
    _kill_cycle(tmp_path, [out], _train_cmd(out), n_kills=8, seed=2)


@pytest.mark.slow
def test_reproduce_plots_killed_is_old_or_new(tmp_path):
    folder, out = tmp_path / "figs", tmp_path / "reproduce.json"
    targets = [folder / "panther2020_fig10_slicing.png", folder / "panther2020_accuracy.json", out]
    _kill_cycle(tmp_path, targets, _reproduce_cmd(folder, out), n_kills=4, seed=3)


def test_sigkill_leftover_is_removed_by_the_next_write(tmp_path):
    """A temp file of a dead process beside the target goes; one of a live process stays."""
    target = tmp_path / "r.json"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".r.json{TEMP_TAG}{dead.pid}-abc.json"
    live = tmp_path / f".r.json{TEMP_TAG}{os.getppid()}-abc.json"
    stale.write_text("half")
    live.write_text("being written")
    atomic_write_text(target, "{}")
    assert not stale.exists() and live.exists() and target.read_text() == "{}"


def test_non_regular_and_read_only_targets(tmp_path):
    from pimtrain.design import PimtrainError
    from pimtrain.outputs import check_outputs

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    ro = tmp_path / "ro.json"
    ro.write_text("keep")
    ro.chmod(0o444)
    for path, words in ((fifo, "not a regular file"), (ro, "read-only"), (tmp_path, "folder")):
        with pytest.raises(PimtrainError, match=words):
            check_outputs(output=str(path))
    atomic_write_text("/dev/null", "x")  # a device is written in place, never replaced
    assert Path("/dev/null").is_char_device()
    assert ro.read_text() == "keep"


def test_several_outputs_are_all_or_none(tmp_path):
    from pimtrain.design.io import atomic_batch

    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(OLD)
    with pytest.raises(RuntimeError), atomic_batch():
        atomic_write_text(a, "new a")
        raise RuntimeError("the plot failed")
    assert a.read_text() == OLD and not _temps(tmp_path)
    with atomic_batch():
        atomic_write_text(a, "new a")
        atomic_write_text(b, "new b")
        assert a.read_text() == OLD  # nothing renamed before the batch ends
    assert a.read_text() == "new a" and b.read_text() == "new b" and not _temps(tmp_path)
