"""The layer registry: every supported module trains on cores like float, and convert and the cost agree."""
from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

import pimtrain
from pimtrain.design import PimtrainError
from pimtrain.nn import AnalogSGD, analog_layers, convert
from pimtrain.nn import layers as layers_mod
from pimtrain.nn.conv_layers import AnalogConv1d, AnalogConvTranspose2d, AnalogGroupedConv
from pimtrain.nn.layer_registry import SPECS, describe, plan, spec_of
from pimtrain.nn.layers import AnalogLayer
from pimtrain.workloads import from_module
from pimtrain.workloads.digital_work import DigitalWork

IDEAL = "ideal"

# (id, factory of the layer under test, per-sample input shape)
CASES = [
    ("conv1d", lambda: nn.Conv1d(3, 5, 3, stride=2, padding=1), (3, 9)),
    ("conv1d-same-dilated", lambda: nn.Conv1d(2, 4, 3, padding="same", dilation=2, bias=False), (2, 7)),
    ("conv1d-grouped", lambda: nn.Conv1d(4, 6, 3, groups=2), (4, 8)),
    ("conv2d-grouped", lambda: nn.Conv2d(4, 6, 3, padding=1, groups=2), (4, 5, 5)),
    ("conv2d-depthwise", lambda: nn.Conv2d(3, 3, 3, stride=2, padding=1, groups=3), (3, 6, 6)),
    ("convT2d", lambda: nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1), (3, 4, 4)),
    ("convT2d-dilated-nobias", lambda: nn.ConvTranspose2d(2, 3, 2, dilation=2, bias=False), (2, 3, 3)),
    ("convT2d-grouped", lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2), (4, 3, 3)),
]


def _model(factory, shape, n_classes=3):
    torch.manual_seed(0)
    layer = factory()
    with torch.no_grad():
        n_out = layer(torch.zeros(1, *shape)).numel()
    return nn.Sequential(layer, nn.Tanh(), nn.Flatten(), nn.Linear(n_out, n_classes))


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_ideal_design_trains_like_float(case):
    """Same per-step losses and final weights as torch.optim.SGD on the float model (ideal design)."""
    _, factory, shape = case
    float_model = _model(factory, shape)
    analog = convert(float_model, IDEAL, seed=0)
    assert not any(isinstance(m, (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Linear)) for m in analog.modules())
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(24, *shape, generator=gen), torch.randint(0, 3, (24,), generator=gen)
    losses = {}
    for key, model, opt in (("float", float_model, torch.optim.SGD(float_model.parameters(), lr=0.1)),
                            ("analog", analog, AnalogSGD(analog, lr=0.1))):
        out = []
        for step in range(6):
            xb, yb = x[step * 4:(step + 1) * 4], y[step * 4:(step + 1) * 4]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            out.append(loss.item())
        losses[key] = torch.tensor(out)
    torch.testing.assert_close(losses["analog"], losses["float"], atol=1e-5, rtol=0)
    assert losses["float"][0] != losses["float"][-1]  # the weights did move
    first = analog[0]
    torch.testing.assert_close(first.weight_tensor(), float_model[0].weight.detach(), atol=1e-5, rtol=1e-5)
    if float_model[0].bias is not None:
        torch.testing.assert_close(first.bias_tensor(), float_model[0].bias.detach(), atol=1e-5, rtol=1e-5)


