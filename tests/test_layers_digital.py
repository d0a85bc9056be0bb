"""Digital work of a traced model: counted per module (workloads.digital_work), charged by the cost."""
from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

import pimtrain
from pimtrain.cost.digital_layers import (BACKWARD_MAC_FACTOR, BACKWARD_OPS_FACTOR, DEFAULT_ALU,
                                          UPDATE_OPS_PER_PARAM)
from pimtrain.nn.zoo import SelfAttention
from pimtrain.workloads import from_module
from pimtrain.workloads.digital_work import OPS_PER_ELEMENT, DigitalWork


def _work(model, shape, **kw):
    return {w.name: w for w in from_module(model, shape, **kw).digital_work}


def test_attention_products_are_counted_exactly():
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2, batch_first=True)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = mha

        def forward(self, x):
            return self.attn(x, x, x)[0]

    steps, dim = 5, 8
    w = _work(Net(), (steps, dim))["attn.scores"]
    assert w.macs == 2 * steps * steps * dim  # QKᵀ and softmax·V over all heads
    assert w.ops == 6 * 2 * steps * steps  # scale + softmax per score and head
    # the zoo's attention (a user module's own pim_digital work): MACs from torch's FLOP formulas
    own = _work(nn.Sequential(SelfAttention(dim, 4)), (steps, dim))["0"]
    assert own.macs == 2 * steps * steps * dim and own.ops > 0


def test_kinds_follow_their_rule_and_recurrent_gates_are_counted():
    model = nn.Sequential(nn.Linear(6, 4), nn.LayerNorm(4), nn.ReLU(), nn.Unflatten(1, (2, 2)),
                          nn.LSTM(2, 3, batch_first=True), )
    work = _work(nn.Sequential(*list(model)[:4]), (6,))
    assert work["1"].ops == OPS_PER_ELEMENT["normalisation"][0] * 4 and work["1"].params == 8
    assert work["2"].ops == 4 and work["3"].ops == 0 and work["3"].elements_out == 4

    class Rec(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.GRU(2, 3, num_layers=2, batch_first=True)

        def forward(self, x):
            return self.rnn(x)[0]

    assert _work(Rec(), (7, 2))["rnn.gates"].ops == 11 * 3 * 7 * 2
    pool = _work(nn.Sequential(nn.Conv1d(1, 2, 3, padding=1), nn.MaxPool1d(4)), (1, 16))["1"]
    assert pool.ops == 2 * 16  # one compare per input element


def test_kept_digital_modules_are_counted_by_their_aten_calls():
    net = nn.Sequential(nn.Linear(4, 5), nn.RNN(5, 3), nn.Linear(3, 2))

    class Wrap(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.rnn, self.b = net[0], net[1], net[2]

        def forward(self, x):
            return self.b(self.rnn(self.a(x))[0])

    w = _work(Wrap(), (6, 4), digital=["rnn"])["rnn"]
    assert w.macs == 6 * (5 * 3 + 3 * 3)  # input and recurrent products per step
    assert w.params == sum(p.numel() for p in net[1].parameters())


def test_the_cost_charges_forward_backward_and_update_of_the_digital_work():
    model = nn.Sequential(nn.Linear(6, 4), nn.LayerNorm(4), nn.Linear(4, 2))
    wl = from_module(model, (6,))
    norm = {w.name: w for w in wl.digital_work}["1"]
    bare = dataclasses.replace(wl, digital_work=())
    for design in ("marinella2018-analog", "panther-sgd", "isaac"):
        costs = {}
        for inference in (True, False):
            for batch in (1, 4):
                full = pimtrain.evaluate(design, wl, batch_size=batch, inference=inference)
                costs[inference, batch] = full.layer["1"]["energy_j"]
                assert full.energy_j > pimtrain.evaluate(design, bare, batch_size=batch, inference=inference).energy_j
        # training costs more than inference; ops grow with the batch (the update of γ, β does not)
        assert costs[False, 1] > costs[True, 1] > 0
        assert costs[True, 4] == pytest.approx(4 * costs[True, 1], rel=1e-6, abs=0)
    rep = pimtrain.evaluate("isaac", wl)
    assert DEFAULT_ALU in rep.component and rep.component[DEFAULT_ALU]["energy_j"] > 0
    assert "activation" in [c for c in pimtrain.evaluate("marinella2018-analog", wl).component]
    # the operation counts the ALU is charged for: forward, backward, update
    ops = norm.ops * (1 + BACKWARD_OPS_FACTOR) + UPDATE_OPS_PER_PARAM * norm.params
    # against the same workload with no digital work (the engine's per-layer activation assumption off in both)
    none = dataclasses.replace(wl, digital_work=(DigitalWork("none", "-"),))
    alu = pimtrain.evaluate("marinella2018-analog", wl).component["activation"]["kernel"]["digital"]
    alu_none = pimtrain.evaluate("marinella2018-analog", none).component["activation"]["kernel"]["digital"]
    assert alu - alu_none == pytest.approx(ops * 0.26e-12 * _node_scale(), rel=1e-9, abs=0)
    # with no digital work traced the engine assumes an activation on every layer's outputs instead (forward and
    # derivative: 2 ops per output of the two layers), never both
    alu_bare = pimtrain.evaluate("marinella2018-analog", bare).component["activation"]["kernel"]["digital"]
    assert alu_bare - alu_none == pytest.approx(2 * (4 + 2) * 0.26e-12 * _node_scale(), rel=1e-9, abs=0)
    assert BACKWARD_MAC_FACTOR == 2.0


def _node_scale():
    from pimtrain.cost.scaling import energy_scale
    from pimtrain.design import load_design

    d = load_design("marinella2018-analog")
    return energy_scale(d.technology.node_nm, 32.0, d.technology.vdd)
