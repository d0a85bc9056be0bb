"""``nn.MultiheadAttention`` on analog cores: the Q, K, V and output projections each on a core.

``AnalogMultiheadAttention`` holds four :class:`~pimtrain.nn.layers.AnalogLinear` children ``q_proj``,
``k_proj``, ``v_proj`` (the three blocks of torch's ``in_proj_weight`` / ``in_proj_bias``) and ``out_proj``.
The attention scores ``QKᵀ/√d`` and the weighted values ``softmax·V`` are products of two *activations*:
no stored matrix, so they run digitally (as in torch's slow path: masks, softmax, dropout of the weights).

``nn.TransformerEncoderLayer`` / ``nn.TransformerEncoder`` are walked through by ``convert`` (their
``linear1`` / ``linear2`` and ``self_attn`` go on cores, the norms stay digital). ``in_proj_bias`` is
``None`` on the analog module so that torch's fused inference fast path (which reads float weights) is
never taken; the layer's ordinary path calls the children.

Supported: ``kdim == vdim == embed_dim``, no ``add_bias_kv`` / ``add_zero_attn``; masks as torch's.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from pimtrain.design import PimtrainError

from .conv_layers import AnalogComposite
from .layers import AnalogLinear

__all__ = ["AnalogMultiheadAttention"]


class AnalogMultiheadAttention(AnalogComposite):
    in_proj_bias = None  # torch's fused fast paths test this attribute; None keeps them off (see docstring)
    _qkv_same_embed_dim = True

    def __init__(self, mha: nn.MultiheadAttention, design, *, next_index, seed: int | None = None):
        super().__init__()
        if not mha._qkv_same_embed_dim or mha.bias_k is not None or mha.add_zero_attn:
            raise PimtrainError("convert: MultiheadAttention with kdim/vdim != embed_dim, add_bias_kv or "
                                "add_zero_attn is not supported; allowed: the defaults (or keep it digital)")
        self.embed_dim, self.num_heads = int(mha.embed_dim), int(mha.num_heads)
        self.head_dim = self.embed_dim // self.num_heads
        self.dropout, self.batch_first = float(mha.dropout), bool(mha.batch_first)
        e = self.embed_dim
        w, b = mha.in_proj_weight, mha.in_proj_bias
        for i, part in enumerate(("q_proj", "k_proj", "v_proj")):
            bias = None if b is None else b[i * e:(i + 1) * e]
            self.add_module(part, AnalogLinear(e, e, bias is not None, design, layer_index=next_index(), seed=seed,
                                               weight=w[i * e:(i + 1) * e], bias_value=bias))
        self.out_proj = AnalogLinear.from_linear(mha.out_proj, design, layer_index=next_index(), seed=seed)

    @classmethod
    def from_mha(cls, mha, design, *, next_index, seed=None):
        return cls(mha, design, next_index=next_index, seed=seed)

    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True, attn_mask=None,
                average_attn_weights: bool = True, is_causal: bool = False):
        unbatched = query.dim() == 2
        if unbatched:
            query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif not self.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        n, tgt, e = query.shape
        src = key.shape[1]
        h, d = self.num_heads, self.head_dim

        def heads(z, length):
            return z.reshape(n, length, h, d).transpose(1, 2)  # (N, H, len, d)

        q, k, v = heads(self.q_proj(query), tgt), heads(self.k_proj(key), src), heads(self.v_proj(value), src)
        scores = (q * (1.0 / math.sqrt(d))) @ k.transpose(-1, -2)  # digital: activation × activation
        if attn_mask is None and is_causal:
            attn_mask = torch.ones(tgt, src, dtype=torch.bool, device=query.device).triu(1)
        if attn_mask is not None:
            mask = attn_mask.reshape(n, h, tgt, src) if attn_mask.dim() == 3 else attn_mask
            scores = scores.masked_fill(mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
        if key_padding_mask is not None:
            kpm = key_padding_mask.reshape(n, 1, 1, src)
            scores = scores.masked_fill(kpm, float("-inf")) if kpm.dtype == torch.bool else scores + kpm
        weights = torch.softmax(scores, dim=-1)
        dropped = F.dropout(weights, self.dropout, self.training) if self.dropout > 0 else weights
        out = self.out_proj((dropped @ v).transpose(1, 2).reshape(n, tgt, e))  # digital product, then a core
        if unbatched:
            out = out.squeeze(0)
        elif not self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        weights = weights.mean(dim=1) if average_attn_weights else weights
        return out, (weights.squeeze(0) if unbatched else weights)