class _CountingCore:
    """A float core that counts the rows each kernel receives (every non-ideality off)."""

    fast_path = "counting float core"

    def __init__(self, weight, design=None, layer_index=0, seed=None):
        self.w = weight.clone()
        self.rows = {"forward": 0, "backward": 0, "update": 0}

    def vmm(self, x):
        self.rows["forward"] += x.shape[0]
        return x @ self.w.t()

    def mvm(self, d):
        self.rows["backward"] += d.shape[0]
        return d @ self.w

    def opu(self, x, d, lr):
        self.rows["update"] += x.shape[0]
        self.w -= lr * d.t() @ x

    def get_weight(self):
        return self.w

    def set_weight(self, w):
        self.w = w.clone()

    def to(self, device):
        return None


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_counted_kernels_equal_the_registry(case, monkeypatch):
    """Rows through vmm / mvm / opu per step = batch × the registry's reuse of each matrix (cost's layers)."""
    monkeypatch.setattr(layers_mod, "build_core", lambda w, d, layer_index=0, seed=None: _CountingCore(w))
    _, factory, shape = case
    float_model = _model(factory, shape)
    analog = convert(float_model, IDEAL)
    wl = from_module(float_model, shape)
    names = [q for q, m in analog.named_modules() if isinstance(m, AnalogLayer)]
    assert [L.name for L in wl.layers] == names
    batch = 5
    opt = AnalogSGD(analog, lr=0.01)
    nn.functional.cross_entropy(analog(torch.randn(batch, *shape)), torch.randint(0, 3, (batch,))).backward()
    opt.step()
    modules = dict(analog.named_modules())
    for L in wl.layers:
        core = modules[L.name].core
        assert core.w.shape[0] == L.out_features
        assert core.w.shape[1] - L.in_features in (0, 1)  # + the bias row
        first = L.name.startswith("0") and not L.name.startswith("0.") or L.name.startswith("0.groups")
        expected_backward = 0 if first else batch * L.reuse  # the first layer needs no input gradient
        assert core.rows == {"forward": batch * L.reuse, "backward": expected_backward, "update": batch * L.reuse}


def _mixed_models():
    torch.manual_seed(0)
    one_d = nn.Sequential(nn.Conv1d(1, 4, 3, padding=1), nn.BatchNorm1d(4), nn.ReLU(), nn.MaxPool1d(2),
                          nn.Conv1d(4, 8, 3, groups=4), nn.Dropout(0.1), nn.Flatten(), nn.Linear(8 * 2, 5))
    two_d = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.GELU(),
                          nn.Conv2d(4, 4, 3, groups=4), nn.ConvTranspose2d(4, 2, 2, stride=2), nn.AdaptiveAvgPool2d(2),
                          nn.Flatten(), nn.LayerNorm(8), nn.Linear(8, 3))
    return [(one_d, (1, 8)), (two_d, (1, 6, 6))]


@pytest.mark.parametrize("index", [0, 1])
def test_convert_and_cost_name_the_same_layers_and_every_parameter_is_placed(index):
    model, shape = _mixed_models()[index]
    analog = convert(model, "marinella2018-analog", seed=0)
    on_cores = [q for q, m in analog.named_modules() if isinstance(m, AnalogLayer)]
    for wl in (from_module(model, shape), from_module(analog, shape)):
        assert [L.name for L in wl.layers] == on_cores
    report = pimtrain.evaluate("marinella2018-analog", model, input_shape=shape)
    digital = set(from_module(model, shape).digital)
    rows = describe(model)
    assert digital == {r["name"] for r in rows if r["role"] == "digital"}
    parts = {r["name"] + ".fold" for r in rows if r["type"] == "ConvTranspose2d"}  # its overlap-add, digital
    # the breakdown names exactly convert's cores, its digital modules and the analog modules' digital parts
    assert set(report.layer) == set(on_cores) | digital | parts
    for name in digital:  # every digital module but the reshape (Flatten, no work) is charged
        assert (report.layer[name]["energy_j"] > 0 and report.layer[name]["latency_s"] > 0) is (name != "6"), name
    wl = from_module(model, shape)
    # the same traced workload with its digital work set to none: the cores cost the same, the rest is added
    bare = pimtrain.evaluate("marinella2018-analog", dataclasses.replace(wl, digital_work=(DigitalWork("none", "-"),)))
    assert set(bare.layer) == set(on_cores) | {"none"} and bare.layer["none"]["energy_j"] == 0
    added = sum(report.layer[n]["energy_j"] for n in digital | parts)
    assert report.energy_j == pytest.approx(bare.energy_j + added, rel=1e-9, abs=0)
    owners = dict(analog.named_modules())
    for pname, _ in analog.named_parameters():
        owner = pname.rsplit(".", 1)[0]
        assert isinstance(owners[owner], AnalogLayer) or owner in digital, pname
    assert {r["role"] for r in describe(model)} == {"analog", "digital"}


def test_tracing_works_in_train_and_eval_mode_and_keeps_the_mode():
    model, shape = _mixed_models()[0]
    model.train()
    names = [L.name for L in from_module(model, shape).layers]
    assert all(m.training for m in model.modules())
    model.eval()
    assert [L.name for L in from_module(model, shape).layers] == names
    assert not any(m.training for m in model.modules())


