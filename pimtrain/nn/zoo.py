"""Named networks for ``pimtrain train --model``: ``mlp``, ``cnn``, ``cnn1d``, ``lstm``, ``transformer``.

Every model takes the dataset's flat feature vectors (as :mod:`pimtrain.nn.models`) and reshapes them itself:

- ``lstm``: the features as a sequence of rows (8×8 digits: 8 steps of 8 pixels; otherwise a square image or
  8 steps) → one ``nn.LSTM`` layer (hidden 32) → the last step → linear.
- ``transformer``: the same sequence → a linear embedding (d = 32) + fixed sinusoidal positions → two encoder
  blocks (4-head self-attention, feed-forward 64, post-norm) → the mean over steps → linear. Q, K, V, the
  output projection and the feed-forward are ``nn.Linear`` (on cores after ``convert``); the attention
  scores ``QKᵀ`` and the weighted values ``softmax·V`` are products of two activations and run digitally
  (:class:`SelfAttention` states it to the layer registry).
- ``cnn1d``: the features as one channel of length n → [conv1d k=5 → ReLU → maxpool 4] × 2 → linear.

Sizes are assumptions chosen to train in seconds on the 8×8 digits and the 256-feature file types.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from pimtrain.design import PimtrainError

from .models import cnn, default_model

__all__ = ["MODEL_NAMES", "build_model", "lstm_classifier", "transformer_classifier", "cnn1d", "SelfAttention"]

MODEL_NAMES = ("mlp", "cnn", "cnn1d", "lstm", "transformer")


def _sequence_shape(n_features: int) -> tuple[int, int]:
    """(steps, features per step): a square image's rows, else 8 steps."""
    side = math.isqrt(n_features)
    if side * side == n_features:
        return side, side
    if n_features % 8 == 0:
        return 8, n_features // 8
    raise PimtrainError(f"model: {n_features} features cannot be read as a sequence; allowed: a square number "
                        "or a multiple of 8")


class LastStep(nn.Module):
    """The last time step of a recurrent layer's output ``(B, T, H)``."""

    def forward(self, out):
        return out[0][:, -1]


class SinusoidalPositions(nn.Module):
    """Adds the fixed sinusoidal position code of Vaswani et al. 2017 (a buffer, nothing trained)."""

    def __init__(self, steps: int, dim: int):
        super().__init__()
        pos = torch.arange(steps, dtype=torch.float32).unsqueeze(1)
        freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
        code = torch.zeros(steps, dim)
        code[:, 0::2] = torch.sin(pos * freq)
        code[:, 1::2] = torch.cos(pos * freq)[:, : dim // 2]
        self.register_buffer("code", code)

    def forward(self, x):
        return x + self.code[: x.shape[1]]


class SelfAttention(nn.Module):
    """Multi-head self-attention from four ``nn.Linear`` projections (``q``, ``k``, ``v``, ``out``)."""

    #: read by :func:`pimtrain.nn.layer_registry.plan`: the work of this module outside its children
    pim_digital = "attention scores QKᵀ and softmax·V: products of two activations, digital"

    def __init__(self, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise PimtrainError(f"model: attention dim {dim} is not a multiple of heads={heads}")
        self.heads = heads
        self.q, self.k, self.v, self.out = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x):
        b, t, d = x.shape
        split = lambda z: z.reshape(b, t, self.heads, d // self.heads).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // self.heads), dim=-1)
        return self.out((scores @ v).transpose(1, 2).reshape(b, t, d))


class EncoderBlock(nn.Module):
    """Post-norm transformer encoder block: ``x + attn(x)`` → norm → ``x + ff(x)`` → norm."""

    def __init__(self, dim: int, heads: int, hidden: int):
        super().__init__()
        self.attn = SelfAttention(dim, heads)
        self.norm1 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, dim))
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, x):
        x = self.norm1(x + self.attn(x))
        return self.norm2(x + self.ff(x))


class MeanOverSteps(nn.Module):
    def forward(self, x):
        return x.mean(dim=1)


def lstm_classifier(n_features: int, n_classes: int, hidden: int = 32) -> nn.Sequential:
    steps, width = _sequence_shape(n_features)
    return nn.Sequential(nn.Unflatten(1, (steps, width)), nn.LSTM(width, hidden, batch_first=True), LastStep(),
                         nn.Linear(hidden, n_classes))


def transformer_classifier(n_features: int, n_classes: int, dim: int = 32, heads: int = 4, hidden: int = 64,
                           blocks: int = 2) -> nn.Sequential:
    steps, width = _sequence_shape(n_features)
    return nn.Sequential(nn.Unflatten(1, (steps, width)), nn.Linear(width, dim), SinusoidalPositions(steps, dim),
                         *[EncoderBlock(dim, heads, hidden) for _ in range(blocks)], MeanOverSteps(),
                         nn.Linear(dim, n_classes))


def cnn1d(n_features: int, n_classes: int, channels: tuple[int, int] = (8, 16)) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Unflatten(1, (1, n_features))]
    c, length = 1, n_features
    for out_c in channels:
        layers += [nn.Conv1d(c, out_c, 5, padding=2), nn.ReLU(), nn.MaxPool1d(4)]
        c, length = out_c, length // 4
    if length < 1:
        raise PimtrainError(f"model: cnn1d needs at least 16 features, the dataset has {n_features}")
    layers += [nn.Flatten(), nn.Linear(c * length, n_classes)]
    return nn.Sequential(*layers)


def build_model(name: str, dataset) -> nn.Module:
    """The named network for ``dataset`` (a :class:`~pimtrain.nn.datasets.Dataset`); see the module docstring."""
    key = str(name).strip().lower()
    n, k = dataset.n_features, dataset.n_classes
    if key == "mlp":
        return default_model(dataset)
    if key == "cnn":
        side = math.isqrt(n)
        if side * side != n:
            raise PimtrainError(f"--model cnn: {dataset.name} has {n} features, not a square image; "
                                f"allowed models: {', '.join(m for m in MODEL_NAMES if m != 'cnn')}")
        return cnn((1, side, side), k)
    if key == "cnn1d":
        return cnn1d(n, k)
    if key == "lstm":
        return lstm_classifier(n, k)
    if key == "transformer":
        return transformer_classifier(n, k)
    raise PimtrainError(f"--model: unknown {name!r}; allowed: {', '.join(MODEL_NAMES)}")
