"""Datasets: names, sizes, scaling, splits, and the packaged digits when the shared data folder is absent."""
from __future__ import annotations

import pytest
import torch

from pimtrain.design import PimtrainError
from pimtrain.design.paths import shared_data_dir
from pimtrain.nn import datasets
from pimtrain.nn.datasets import DATASET_NAMES, load_dataset

SHARED = shared_data_dir()
needs_shared = pytest.mark.skipif(
    SHARED is None or not (SHARED / "crosssim").is_dir(),
    reason="needs the shared data folder (../shared/data or PIMTRAIN_DATA) with crosssim/",
)


def _check_tensors(data, n_features, n_classes):
    assert data.train_x.dtype == torch.float32 and data.test_x.dtype == torch.float32
    assert data.train_y.dtype == torch.int64 and data.test_y.dtype == torch.int64
    assert data.train_x.shape[1] == data.test_x.shape[1] == data.n_features == n_features
    assert data.n_classes == n_classes
    for x in (data.train_x, data.test_x):
        assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert set(data.train_y.unique().tolist()) == set(range(n_classes))


def test_digits_is_the_packaged_crosssim_split_without_shared_data(monkeypatch, tmp_path):
    monkeypatch.setenv("PIMTRAIN_DATA", str(tmp_path / "absent"))
    assert shared_data_dir() is None
    data = load_dataset("digits")
    assert (len(data.train_y), len(data.test_y)) == (3823, 1797)
    assert data.image_shape == (1, 8, 8)
    assert "CrossSim" in data.source and data.origin == "packaged"
    _check_tensors(data, 64, 10)
    # the test file of CrossSim's split is scikit-learn's load_digits, in the same order
    from sklearn.datasets import load_digits

    assert torch.equal(data.test_x, torch.tensor(load_digits().data / 16.0, dtype=torch.float32))


@needs_shared
def test_packaged_digits_equal_the_raw_crosssim_files():
    import numpy as np

    data = load_dataset("digits")
    for split, x, y in (("train", data.train_x, data.train_y), ("test", data.test_x, data.test_y)):
        raw = np.loadtxt(SHARED / "crosssim" / "small_digits" / f"image_digit_small.{split}", delimiter=",")
        assert torch.equal(x, torch.tensor(raw[:, :-1] / 16.0, dtype=torch.float32))
        assert torch.equal(y, torch.tensor(raw[:, -1], dtype=torch.int64))


def test_digits_sklearn_split_is_stratified_and_seeded():
    a, b, c = load_dataset("digits-sklearn"), load_dataset("digits-sklearn"), load_dataset("digits-sklearn", seed=1)
    assert (len(a.train_y), len(a.test_y)) == (1222, 575)
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.test_y, b.test_y)
    assert not torch.equal(a.train_x, c.train_x)
    counts = torch.bincount(a.test_y, minlength=10)
    assert int(counts.max() - counts.min()) <= 3
    _check_tensors(a, 64, 10)


def test_mnist5k_sizes_and_shapes():
    data = load_dataset("mnist5k")
    assert (len(data.train_y), len(data.test_y)) == (4000, 1000)
    assert data.image_shape == (1, 28, 28)
    assert torch.bincount(data.train_y).tolist() == [400] * 10  # stratified
    _check_tensors(data, 784, 10)


@needs_shared
def test_filetypes_is_a_stratified_split_of_the_only_file():
    data = load_dataset("filetypes")
    assert (len(data.train_y), len(data.test_y)) == (600, 300)
    assert data.image_shape is None
    assert "no train file" in data.source
    assert set(torch.bincount(data.test_y).tolist()) <= {33, 34}  # stratified: 100 per class in the file
    _check_tensors(data, 256, 9)


def test_filetypes_without_shared_data_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(datasets, "shared_data_dir", lambda: None)
    datasets._raw_filetypes.cache_clear()
    try:
        with pytest.raises(PimtrainError, match="shared data") as info:
            load_dataset("filetypes")
    finally:
        datasets._raw_filetypes.cache_clear()
    assert "\n" not in str(info.value)


def test_unknown_dataset_names_the_allowed_ones():
    with pytest.raises(PimtrainError) as info:
        load_dataset("cifar10")
    message = str(info.value)
    assert "cifar10" in message and "\n" not in message
    for name in DATASET_NAMES:
        assert name in message


def test_dataset_moves_to_a_device():
    data = load_dataset("digits-sklearn").to("cpu")
    assert data.train_x.device.type == "cpu"
    assert "digits-sklearn" in repr(data)