class _Recurrent(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(4, 6, batch_first=True)
        self.head = nn.Linear(6, 2)

    def forward(self, x):
        return self.head(self.rnn(x)[0][:, -1])


@pytest.mark.parametrize("module", [nn.RNN(3, 4), nn.Embedding(5, 3), nn.Bilinear(3, 3, 2), nn.Conv3d(1, 1, 1),
                                    nn.ConvTranspose1d(1, 1, 1)])
def test_unsupported_modules_are_refused_in_one_line(module):
    with pytest.raises(PimtrainError) as err:
        convert(nn.Sequential(nn.Linear(3, 3), module), IDEAL)
    text = str(err.value)
    assert "\n" not in text and f"1 ({type(module).__name__})" in text and "digital=" in text


def test_digital_on_request_is_kept_and_costed_alike():
    net = _Recurrent()
    with pytest.raises(PimtrainError, match=r"rnn \(RNN\)"):
        from_module(net, (5, 4))
    for digital in (["rnn"], ["RNN"], [nn.RNN]):
        analog = convert(net, IDEAL, digital=digital)
        assert isinstance(analog.rnn, nn.RNN) and isinstance(analog.head, AnalogLayer)
        wl = from_module(net, (5, 4), digital=digital)
        assert [L.name for L in wl.layers] == ["head"] and wl.digital == ("rnn",)
    x = torch.randn(2, 5, 4)
    torch.testing.assert_close(analog(x), net(x), atol=1e-5, rtol=1e-5)
    with pytest.raises(PimtrainError, match="digital"):
        convert(net, IDEAL, digital=[3])


def test_a_user_module_with_its_own_parameter_is_refused():
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.gain = nn.Parameter(torch.ones(3))

        def forward(self, x):
            return x * self.gain

    with pytest.raises(PimtrainError, match=r"1 \(Scale\)"):
        convert(nn.Sequential(nn.Linear(3, 3), Scale()), IDEAL)
    assert [p.role for p in plan(nn.Sequential(nn.Linear(3, 3), Scale()), digital=["1"])] == ["analog", "digital"]


def test_bad_input_shapes_are_one_line_errors_naming_the_module():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    with pytest.raises(PimtrainError, match=r"1 \(Linear\) takes 4 input features"):
        from_module(model, (5,))
    with pytest.raises(PimtrainError, match=r"0 \(Conv1d\) takes \(2"):
        from_module(nn.Sequential(nn.Conv1d(2, 3, 3)), (3, 8))
    with pytest.raises(PimtrainError, match="input_shape"):
        pimtrain.evaluate("ideal", model)
    with pytest.raises(PimtrainError, match="input_shape"):
        from_module(model, (0,))


def test_registry_covers_its_analog_types():
    for spec in SPECS:
        for t in spec.analog_types:
            assert spec_of(t.__new__(t)) is spec
    assert spec_of(nn.RNN(2, 2)) is None
    grouped = convert(nn.Conv1d(2, 4, 3, groups=2), IDEAL)
    assert isinstance(grouped, AnalogGroupedConv) and all(isinstance(p, AnalogConv1d) for p in grouped.groups)
    assert [m.layer_index for m in analog_layers(grouped)] == [0, 1]
    assert isinstance(convert(nn.ConvTranspose2d(2, 2, 2), IDEAL), AnalogConvTranspose2d)


class _Seq(nn.Module):
    """A recurrent layer and a linear head on the last step's output."""

    def __init__(self, cls, batch_first, num_layers, bias=True):
        super().__init__()
        self.rnn = cls(4, 5, num_layers=num_layers, batch_first=batch_first, bias=bias)
        self.head = nn.Linear(5, 3)
        self.batch_first = batch_first

    def forward(self, x):
        out = self.rnn(x)[0]
        return self.head(out[:, -1] if self.batch_first else out[-1])


RNN_CASES = [(nn.LSTM, True, 2, True), (nn.LSTM, False, 1, False), (nn.GRU, True, 1, True), (nn.GRU, False, 2, True)]


def _sequence_losses(float_model, analog, x, y, batch_first: bool, lr: float, steps: int) -> dict:
    """Per-step losses of the float model (torch SGD) and its converted copy (AnalogSGD), 4 sequences a step."""
    losses = {}
    for key, model, opt in (("float", float_model, torch.optim.SGD(float_model.parameters(), lr=lr)),
                            ("analog", analog, AnalogSGD(analog, lr=lr))):
        out = []
        for step in range(steps):
            xb = x[step * 4:(step + 1) * 4]
            xb = xb if batch_first else xb.transpose(0, 1)
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xb), y[step * 4:(step + 1) * 4])
            loss.backward()
            opt.step()
            out.append(loss.item())
        losses[key] = torch.tensor(out)
    return losses


