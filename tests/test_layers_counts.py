"""With every non-ideality off, the kernels the REAL cores count equal the layer registry's counts."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from pimtrain.design import load_design
from pimtrain.nn import AnalogSGD, convert
from pimtrain.nn.layer_registry import SPECS, step_counts
from pimtrain.nn.layers import AnalogLayer
from pimtrain.workloads import from_module

from test_layers import CASES, _Encoder, _model, _Seq


class _Attention(nn.Module):
    """Self-attention on an embedded input (the projections' backward runs) and cross-attention on the raw input."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(4, 8)
        self.mha = nn.MultiheadAttention(8, 2, batch_first=True)
        self.cross = nn.MultiheadAttention(8, 2, kdim=8, vdim=8, batch_first=True)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        e = self.embed(x)
        a = self.mha(e, e, e)[0]
        raw = torch.cat([x, x], dim=-1)  # no gradient: k_proj / v_proj of the cross attention take none
        return self.head(self.cross(a, raw, raw)[0].mean(dim=1))


# (id, model factory, per-sample input shape): every module of the registry, one case at least
MODELS = [(c[0], (lambda f=c[1], s=c[2]: _model(f, s)), c[2]) for c in CASES] + [
    ("linear-conv2d", lambda: nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(12, 3)), (1, 4, 4)),
    ("lstm-2layers", lambda: _Seq(nn.LSTM, True, 2), (6, 4)),
    ("gru-2layers-nobias", lambda: _Seq(nn.GRU, True, 2, bias=False), (6, 4)),
    ("multihead-attention", _Attention, (5, 4)),
    ("transformer-encoder", _Encoder, (5, 8)),
]


def _designs():
    ideal = load_design("ideal")
    outer = ideal.model_copy(deep=True)
    outer.update.rule = "outer_product"
    return {"exact": ideal, "outer_product": outer}


def test_every_registry_module_is_covered():
    names = {type(m).__name__ for _, f, _ in MODELS for m in f().modules()}
    assert {s.name for s in SPECS} <= names


@pytest.mark.parametrize("rule", ["exact", "outer_product"])
@pytest.mark.parametrize("case", MODELS, ids=[c[0] for c in MODELS])
def test_real_cores_count_the_registry_kernels(case, rule):
    _, factory, shape = case
    design = _designs()[rule]
    torch.manual_seed(0)
    model = factory()
    wl = from_module(model, shape)  # the trace prepends the batch dimension (batch-first inputs)
    analog = convert(model, design, seed=0)
    batch = 3
    opt = AnalogSGD(analog, lr=0.01)
    out = analog(torch.randn(batch, *shape))
    nn.functional.cross_entropy(out, torch.randint(0, out.shape[-1], (batch,))).backward()
    opt.step()
    layers = {q: m for q, m in analog.named_modules() if isinstance(m, AnalogLayer)}
    expected = step_counts(wl, batch, design)
    assert sorted(expected) == sorted(layers)
    for name, want in expected.items():
        stats = layers[name].core.stats  # the real core's own counters
        got = {"forward": stats.get("vectors_forward", 0), "backward": stats.get("vectors_backward", 0),
               "update": stats.get("update_events", 0)}
        assert got == want, name
