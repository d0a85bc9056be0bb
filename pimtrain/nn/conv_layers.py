"""More convolutions on analog cores: ``nn.Conv1d``, grouped / depthwise convolutions, ``nn.ConvTranspose2d``.

All three reuse :class:`pimtrain.nn.layers.AnalogLayer` (forward = ``core.vmm``, backward = ``core.mvm``,
update = ``core.opu`` of the saved ``(x, d)`` rows):

- ``AnalogConv1d``: the input ``(B, C, L)`` is unfolded into ``(B·L_out, C·k)`` patches (a 1×k ``unfold``);
  the core holds ``(out, C·k [+1])``, the bias is the array's constant-1 row as for ``AnalogConv2d``.
- ``AnalogGroupedConv``: ``groups`` independent convolutions, one core each (a group's weights are a
  block of the block-diagonal matrix; the zero blocks are not stored). The children are named
  ``groups.0 … groups.{g-1}``, and the cost model charges exactly these matrices.
- ``AnalogConvTranspose2d``: every *input* position is one VMM row ``x (C_in) → (C_out·kh·kw)`` columns on a
  core holding ``(C_out·kh·kw, C_in)``; ``fold`` overlap-adds the columns into the output image (autograd's
  inverse of ``fold`` is ``unfold``, so the backward reaches the core's ``mvm`` with the per-position errors).
  The bias is added *after* the overlap-add, where no array row can carry it: it stays a digital parameter
  (plain SGD in :class:`~pimtrain.nn.optim.AnalogSGD`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pimtrain.design import Design, PimtrainError

from .layers import AnalogConv2d, AnalogLayer, _pair

__all__ = ["AnalogComposite", "AnalogConv1d", "AnalogGroupedConv", "AnalogConvTranspose2d"]


class AnalogComposite(nn.Module):
    """A torch layer made of several analog layers (one core each): a grouped convolution, an LSTM …
    ``convert`` and the cost tracer treat it as one placement whose cores are its analog children."""


def _single(v) -> int:
    return int(v[0]) if isinstance(v, (tuple, list)) else int(v)


def _check_zero_padding(module: nn.Module) -> None:
    mode = getattr(module, "padding_mode", "zeros")
    if mode != "zeros":
        raise PimtrainError(f"convert: {type(module).__name__} padding_mode={mode!r} is not supported; "
                            "allowed: 'zeros'")


class AnalogConv1d(AnalogLayer):
    """``nn.Conv1d`` (groups = 1, zero padding) on one analog core; ``(B, C, L)`` or ``(C, L)`` inputs."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 bias: bool = True, design: Design | str = "ideal", *, layer_index: int = 0,
                 seed: int | None = None, weight: torch.Tensor | None = None,
                 bias_value: torch.Tensor | None = None):
        super().__init__()
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size, self.stride, self.dilation = (_single(kernel_size),), (_single(stride),), (_single(dilation),)
        if padding == "valid":
            padding = 0
        elif padding == "same":
            total = self.dilation[0] * (self.kernel_size[0] - 1)
            if self.stride[0] != 1 or total % 2:
                raise PimtrainError("AnalogConv1d: padding='same' needs stride 1 and an odd dilated kernel; "
                                    "give the padding as a number")
            padding = total // 2
        self.padding = (_single(padding),)
        if weight is None:
            ref = nn.Conv1d(in_channels, out_channels, kernel_size, stride, 0, dilation, bias=bias)
            weight, bias_value = ref.weight, ref.bias
        elif bias and bias_value is None:
            bias_value = torch.zeros(out_channels, device=weight.device)
        expected = (self.out_channels, self.in_channels, self.kernel_size[0])
        if tuple(weight.shape) != expected:
            raise PimtrainError(f"AnalogConv1d: weight shape {tuple(weight.shape)} is not {expected}")
        self._init_core(weight.reshape(self.out_channels, -1), bias_value if bias else None, design,
                        layer_index, seed)

    @classmethod
    def from_conv(cls, conv: nn.Conv1d, design, *, layer_index: int = 0, seed: int | None = None):
        _check_zero_padding(conv)
        if conv.groups != 1:
            raise PimtrainError("AnalogConv1d: groups must be 1 (AnalogGroupedConv splits the groups)")
        return cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, conv.dilation,
                   conv.bias is not None, design, layer_index=layer_index, seed=seed, weight=conv.weight,
                   bias_value=conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        unbatched = x.dim() == 2
        if unbatched:
            x = x.unsqueeze(0)
        batch, _, length = x.shape
        k, s, p, d = self.kernel_size[0], self.stride[0], self.padding[0], self.dilation[0]
        out_len = (length + 2 * p - d * (k - 1) - 1) // s + 1
        patches = F.unfold(x.unsqueeze(2), (1, k), (1, d), (0, p), (1, s))  # (B, C·k, L_out)
        rows = patches.transpose(1, 2).reshape(-1, patches.shape[1])
        y = self._matmul(rows).reshape(batch, out_len, self.out_channels).transpose(1, 2)
        return y.squeeze(0) if unbatched else y

    def weight_tensor(self) -> torch.Tensor:
        return self._weight_2d().reshape(self.out_channels, self.in_channels, self.kernel_size[0])

    def _shape_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}")