@pytest.mark.parametrize("case", RNN_CASES, ids=[f"{c[0].__name__}-bf{c[1]}-L{c[2]}-bias{c[3]}" for c in RNN_CASES])
def test_recurrent_ideal_design_trains_like_float(case):
    cls, batch_first, num_layers, bias = case
    torch.manual_seed(0)
    float_model = _Seq(cls, batch_first, num_layers, bias)
    analog = convert(float_model, IDEAL, seed=0)
    assert not any(isinstance(m, (nn.LSTM, nn.GRU, nn.Linear)) for m in analog.modules())
    gen = torch.Generator().manual_seed(2)
    x, y = torch.randn(16, 6, 4, generator=gen), torch.randint(0, 3, (16,), generator=gen)
    losses = _sequence_losses(float_model, analog, x, y, batch_first, lr=0.2, steps=4)
    torch.testing.assert_close(losses["analog"], losses["float"], atol=1e-5, rtol=0)
    for layer in range(num_layers):
        for part in ("ih", "hh"):
            core = getattr(analog.rnn, f"{part}_l{layer}")
            ref = getattr(float_model.rnn, f"weight_{part}_l{layer}").detach()
            torch.testing.assert_close(core.weight_tensor(), ref, atol=1e-5, rtol=1e-5)
    # unbatched input and an explicit initial state give torch's results too
    seq = torch.randn(6, 4)
    torch.testing.assert_close(analog.rnn(seq)[0], float_model.rnn(seq)[0], atol=1e-5, rtol=1e-5)


def test_recurrent_counted_kernels_equal_the_registry(monkeypatch):
    """Per step: T·B rows through each matrix forward and update; the recurrent matrix's backward skips t=0
    (h₀ = 0 needs no gradient), the first input matrix's backward is skipped (first layer)."""
    monkeypatch.setattr(layers_mod, "build_core", lambda w, d, layer_index=0, seed=None: _CountingCore(w))
    torch.manual_seed(0)
    model = _Seq(nn.LSTM, True, 2)
    steps, batch = 7, 3
    wl = from_module(model, (steps, 4))
    analog = convert(model, IDEAL)
    names = [q for q, m in analog.named_modules() if isinstance(m, AnalogLayer)]
    assert [L.name for L in wl.layers] == names == ["rnn.ih_l0", "rnn.hh_l0", "rnn.ih_l1", "rnn.hh_l1", "head"]
    opt = AnalogSGD(analog, lr=0.01)
    nn.functional.cross_entropy(analog(torch.randn(batch, steps, 4)), torch.randint(0, 3, (batch,))).backward()
    opt.step()
    modules = dict(analog.named_modules())
    expected_backward = {"rnn.ih_l0": 0, "rnn.hh_l0": batch * (steps - 1), "rnn.ih_l1": batch * steps,
                         "rnn.hh_l1": batch * (steps - 1), "head": batch}
    for L in wl.layers:
        rows = modules[L.name].core.rows
        assert rows == {"forward": batch * L.reuse, "backward": expected_backward[L.name], "update": batch * L.reuse}
    assert wl.layers[0].out_features == 20 and wl.layers[1].in_features == 5


def test_settings_without_a_mapping_are_refused_by_convert_and_cost_alike():
    for module, needle in ((nn.LSTM(3, 4, bidirectional=True), "bidirectional"),
                           (nn.Conv1d(1, 2, 3, padding=1, padding_mode="reflect"), "padding_mode"),
                           (nn.MultiheadAttention(4, 2, kdim=3, vdim=3), "kdim")):
        with pytest.raises(PimtrainError, match=rf"0 \({type(module).__name__}\): .*{needle}"):
            convert(nn.Sequential(module), IDEAL)
        with pytest.raises(PimtrainError, match=needle):
            from_module(nn.Sequential(module), (5, 3))
        assert [p.role for p in plan(nn.Sequential(module), strict=False)] == ["refused"]
    kept = convert(nn.Sequential(nn.LSTM(3, 4, bidirectional=True)), IDEAL, digital=["0"])
    assert isinstance(kept[0], nn.LSTM)


