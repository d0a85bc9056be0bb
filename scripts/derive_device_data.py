"""Regenerate the data that ships in ``pimtrain/data`` from CrossSim's raw files.

    python scripts/derive_device_data.py /path/to/cross-sim-data      # the folder holding crosssim/

Writes (see ``pimtrain/data/README.md``):

* ``pimtrain/data/digits.npz`` — the UCI 8×8 digits split of CrossSim (``small_digits``), 3,823 train /
  1,797 test, pixels 0..16 and labels as uint8, exactly as in the CSV files;
* ``pimtrain/data/devices/taox_<N>.npz`` (N = 1..8) and ``enode.npz`` — each measured ΔG-vs-G table
  reduced to ``NQ`` quantiles of the update response per conductance bin (the conductance bins are the
  table's own), float32: enough for inverse-CDF sampling (``pimtrain.devices.lookup``).

The reduction is the same function the lookup device applies to a raw table given by path
(:func:`pimtrain.devices.lookup.quantile_table`), so a packaged table and its raw file give the same device.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pimtrain.devices.lookup import NQ, quantile_table, read_table  # noqa: E402 - after the path set-up

OUT = ROOT / "pimtrain" / "data"


def _digits(src: Path) -> None:
    parts = {}
    for split in ("train", "test"):
        table = np.loadtxt(src / "crosssim" / "small_digits" / f"image_digit_small.{split}", delimiter=",", dtype=np.int64)
        x, y = table[:, :-1], table[:, -1]
        assert x.min() >= 0 and x.max() <= 16 and y.min() >= 0 and y.max() <= 9
        parts[f"{split}_x"], parts[f"{split}_y"] = x.astype(np.uint8), y.astype(np.uint8)
    np.savez_compressed(OUT / "digits.npz", **parts)
    print(f"digits.npz: {len(parts['train_y'])} train / {len(parts['test_y'])} test")


def _device(folder: Path, name: str, source: str) -> None:
    arrays = {}
    for kind in ("increasing", "decreasing"):
        path = next(p for p in (folder / f"dG_{kind}.txt", folder / f"dG_{kind}.txt.gz") if p.is_file())
        q = quantile_table(read_table(path))
        arrays[f"{kind}_g_bins"] = q.g_bins.astype(np.float32)
        arrays[f"{kind}_quantiles"] = q.dq.astype(np.float32)
        arrays["probs"] = q.probs.astype(np.float32)
    arrays["source"] = np.array(source)
    np.savez_compressed(OUT / "devices" / f"{name}.npz", **arrays)
    print(f"devices/{name}.npz: {arrays['increasing_quantiles'].shape[1]} / {arrays['decreasing_quantiles'].shape[1]} bins x {NQ} quantiles")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    src = Path(argv[0])
    if not (src / "crosssim").is_dir():
        print(f"error: {src} has no crosssim/ folder", file=sys.stderr)
        return 2
    (OUT / "devices").mkdir(parents=True, exist_ok=True)
    _digits(src)
    for n in range(1, 9):
        _device(src / "crosssim" / "TaOx_all" / str(n), f"taox_{n}",
                f"sandialabs/cross-sim-data TaOx_all/{n}/dG_*.txt.gz (BSD-3-Clause)")
    _device(src / "crosssim" / "ENODe", "enode", "sandialabs/cross-sim-data ENODe/dG_*.txt (BSD-3-Clause)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
