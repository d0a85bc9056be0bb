"""The batch epoch driver of the CPU fast path: minibatch training of an analog MLP without autograd.

At batch > 1 the per-step cost of the module path is dominated, after the two large products, by Python: the
autograd engine, ``nn.Module`` calls and the autograd function around every read. :class:`BatchMlpEpoch` runs the
same step as plain code under ``torch.no_grad()``: per layer ``core.vmm`` of ``[x | 1]`` and the activation; the
mean cross-entropy and its gradient on the logits by the aten backward kernels autograd calls (``nll_loss``,
``log_softmax``); per layer from the last ``core.mvm`` of the error, the bias column dropped and the activation's
derivative by the aten backward kernel autograd calls (``sigmoid_backward``, ``tanh_backward``,
``threshold_backward``); then ``core.opu(x, d, lr)`` for every layer (the optimizer's ``step``). The cores, their
read and update strategies (the numba batch write of ``accumulate`` / ``serial`` included), their noise streams
and counters are those of the module path, called with the same tensors in the same order, so the numbers are
the module path's bit for bit, noise on or off (``tests/test_batch_epoch.py``).

Covered: what :func:`pimtrain.nn.fast_epoch.structure_refusal` accepts (an ``nn.Sequential`` of
``AnalogLinear`` with sigmoid / relu / tanh between, ``AnalogSGD`` over exactly those layers), batch > 1, CPU.
Chosen by :func:`pimtrain.nn.fast_epoch.epoch_driver`; ``PIMTRAIN_FAST_EPOCH=0`` turns it off.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .layers import AnalogLinear

_BACKWARD = {
    nn.Sigmoid: lambda g, h: torch.ops.aten.sigmoid_backward(g, h),
    nn.Tanh: lambda g, h: torch.ops.aten.tanh_backward(g, h),
    nn.ReLU: lambda g, h: torch.ops.aten.threshold_backward(g, h, 0),
}

_ONE = torch.tensor(1.0)  # d loss / d loss


class BatchMlpEpoch:
    """One epoch of minibatch SGD of an analog MLP: the module path's step without autograd (see the module
    docstring)."""

    path = "batch epoch driver (no autograd)"

    def __init__(self, session):
        self.session = session
        mods = list(session.model)
        self.layers: list[AnalogLinear] = [m for m in mods if isinstance(m, AnalogLinear)]
        self.acts: list = []  # the activation module after each layer (None after the last)
        for i, m in enumerate(mods):
            if isinstance(m, AnalogLinear):
                nxt = mods[i + 1] if i + 1 < len(mods) else None
                self.acts.append(nxt if nxt is not None and type(nxt) in _BACKWARD else None)
        # the optimizer's order of updates (each core has its own generator, but keep the order anyway)
        self.update_order = [layer for _, layers, _ in session.optimizer._plan for layer in layers]

    def _step(self, xb: torch.Tensor, yb: torch.Tensor, lr: float) -> torch.Tensor:
        layers, acts = self.layers, self.acts
        inputs: list[torch.Tensor] = []
        outs: list[torch.Tensor] = []
        a = xb
        for layer, act in zip(layers, acts):
            xr = F.pad(a, (0, 1), value=1.0) if layer.has_bias else a
            inputs.append(xr)
            y = layer.core.vmm(xr)
            if act is not None:
                a = act(y)
                outs.append(a)
        # the mean cross-entropy as F.cross_entropy computes it (nll_loss of log_softmax) and its gradient on the
        # logits by the two aten backward kernels autograd would call
        ls = torch.log_softmax(y, 1)
        loss = F.nll_loss(ls, yb)
        g = torch.ops.aten.nll_loss_backward(_ONE, ls, yb, None, 1, -100, torch.tensor(float(y.shape[0])))
        d = torch.ops.aten._log_softmax_backward_data(g, ls, 1, ls.dtype)
        ds: list[torch.Tensor] = [d]
        for li in range(len(layers) - 1, 0, -1):
            layer = layers[li]
            g = layer.core.mvm(d)
            if layer.has_bias:
                g = g[:, : layer.in_features]
            d = _BACKWARD[type(acts[li - 1])](g, outs[li - 1])
            ds.append(d)
        ds.reverse()
        by_layer = {id(layer): i for i, layer in enumerate(layers)}
        for layer in self.update_order:
            i = by_layer[id(layer)]
            layer.core.opu(inputs[i], ds[i], lr)
        return loss.detach()

    def run(self, advance=None) -> torch.Tensor:
        """One epoch in the order drawn from the session's generator (as ``epoch_once``); the per-step losses.
        Raises :class:`pimtrain.nn.trainer.NonFiniteLoss` at the first non-finite loss of a chunk."""
        from .trainer import PROGRESS_UPDATES_PER_EPOCH, NonFiniteLoss

        s = self.session
        s.model.train()
        x, y = s.data.train_x, s.data.train_y
        order = torch.randperm(x.shape[0], generator=s.generator).to(x.device)
        x_batches = x.index_select(0, order).split(s.batch_size)
        y_batches = y.index_select(0, order).split(s.batch_size)
        steps = len(x_batches)
        chunk = steps if advance is None else max(1, math.ceil(steps / PROGRESS_UPDATES_PER_EPOCH))
        lr = float(s.optimizer.param_groups[0]["lr"])
        s.optimizer.zero_grad()
        losses: list[torch.Tensor] = []
        with torch.no_grad():
            for start in range(0, steps, chunk):
                for xb, yb in zip(x_batches[start:start + chunk], y_batches[start:start + chunk]):
                    losses.append(self._step(xb, yb, lr))
                recent = torch.stack(losses[start:])
                bad = ~torch.isfinite(recent)
                if bool(bad.any()):
                    at = start + int(torch.nonzero(bad)[0, 0])
                    raise NonFiniteLoss(at, float(recent[at - start]))
                if advance is not None:
                    advance(len(recent))
        s.epochs_done += 1
        return torch.stack(losses)
