"""PCM device: one-sided gradual SET; on a differential pair both devices climb with use."""
from __future__ import annotations

import torch

from pimtrain.design.models import Design, DeviceSpec
from pimtrain.devices import Request, make_device
from pimtrain.xbar import make_core


def dev(**kw):
    spec = DeviceSpec.model_validate({"model": "pcm", "dw_min": 0.01, **kw})
    return make_device(spec, (4, 3), torch.Generator().manual_seed(0))


def test_set_only_and_steps_shrink_towards_the_top():
    d = dev(nonlinearity=1.0)
    c = torch.tensor([[-0.4, 0.0, 0.4]] * 4)
    up = d.step(c.clone(), Request(r=torch.full((4, 3), 0.01)))
    down = d.step(c.clone(), Request(r=torch.full((4, 3), -0.01)))
    assert torch.equal(down, c)  # no gradual RESET
    steps = (up - c)[0]
    assert torch.allclose(steps[1], torch.tensor(0.01))  # mid-range moves by the request (normalised as soft bounds)
    assert steps[0] > steps[1] > steps[2] > 0  # SET steps shrink as the cell approaches g_max


def test_write_noise_only_on_set_cells():
    d = dev(write_noise=0.5)
    c = torch.zeros(4, 3)
    r = torch.tensor([[0.01, -0.01, 0.0]] * 4)
    out = d.step(c.clone(), Request(r=r))
    assert torch.equal(out[:, 1:], c[:, 1:]) and not torch.equal(out[:, 0], torch.full((4,), 0.01))


def test_differential_pair_moves_both_ways_but_both_devices_climb():
    design = Design.model_validate({"name": "p", "compute": "analog", "array": {"w_max": 1.0},
                                    "device": {"model": "pcm", "dw_min": 0.001, "nonlinearity": 0.5},
                                    "update": {"rule": "accumulate"}})
    core = make_core(torch.zeros(1, 1), design)
    x = torch.ones(1, 1)
    core.opu(x, torch.full((1, 1), -1.0), 0.05)  # weight up: G+ SET
    w_up = float(core.get_weight())
    core.opu(x, torch.full((1, 1), 1.0), 0.05)  # weight down: G- SET
    w_down = float(core.get_weight())
    assert w_up > 0.0 and w_down < w_up
    g0 = core.c.clone()
    for _ in range(200):  # alternating updates: the weight stays put, both conductances rise (why pairs need refresh)
        core.opu(x, torch.full((1, 1), -1.0), 0.05)
        core.opu(x, torch.full((1, 1), 1.0), 0.05)
    assert bool((core.c > g0 + 0.1).all())
    assert abs(float(core.get_weight())) < 0.1
