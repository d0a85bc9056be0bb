"""The batch epoch driver (pimtrain/nn/batch_epoch.py): the module path's minibatch step without autograd."""
from __future__ import annotations


import pytest
import torch

from pimtrain.bench import bench_design
from pimtrain.nn.batch_epoch import BatchMlpEpoch
from pimtrain.nn.convert import analog_layers
from pimtrain.nn.fast_epoch import epoch_driver
from pimtrain.nn.models import cnn, mlp
from pimtrain.nn.trainer import setup_analog

from _data import small_digits


pytestmark = pytest.mark.usefixtures("fast_path_default")


@pytest.fixture(scope="module")
def digits():
    return small_digits(150)


def _design(rule="accumulate", model="soft_bounds", noise=False):
    d = bench_design(rule)
    d.device.model = model
    if not noise:
        d.device.read_noise = d.device.write_noise = d.device.d2d_variation = 0.0
    else:
        d.device.write_noise, d.device.d2d_variation = 0.1, 0.1
    return d


def _session(design, data, module: bool, act="sigmoid", batch=32, model=None, seed=0):
    s = setup_analog(design, data, model=model or (lambda: mlp([64, 16, 10], activation=act)), batch_size=batch,
                     lr=0.05, seed=seed)
    if module:
        s._fast_epoch = None  # the module path: autograd, core.vmm / mvm / opu
    return s


def _state(s):
    layers = analog_layers(s.model)
    return ([layer.core.get_weight().clone() for layer in layers],
            [{k: v for k, v in layer.core.counters.values.items()} for layer in layers])


@pytest.mark.parametrize("rule,model,act,noise", [("accumulate", "soft_bounds", "sigmoid", False),
                                                  ("accumulate", "linear_step", "relu", False),
                                                  ("serial", "soft_bounds", "tanh", False),
                                                  ("outer_product", "soft_bounds", "sigmoid", False),
                                                  ("accumulate", "soft_bounds", "sigmoid", True),
                                                  ("outer_product", "soft_bounds", "relu", True)])
def test_same_numbers_as_the_module_path(digits, rule, model, act, noise):
    """The driver calls the cores as the module path does, with the same tensors in the same order: losses,
    weights and counters are identical, with noise off and with noise on (same seed, same streams)."""
    design = _design(rule, model, noise)
    a = _session(design, digits, module=True, act=act)
    b = _session(design, digits, module=False, act=act)
    assert isinstance(epoch_driver(b), BatchMlpEpoch)
    for _ in range(2):
        la, lb = a.run_epoch(), b.run_epoch()
        assert torch.equal(la, lb)
    wa, ca = _state(a)
    wb, cb = _state(b)
    assert all(torch.equal(x, y) for x, y in zip(wa, wb))
    assert ca == cb
    assert a.evaluate() == b.evaluate()


def test_deterministic_per_seed_and_seed_matters(digits):
    design = _design(noise=True)
    runs = [_session(design, digits, module=False, seed=s) for s in (3, 3, 4)]
    losses = [r.run_epoch() for r in runs]
    assert torch.equal(losses[0], losses[1])
    assert not torch.equal(losses[0], losses[2])


def test_falls_back_for_other_models_and_when_off(digits, monkeypatch):
    s = _session(_design(), digits, module=False, model=lambda: cnn((1, 8, 8), 10))
    assert epoch_driver(s) is None
    s.run_epoch()  # the module path trains it
    monkeypatch.setenv("PIMTRAIN_FAST_EPOCH", "0")
    assert epoch_driver(_session(_design(), digits, module=False)) is None
