"""``nn.LSTM`` and ``nn.GRU`` on analog cores: input and recurrent matrices each on a core.

Layer ``l`` holds two :class:`~pimtrain.nn.layers.AnalogLinear` children, ``ih_l{l}`` (``W_ih | b_ih``, the
input matrix, all time steps in one VMM of ``T·B`` rows) and ``hh_l{l}`` (``W_hh | b_hh``, the recurrent
matrix, one VMM of ``B`` rows per time step). The gate non-linearities and the cell state are digital.

Backward through time: autograd walks the steps back; every step's error reaches the recurrent core's
``mvm`` (the backward kernel) and the input core's ``mvm`` for the layer below. The recurrent layer is used
``T`` times before the optimizer's step, so its saved rows are the concatenation of all steps (see *Shared
use* in :mod:`pimtrain.nn.layers`): the update is one outer product per time step and sample, through the
design's update rule, and ``dᵀx`` over the rows is exactly the BPTT gradient.

Supported: unidirectional, any ``num_layers``, ``batch_first`` either way, unbatched inputs, ``bias`` either
way, initial states; not supported (refused by ``convert``): ``bidirectional``, ``proj_size``, ``dropout``.
"""
from __future__ import annotations

import torch
from torch import nn

from pimtrain.design import PimtrainError

from .conv_layers import AnalogComposite
from .layers import AnalogLinear

__all__ = ["AnalogLSTM", "AnalogGRU"]


class _AnalogRNNBase(AnalogComposite):
    gates = 1
    kind = ""

    def __init__(self, rnn: nn.Module, design, *, next_index, seed: int | None = None):
        super().__init__()
        kind = type(rnn).__name__
        if rnn.bidirectional or getattr(rnn, "proj_size", 0) or rnn.dropout:
            raise PimtrainError(f"convert: {kind} with bidirectional={rnn.bidirectional}, "
                                f"proj_size={getattr(rnn, 'proj_size', 0)}, dropout={rnn.dropout} is not supported; "
                                "allowed: unidirectional, proj_size=0, dropout=0 (or keep it digital)")
        self.input_size, self.hidden_size = int(rnn.input_size), int(rnn.hidden_size)
        self.num_layers, self.batch_first, self.bias = int(rnn.num_layers), bool(rnn.batch_first), bool(rnn.bias)
        for layer in range(self.num_layers):
            for part in ("ih", "hh"):
                w = getattr(rnn, f"weight_{part}_l{layer}")
                b = getattr(rnn, f"bias_{part}_l{layer}") if self.bias else None
                lin = AnalogLinear(w.shape[1], w.shape[0], self.bias, design, layer_index=next_index(), seed=seed,
                                   weight=w, bias_value=b)
                self.add_module(f"{part}_l{layer}", lin)

    @classmethod
    def from_rnn(cls, rnn, design, *, next_index, seed=None):
        return cls(rnn, design, next_index=next_index, seed=seed)

    def _cell(self, gi: torch.Tensor, gh: torch.Tensor, state):
        raise NotImplementedError

    def _initial(self, hx, batch, ref):
        raise NotImplementedError

    def _final(self, states):
        raise NotImplementedError

    def forward(self, x: torch.Tensor, hx=None):
        unbatched = x.dim() == 2
        if unbatched:
            x = x.unsqueeze(1)
            if hx is not None:
                hx = tuple(h.unsqueeze(1) for h in hx) if isinstance(hx, tuple) else hx.unsqueeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        steps, batch = x.shape[0], x.shape[1]
        states = self._initial(hx, batch, x)
        finals = []
        seq = x
        for layer in range(self.num_layers):
            ih, hh = getattr(self, f"ih_l{layer}"), getattr(self, f"hh_l{layer}")
            gi_all = ih(seq.reshape(steps * batch, -1)).reshape(steps, batch, -1)  # all steps in one VMM
            state = states[layer]
            outs = []
            for t in range(steps):
                state = self._cell(gi_all[t], hh(self._h(state)), state)
                outs.append(self._h(state))
            seq = torch.stack(outs)
            finals.append(state)
        out = seq.squeeze(1) if unbatched else (seq.transpose(0, 1) if self.batch_first else seq)
        final = self._final(finals)
        if unbatched:
            final = tuple(f.squeeze(1) for f in final) if isinstance(final, tuple) else final.squeeze(1)
        return out, final

    def weight_tensor(self) -> torch.Tensor:  # the first layer's input matrix, torch's weight_ih_l0
        return self.ih_l0.weight_tensor()

    def bias_tensor(self):
        return self.ih_l0.bias_tensor()


class AnalogLSTM(_AnalogRNNBase):
    """``nn.LSTM``: gates ``i, f, g, o`` = chunks of ``ih(x_t) + hh(h_{t-1})``; ``c, h`` digital."""

    @staticmethod
    def _h(state):
        return state[0]

    def _cell(self, gi, gh, state):
        h, c = state
        i, f, g, o = (gi + gh).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    def _initial(self, hx, batch, ref):
        if hx is None:
            z = ref.new_zeros(batch, self.hidden_size)
            return [(z, z) for _ in range(self.num_layers)]
        h0, c0 = hx
        return [(h0[layer], c0[layer]) for layer in range(self.num_layers)]

    def _final(self, finals):
        return torch.stack([s[0] for s in finals]), torch.stack([s[1] for s in finals])


class AnalogGRU(_AnalogRNNBase):
    """``nn.GRU``: ``r, z`` from ``ih(x_t) + hh(h)``; ``n = tanh(ih_n + r·hh_n)``; ``h`` digital."""

    @staticmethod
    def _h(state):
        return state

    def _cell(self, gi, gh, h):
        i_r, i_z, i_n = gi.chunk(3, dim=1)
        h_r, h_z, h_n = gh.chunk(3, dim=1)
        r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        return (1 - z) * n + z * h

    def _initial(self, hx, batch, ref):
        if hx is None:
            return [ref.new_zeros(batch, self.hidden_size) for _ in range(self.num_layers)]
        return [hx[layer] for layer in range(self.num_layers)]

    def _final(self, finals):
        return torch.stack(finals)