class AnalogConvTranspose2d(AnalogLayer):
    """``nn.ConvTranspose2d`` (groups = 1, zero padding) on one analog core; the bias stays digital."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 dilation=1, bias: bool = True, design: Design | str = "ideal", *, layer_index: int = 0,
                 seed: int | None = None, weight: torch.Tensor | None = None,
                 bias_value: torch.Tensor | None = None):
        super().__init__()
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size, self.stride = _pair(kernel_size), _pair(stride)
        self.padding, self.output_padding, self.dilation = _pair(padding), _pair(output_padding), _pair(dilation)
        if weight is None:
            ref = nn.ConvTranspose2d(in_channels, out_channels, kernel_size, stride, padding, output_padding,
                                     bias=bias, dilation=dilation)
            weight, bias_value = ref.weight, ref.bias
        elif bias and bias_value is None:
            bias_value = torch.zeros(out_channels, device=weight.device)
        expected = (self.in_channels, self.out_channels, *self.kernel_size)
        if tuple(weight.shape) != expected:
            raise PimtrainError(f"AnalogConvTranspose2d: weight shape {tuple(weight.shape)} is not {expected}")
        # rows of the core = output columns (C_out, kh, kw) in fold's order; inputs = C_in
        self._init_core(weight.reshape(self.in_channels, -1).t(), None, design, layer_index, seed)
        self.bias = nn.Parameter(bias_value.detach().clone()) if bias else None

    @classmethod
    def from_conv(cls, conv: nn.ConvTranspose2d, design, *, layer_index: int = 0, seed: int | None = None):
        _check_zero_padding(conv)
        if conv.groups != 1:
            raise PimtrainError("AnalogConvTranspose2d: groups must be 1 (AnalogGroupedConv splits the groups)")
        return cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                   conv.output_padding, conv.dilation, conv.bias is not None, design, layer_index=layer_index,
                   seed=seed, weight=conv.weight, bias_value=conv.bias)

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        out = []
        for size, k, s, p, op, d in zip((height, width), self.kernel_size, self.stride, self.padding,
                                        self.output_padding, self.dilation):
            out.append((size - 1) * s - 2 * p + d * (k - 1) + op + 1)
        return out[0], out[1]

    def forward(self, x: torch.Tensor, output_size=None) -> torch.Tensor:
        if output_size is not None:
            raise PimtrainError("AnalogConvTranspose2d: output_size is not supported; set output_padding instead")
        unbatched = x.dim() == 3
        if unbatched:
            x = x.unsqueeze(0)
        batch, channels, height, width = x.shape
        rows = x.permute(0, 2, 3, 1).reshape(-1, channels)  # (B·H·W, C_in)
        cols = self._matmul(rows).reshape(batch, height * width, -1).transpose(1, 2)  # (B, C_out·kh·kw, H·W)
        y = F.fold(cols, self.output_size(height, width), self.kernel_size, self.dilation, self.padding, self.stride)
        if self.bias is not None:
            y = y + self.bias.reshape(1, -1, 1, 1)
        return y.squeeze(0) if unbatched else y

    def weight_tensor(self) -> torch.Tensor:
        return self._weight_2d().t().reshape(self.in_channels, self.out_channels, *self.kernel_size)

    def bias_tensor(self) -> torch.Tensor | None:
        return None if self.bias is None else self.bias.detach()

    def _shape_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, output_padding={self.output_padding}, dilation={self.dilation}")


class AnalogGroupedConv(AnalogComposite):
    """A grouped convolution (``groups > 1``, depthwise included) as ``groups`` analog convolutions, one core
    each (``self.groups[i]``); the input channels are split, each group runs on its core, outputs concatenated."""

    def __init__(self, parts: list[nn.Module], source: nn.Module):
        super().__init__()
        self.groups = nn.ModuleList(parts)
        self.n_groups = len(parts)
        self.kind = type(source).__name__
        for attr in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "output_padding"):
            if hasattr(source, attr):
                setattr(self, attr, getattr(source, attr))

    @classmethod
    def from_conv(cls, conv: nn.Module, design, *, next_index, seed: int | None = None) -> "AnalogGroupedConv":
        """Split ``conv`` (``nn.Conv1d`` / ``nn.Conv2d`` / ``nn.ConvTranspose2d`` with ``groups > 1``)."""
        _check_zero_padding(conv)
        g = int(conv.groups)
        cin, cout = conv.in_channels // g, conv.out_channels // g
        parts: list[nn.Module] = []
        for i in range(g):
            bias = None if conv.bias is None else conv.bias[i * cout:(i + 1) * cout]
            if isinstance(conv, nn.ConvTranspose2d):
                w = conv.weight[i * cin:(i + 1) * cin]
                part = AnalogConvTranspose2d(cin, cout, conv.kernel_size, conv.stride, conv.padding,
                                             conv.output_padding, conv.dilation, bias is not None, design,
                                             layer_index=next_index(), seed=seed, weight=w, bias_value=bias)
            else:
                w = conv.weight[i * cout:(i + 1) * cout]
                layer_cls = AnalogConv1d if isinstance(conv, nn.Conv1d) else AnalogConv2d
                part = layer_cls(cin, cout, conv.kernel_size, conv.stride, conv.padding, conv.dilation,
                                 bias is not None, design, layer_index=next_index(), seed=seed, weight=w,
                                 bias_value=bias)
            parts.append(part)
        return cls(parts, conv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batched = 3 if self.kind == "Conv1d" else 4
        dim = 1 if x.dim() == batched else 0  # the channel dimension
        chunks = x.chunk(self.n_groups, dim=dim)
        return torch.cat([part(c) for part, c in zip(self.groups, chunks)], dim=dim)

    def weight_tensor(self) -> torch.Tensor:
        return torch.cat([part.weight_tensor() for part in self.groups], dim=0)

    def bias_tensor(self) -> torch.Tensor | None:
        biases = [part.bias_tensor() for part in self.groups]
        return None if biases[0] is None else torch.cat(biases)