class _Encoder(nn.Module):
    def __init__(self, batch_first=True, norm_first=False):
        super().__init__()
        layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=batch_first, norm_first=norm_first)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(8, 3)
        self.batch_first = batch_first

    def forward(self, x):
        out = self.encoder(x)
        return self.head(out.mean(dim=1 if self.batch_first else 0))


@pytest.mark.parametrize("batch_first,norm_first", [(True, False), (False, True)])
def test_transformer_encoder_ideal_design_trains_like_float(batch_first, norm_first):
    torch.manual_seed(0)
    float_model = _Encoder(batch_first, norm_first)
    analog = convert(float_model, IDEAL, seed=0)
    assert not any(isinstance(m, (nn.Linear, nn.MultiheadAttention)) for m in analog.modules())
    gen = torch.Generator().manual_seed(3)
    x, y = torch.randn(12, 5, 8, generator=gen), torch.randint(0, 3, (12,), generator=gen)
    losses = _sequence_losses(float_model, analog, x, y, batch_first, lr=0.1, steps=3)
    torch.testing.assert_close(losses["analog"], losses["float"], atol=1e-5, rtol=0)
    attn = float_model.encoder.layers[0].self_attn
    torch.testing.assert_close(analog.encoder.layers[0].self_attn.k_proj.weight_tensor(),
                               attn.in_proj_weight[8:16].detach(), atol=1e-5, rtol=1e-5)
    analog.eval(), float_model.eval()  # torch's fused inference path stays off for the analog copy
    with torch.no_grad():
        xb = x[:4] if batch_first else x[:4].transpose(0, 1)
        torch.testing.assert_close(analog(xb), float_model(xb), atol=1e-5, rtol=1e-5)


def test_multihead_attention_masks_and_weights_match_torch():
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2)
    analog = convert(mha, IDEAL)
    q, k = torch.randn(4, 2, 8), torch.randn(6, 2, 8)
    mask = torch.rand(4, 6) > 0.7
    padding = torch.tensor([[False] * 5 + [True], [False] * 6])
    for kwargs in ({}, {"attn_mask": mask}, {"key_padding_mask": padding, "average_attn_weights": False}):
        ref, ref_w = mha(q, k, k, **kwargs)
        out, w = analog(q, k, k, **kwargs)
        torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(w, ref_w, atol=1e-5, rtol=1e-5)
    wl = from_module(nn.Sequential(_Encoder()), (5, 8))
    names = [L.name for L in wl.layers]
    assert names[:6] == [f"0.encoder.layers.0.self_attn.{p}_proj" for p in "qkv"] + [
        "0.encoder.layers.0.self_attn.out_proj", "0.encoder.layers.0.linear1", "0.encoder.layers.0.linear2"]
    assert all(L.reuse == 5 for L in wl.layers[:-1]) and wl.layers[-1].reuse == 1
    digital_why = {r["name"]: r["why"] for r in describe(nn.Sequential(_Encoder()))}
    assert "QKᵀ" in [r for r in describe(nn.Sequential(_Encoder())) if r["type"] == "MultiheadAttention"][0]["why"]
    assert digital_why["0.encoder.layers.0.norm1"] == "normalisation"


def test_attention_counted_kernels_equal_the_registry(monkeypatch):
    monkeypatch.setattr(layers_mod, "build_core", lambda w, d, layer_index=0, seed=None: _CountingCore(w))
    torch.manual_seed(0)
    model = _Encoder()
    wl = from_module(model, (5, 8))
    analog = convert(model, IDEAL)
    batch = 3
    opt = AnalogSGD(analog, lr=0.01)
    nn.functional.cross_entropy(analog(torch.randn(batch, 5, 8)), torch.randint(0, 3, (batch,))).backward()
    opt.step()
    modules = dict(analog.named_modules())
    first = {f"encoder.layers.0.self_attn.{p}_proj" for p in "qkv"}  # they read the input: no backward
    assert first <= {L.name for L in wl.layers}
    for L in wl.layers:
        rows = modules[L.name].core.rows
        backward = 0 if L.name in first else batch * L.reuse
        assert rows == {"forward": batch * L.reuse, "backward": backward, "update": batch * L.reuse}, L.name
