"""The command line: bad input is one line on stderr with exit code 2; JSON follows the contracts."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pimtrain.cli import app

runner = CliRunner()


def run(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def one_line_error(code, out, err, *needles):
    assert code == 2, (code, out, err)
    assert "Traceback" not in err and "Traceback" not in out
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    for n in needles:
        assert n in lines[0], (n, lines[0])


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    "yaml_text,needles",
    [
        ("name: x\narray:\n  rowz: 4\n", ["array.rowz", "unknown field", "rows"]),
        ("name: x\narray:\n  rows: lots\n", ["array.rows", "integer"]),
        ("name: x\nio:\n  forward:\n    adc_bits: -4\n", ["io.forward.adc_bits", "greater than or equal to 1"]),
        ("name: x\nupdate:\n  pulse:\n    row_bits: -1\n", ["update.pulse.row_bits"]),
        ("name: x\ndevice:\n  g_min: 5 uS\n  g_max: 1 uS\n", ["g_min must be below g_max"]),
        ("name: x\ndevice:\n  model: lookup_table\n  lookup:\n    paths: [no/such/table]\n", ["device.lookup.paths.0", "not found"]),
    ],
)
def test_bad_design_files(tmp_path, yaml_text, needles):
    path = write(tmp_path, "bad.yaml", yaml_text)
    one_line_error(*run("train", "--design", path, "--dataset", "digits", "--epochs", 1), "bad.yaml", *needles)


def test_unknown_design_and_dataset():
    one_line_error(*run("train", "--design", "nosuch"), "unknown preset", "ideal")
    one_line_error(*run("train", "--design", "ideal", "--dataset", "cifar1000"), "cifar1000", "digits")


def test_bad_lr():
    one_line_error(*run("train", "--design", "ideal", "--lr", "-1"), "--lr")


def test_designs_json_contract():
    code, out, err = run("designs", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert {r["name"] for r in rows} >= {"ideal", "marinella2018-analog"}
    for r in rows:
        assert set(r) >= {"name", "description", "area_m2", "peak_power_w", "peak_ops_per_s"}


def test_console_script_exit_code_is_2_without_traceback():
    exe = Path(sys.executable).parent / "pimtrain"
    if not exe.exists():
        pytest.skip("pimtrain console script not installed in this environment")
    proc = subprocess.run([str(exe), "train", "--design", "nosuch"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def _strip_seconds(obj):
    if isinstance(obj, dict):
        return {k: _strip_seconds(v) for k, v in obj.items() if k != "seconds"}
    if isinstance(obj, list):
        return [_strip_seconds(v) for v in obj]
    return obj


def test_train_json_contract_and_same_seed_same_output():
    args = ("train", "--design", "marinella2018-analog", "--dataset", "digits", "--epochs", 1, "--seed", 3, "--json")
    code, out1, err = run(*args)
    assert code == 0, err
    code, out2, err = run(*args)
    assert code == 0, err
    a, b = json.loads(out1), json.loads(out2)
    assert set(a) >= {"design", "dataset", "epochs", "final_test_accuracy", "cost"}
    assert set(a["epochs"][0]) >= {"epoch", "train_loss", "test_accuracy", "seconds"}
    # Everything but the wall-clock 'seconds' is bit-identical between the two runs.
    assert _strip_seconds(a) == _strip_seconds(b)
    c = json.loads(run(*args[:-3], "--seed", 4, "--json")[1])
    assert _strip_seconds(c) != _strip_seconds(a)


def test_output_file_is_written_atomically(tmp_path):
    target = tmp_path / "r.json"
    target.write_text('{"old": true}')
    code, out, err = run("train", "--design", "nosuch", "--output", target)
    assert code == 2
    assert json.loads(target.read_text()) == {"old": True}


def test_train_plot_writes_a_png(tmp_path):
    target = tmp_path / "curves.png"
    code, out, err = run("train", "--design", "ideal", "--dataset", "digits", "--epochs", 2, "--plot", target)
    assert code == 0, err
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
