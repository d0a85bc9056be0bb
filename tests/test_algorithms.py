"""Analog training algorithms (update.algorithm): design validation, transfers checked by hand, ideal training."""
from __future__ import annotations

import pytest
import torch

from pimtrain.design.models import Design
from pimtrain.xbar import core_kind, make_core
from pimtrain.xbar.algorithms import CompoundCore


def des(rule="exact", device=None, io=None, **alg) -> Design:
    d = {"name": "t", "compute": "analog", "array": {"w_max": 1.0}, "update": {"rule": rule, "algorithm": alg}}
    if device:
        d["device"] = device
    if io:
        d["io"] = io
    return Design.model_validate(d)


W = torch.tensor([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
X = torch.tensor([[1.0, 2.0, 3.0]])
D = torch.tensor([[1.0, -1.0]])


# ------------------------------------------------------------------------------------------ design
def test_design_states_the_algorithm_and_refuses_misused_parameters():
    d = des(kind="c_ttv2", chopper_probability=0.1, buffer_decay=0.05, transfer_every=4, columns_per_transfer=2)
    a = d.update.algorithm
    assert (a.kind, a.transfer_every, a.columns_per_transfer, a.chopper_probability) == ("c_ttv2", 4, 2, 0.1)
    assert Design.model_validate({"name": "t"}).update.algorithm.kind == "sgd"
    for bad in ({"kind": "tt"}, {"kind": "tiki_taka", "chopper_probability": 0.1}, {"kind": "sgd", "gamma": 0.5},
                {"kind": "tiki_taka", "buffer_decay": 0.1}, {"kind": "ttv2", "transfer_every": 0},
                {"kind": "ttv2", "unknown": 1}):
        with pytest.raises(ValueError):
            des(**bad)


def test_registry_builds_compound_only_for_an_algorithm():
    assert core_kind(des(kind="tiki_taka")).name == "compound"
    assert core_kind(des()).name == "analog"
    assert isinstance(make_core(W, des(kind="agad", chopper_probability=0.5)), CompoundCore)
    with pytest.raises(ValueError, match="gamma"):  # residual learning reads gamma*A + C: gamma 0 is refused
        des(kind="residual")


# ------------------------------------------------------------------------------------------ transfers by hand
def test_tiki_taka_transfer_moves_one_column_scaled():
    c = make_core(W, des(kind="tiki_taka", transfer_lr=0.5))
    assert isinstance(c, CompoundCore) and set(c.arrays) == {"A", "C"}
    c.opu(X, D, 0.1)
    # A = -0.1 * d^T x = [[-.1,-.2,-.3],[.1,.2,.3]]; the transfer reads column 0 of A and adds 0.5 of it to C
    assert torch.allclose(c.A.get_weight(), torch.tensor([[-0.1, -0.2, -0.3], [0.1, 0.2, 0.3]]))
    assert torch.allclose(c.C.get_weight(), torch.tensor([[0.05, 0.2, 0.3], [0.45, 0.5, 0.6]]))
    c.opu(X, D, 0.1)  # A doubles; column 1 is next: C[:,1] += 0.5 * [-.4, .4]
    assert torch.allclose(c.C.get_weight(), torch.tensor([[0.05, 0.0, 0.3], [0.45, 0.7, 0.6]]))
    s = c.stats
    assert s["transfers"] == 2 and s["transfer.reads"] == 2 and s["A.forward.outputs"] == 4  # two one-column reads
    assert torch.allclose(c.get_weight(), c.C.get_weight())  # gamma 0: the network reads C only


def test_transfer_interval_and_columns_per_transfer():
    c = make_core(W, des(kind="tiki_taka", transfer_every=2, columns_per_transfer=2))
    c.opu(X, D, 0.1)
    assert torch.equal(c.C.get_weight(), W) and c.stats["transfers"] == 0
    c.opu(X, D, 0.1)  # A = -0.2 d^T x; columns 0 and 1 move
    exp = W.clone()
    exp[:, :2] += torch.tensor([[-0.2, -0.4], [0.2, 0.4]])
    assert torch.allclose(c.C.get_weight(), exp)
    c.opu(X, D, 0.1), c.opu(X, D, 0.1)  # A = -0.4 d^T x; columns 2 and 0
    exp[:, 2] += torch.tensor([-1.2, 1.2])
    exp[:, 0] += torch.tensor([-0.4, 0.4])
    assert torch.allclose(c.C.get_weight(), exp, atol=1e-6)


def test_ttv2_buffer_writes_whole_steps_and_keeps_the_rest():
    # one device step (one pulse) = 2 * dw_min * w_max = 0.1; threshold 2 steps = 0.2
    c = make_core(W, des(kind="ttv2", device={"dw_min": 0.05}, buffer_threshold=2.0, buffer_decay=0.5,
                         columns_per_transfer=3))
    c.opu(X, D, 0.1)  # A = [[-.1,-.2,-.3],[.1,.2,.3]]; H = A; whole 0.2 steps: [[0,-.2,-.2],[0,.2,.2]]
    assert torch.allclose(c.C.get_weight(), W + torch.tensor([[0.0, -0.2, -0.2], [0.0, 0.2, 0.2]]), atol=1e-6)
    assert torch.allclose(c.H.value, torch.tensor([[-0.1, 0.0, -0.1], [0.1, 0.0, 0.1]]), atol=1e-6)
    c.opu(X, D, 0.1)  # A doubles: H = 0.5*H + A = [[-.25,-.4,-.65],[.25,.4,.65]] -> writes [[-.2,-.4,-.6],...]
    assert torch.allclose(c.H.value, torch.tensor([[-0.05, 0.0, -0.05], [0.05, 0.0, 0.05]]), atol=1e-5)
    assert torch.allclose(c.C.get_weight(), W + torch.tensor([[-0.2, -0.6, -0.8], [0.2, 0.6, 0.8]]), atol=1e-5)
    assert c.stats["buffer.cells"] == 6 and c.stats["transfer.cells_written"] == 10


def test_mixed_precision_accumulates_digitally_and_writes_whole_steps():
    c = make_core(W, des(kind="mixed_precision", device={"dw_min": 0.05}, buffer_threshold=1.0))
    assert set(c.arrays) == {"C"}
    c.opu(X, D, 0.04)  # chi = -0.04 d^T x = [[-.04,-.08,-.12],[.04,.08,.12]] -> writes only the +-0.1 steps
    assert torch.allclose(c.C.get_weight(), W + torch.tensor([[0, 0, -0.1], [0, 0, 0.1]]), atol=1e-6)
    assert torch.allclose(c.chi.value, torch.tensor([[-0.04, -0.08, -0.02], [0.04, 0.08, 0.02]]), atol=1e-6)
    c.opu(X, D, 0.04)
    assert torch.allclose(c.C.get_weight(), W + torch.tensor([[0, -0.1, -0.2], [0, 0.1, 0.2]]), atol=1e-6)


def test_c_ttv2_chopper_learns_chopped_and_transfers_unchopped():
    c = make_core(W, des(kind="c_ttv2", chopper_probability=1.0, columns_per_transfer=3, device={"dw_min": 0.005}))
    c.opu(X, D, 0.1)  # signs +1: A = -0.1 d^T x; all columns move (whole 0.01 steps); then every sign flips
    moved = torch.tensor([[-0.1, -0.2, -0.3], [0.1, 0.2, 0.3]])
    assert torch.allclose(c.C.get_weight(), W + moved, atol=1e-5)
    assert torch.equal(c.choppers.signs, -torch.ones(3)) and c.stats["chopper.flips"] == 3
    c.opu(X, D, 0.1)  # A learns -x: A = 0; the read (0) times -1 moves nothing: the gradient's sign is kept
    assert torch.allclose(c.A.get_weight(), torch.zeros(2, 3), atol=1e-6)
    assert torch.allclose(c.C.get_weight(), W + moved, atol=1e-5)
    c.opu(X, D, 0.1)  # signs +1 again: A = +0.1 d^T x·(-1)... read * (+1)
    # A after the third update: -0.1 d^T (-x) = +0.1 d^T x; read under sign -1 (flipped after the 2nd transfer)
    assert torch.allclose(c.C.get_weight(), W + 2 * moved, atol=1e-5)


def test_agad_transfers_the_change_since_the_flip_by_hand():
    # chopper flips at every transfer (p 1); all 3 columns per transfer; whole steps of 0.01
    c = make_core(W, des(kind="agad", chopper_probability=1.0, columns_per_transfer=3, device={"dw_min": 0.01}))
    g = -0.1 * D.t() @ X  # one update's gradient step: [[-.1,-.2,-.3],[.1,.2,.3]]
    c.opu(X, D, 0.1)  # signs +1, P 0: A = g; ω = +1·(A − 0) = g into H, all of it written to C; then P ← A, signs −1
    assert torch.allclose(c.C.get_weight(), W + g, atol=1e-5)
    assert torch.allclose(c.P.value, g, atol=1e-6) and torch.equal(c.choppers.signs, -torch.ones(3))
    c.opu(X, D, 0.1)  # A learns the chopped gradient: A = g − g = 0; ω = −1·(0 − g) = g: the gradient's sign kept
    assert torch.allclose(c.A.get_weight(), torch.zeros(2, 3), atol=1e-6)
    assert torch.allclose(c.C.get_weight(), W + 2 * g, atol=1e-5)  # (c_ttv2 would have moved nothing here)
    assert torch.allclose(c.P.value, torch.zeros(2, 3), atol=1e-6)  # the new reference: this read (0)
    s = c.stats
    assert s["buffer.cells"] == 12 and s["buffer.reference_writes"] == 12 and s["chopper.flips"] == 6


def test_residual_reads_the_mixed_weight_and_transfers_like_tiki_taka():
    c = make_core(W, des(kind="residual", gamma=0.5, transfer_lr=0.2, columns_per_transfer=1))
    c.opu(X, D, 0.1)  # A = g = -0.1 dᵀx; column 0 of A moves into C scaled by 0.2
    g = -0.1 * D.t() @ X
    exp_c = W.clone()
    exp_c[:, 0] += 0.2 * g[:, 0]
    assert torch.allclose(c.C.get_weight(), exp_c, atol=1e-6)
    assert torch.allclose(c.get_weight(), exp_c + 0.5 * g, atol=1e-6)  # W = gamma*A + C
    x = torch.tensor([[0.5, -1.0, 2.0]])
    assert torch.allclose(c.vmm(x), x @ (exp_c + 0.5 * g).t(), atol=1e-6)  # the network reads the mixed weight


def test_reference_array_cancels_the_programmed_zero_of_A():
    dev = {"model": "soft_bounds", "programming_noise": 0.05, "dw_min": 0.01}
    with_ref = make_core(W, des(kind="tiki_taka", device=dev, reference="array", gamma=1.0))
    without = make_core(W, des(kind="tiki_taka", device=dev, gamma=1.0))
    assert set(with_ref.arrays) == {"A", "C", "R"}
    e = torch.eye(3)
    a, r = with_ref.A.get_weight(), with_ref.R.get_weight()
    assert float((a - r).abs().max()) > 0  # two programmed zeros, each off by its own programming noise
    assert torch.allclose(with_ref._a("vmm", e), (a - r).t(), atol=1e-6)  # A's value read is A - R, column by column
    assert torch.allclose(with_ref.get_weight(), with_ref.C.get_weight() + (a - r), atol=1e-6)  # W = gamma (A-R) + C
    assert torch.allclose(without.get_weight(), without.C.get_weight() + without.A.get_weight(), atol=1e-6)


def test_same_seed_same_numbers_and_state_round_trip():
    dev = {"model": "soft_bounds", "write_noise": 0.1, "dw_min": 0.01}
    d = des(rule="outer_product", device=dev, kind="c_ttv2", chopper_probability=0.3, columns_per_transfer=2)
    g = torch.Generator().manual_seed(1)
    xs, ds = torch.randn(6, 4, 3, generator=g), torch.randn(6, 4, 2, generator=g)
    a, b = make_core(W, d), make_core(W, d)
    for x, dd in zip(xs[:3], ds[:3]):
        a.opu(x, dd, 0.05), b.opu(x, dd, 0.05)
    sd = a.state_dict()
    c = make_core(W, d)
    c.load_state_dict(sd)
    for x, dd in zip(xs[3:], ds[3:]):
        a.opu(x, dd, 0.05), b.opu(x, dd, 0.05), c.opu(x, dd, 0.05)
    assert torch.equal(a.get_weight(), b.get_weight()) and torch.equal(a.get_weight(), c.get_weight())


# ------------------------------------------------------------------------------------------ ideal training
def _train(core_or_none, w0, steps=300, lr=0.05, seed=0):
    """Softmax regression on a 3-class teacher; returns test accuracy. ``core_or_none`` None = float SGD."""
    g = torch.Generator().manual_seed(seed)
    teacher = torch.randn(3, 8, generator=g)
    xt = torch.randn(1000, 8, generator=g)
    yt = (xt @ teacher.t()).argmax(1)
    w = w0.clone()
    for _ in range(steps):
        x = torch.randn(16, 8, generator=g)
        y = (x @ teacher.t()).argmax(1)
        logits = core_or_none.vmm(x) if core_or_none is not None else x @ w.t()
        dl = (torch.softmax(logits, 1) - torch.nn.functional.one_hot(y, 3).float()) / 16
        if core_or_none is not None:
            core_or_none.opu(x, dl, lr)
        else:
            w -= lr * dl.t() @ x
    w = core_or_none.get_weight() if core_or_none is not None else w
    return float(((xt @ w.t()).argmax(1) == yt).float().mean())


#: settings under which each algorithm is stable on an ideal device (no device decay drives A back to zero, so
#: Tiki-Taka's A is read with gamma 1: W = A + C, a proportional plus an integral path)
IDEAL_SETTINGS = {
    "mixed_precision": {"buffer_threshold": 1.0},
    "tiki_taka": {"gamma": 1.0, "transfer_lr": 0.05, "columns_per_transfer": 8},
    "ttv2": {"gamma": 1.0, "transfer_lr": 0.05, "columns_per_transfer": 8, "buffer_threshold": 1.0},
    "residual": {"gamma": 1.0, "transfer_lr": 0.05, "columns_per_transfer": 8},
    # AGAD: the reference taken at each chopper flip makes the read the change since the flip, so an ideal A that
    # never forgets is no problem (the case c_ttv2 fails below)
    "agad": {"gamma": 1.0, "transfer_lr": 0.05, "columns_per_transfer": 8, "buffer_threshold": 1.0,
             "chopper_probability": 0.1},
}


@pytest.mark.parametrize("kind", sorted(IDEAL_SETTINGS) + [pytest.param("c_ttv2", marks=pytest.mark.xfail(
    strict=True, reason="measured: an ideal A never forgets, so after a chopper flip the column's old content is read "
    "with the new sign (0.85 vs float 0.97 at p 0.1); c-TTv2 as published relies on A's device decay (the "
    "symmetric point pulls A back); agad, whose on-the-fly reference removes A's earlier content, passes. "
    "aihwkit 1.2.0 loses alike on a symmetric noiseless device (README 'Side by side with IBM aihwkit': c-TTv2 "
    "83.3 % there, pimtrain 85.8 %; TTv2 90.2 / 91.0 %)"))])
def test_ideal_device_trains_to_float_accuracy(kind):
    """Margin: within 3 percentage points of float SGD's test accuracy (1000 test points) after 300 steps."""
    w0 = torch.zeros(3, 8)
    ref = _train(None, w0)
    settings = IDEAL_SETTINGS.get(kind) or {**IDEAL_SETTINGS["ttv2"], "chopper_probability": 0.1}
    core = make_core(w0, des(rule="accumulate", device={"dw_min": 0.001}, kind=kind, **settings))
    acc = _train(core, w0)
    assert ref > 0.85
    assert acc >= ref - 0.03, (kind, acc, ref)


# ------------------------------------------------------------------------------------------ counts for the cost
def test_counts_charge_transfer_reads_and_both_arrays_writes():
    from pimtrain.mapping import measured_counts

    dev = {"model": "soft_bounds", "dw_min": 0.01}
    d = des(rule="outer_product", device=dev, io={"forward": {"adc_bits": 8}}, kind="tiki_taka", columns_per_transfer=2)
    c = make_core(torch.zeros(2, 3), d)
    g = torch.Generator().manual_seed(0)
    for _ in range(3):
        x, dd = torch.randn(4, 3, generator=g), torch.randn(4, 2, generator=g)
        c.vmm(x)
        c.opu(x, dd, 0.1)
    s = c.stats
    assert s["vectors_forward"] == 12 and s["update_events"] == 12  # the network's: 3 batches of 4 samples
    assert s["transfer.reads"] == 6 and s["A.vectors_forward"] == 6  # 3 transfers x 2 one-hot columns through A's ADCs
    # the transfers' reads and writes are kept apart from the network's reads and the gradient's writes
    assert s["transfer.read.conversions"] == s["A.forward.conversions"] > 0  # gamma 0: A is read only by transfers
    assert s["forward.conversions"] == s["C.forward.conversions"]
    assert s["transfer.write.pulsed_cells"] == s["C.update.pulsed_cells"] > 0
    assert s["update.pulsed_cells"] == s["A.update.pulsed_cells"]  # the gradient lands on A
    assert s["C.update_events"] == s["transfer.write.update_events"] == 6  # one rank-1 write per transferred column
    m = measured_counts(s)
    assert m["forward"]["conversions"] == s["forward.conversions"] / 12
    assert m["algorithm"]["transfer.read.conversions"] == s["transfer.read.conversions"] / 3  # per update call


def test_transfer_reads_use_their_own_converters():
    """A 2-bit transfer ADC quantises the transferred column; the network's forward read (C) keeps io.forward."""
    w = torch.zeros(2, 3)
    fine = make_core(w, des(kind="tiki_taka", columns_per_transfer=3))
    coarse = make_core(w, des(kind="tiki_taka", columns_per_transfer=3,
                              transfer_io={"adc_bits": 2, "output_range": {"policy": "batch_max"}}))
    assert coarse.A.fwd_adc is not None and coarse.C.design.io.forward.adc_bits is None
    x, d = torch.tensor([[1.0, 0.3, 0.1]]), torch.tensor([[1.0, -0.2]])
    fine.opu(x, d, 0.1)
    coarse.opu(x, d, 0.1)
    exact = -0.1 * d.t() @ x
    assert torch.allclose(fine.C.get_weight(), exact, atol=1e-6)
    got = coarse.C.get_weight()
    assert not torch.allclose(got, exact, atol=1e-3)  # the coarse transfer read moved quantised values
    assert torch.unique(got.abs().round(decimals=6)).numel() <= 4  # 2-bit signed levels of the read's scale (and 0)
    assert coarse.stats["A.forward.conversions"] > 0
