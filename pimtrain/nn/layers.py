"""Drop-in torch layers whose three training kernels run on an analog core.

``AnalogLinear`` and ``AnalogConv2d`` hold no float weight of their own: the weight lives in a core
built by :func:`pimtrain.xbar.make_core` (``layer.core``), and the layer routes

- the forward pass through ``core.vmm`` (``x @ Wᵀ``),
- the backward pass through ``core.mvm`` (``d @ W``), and
- saves the pair ``(x, d)`` so that :class:`pimtrain.nn.optim.AnalogSGD` can hand it to
  ``core.opu(x, d, lr)`` (``W ← W − lr·dᵀx`` through the design's update rule and device).

Autograd never computes a weight gradient. A zero-size parameter ``analog_ctx`` requires grad only
so that autograd calls the layer's backward even when the input does not require grad (first layer).

**Bias.** As in CrossSim, the bias is one more input row of the array driven by a constant 1: the core
holds the ``(out, in + 1)`` matrix ``[W | b]``, the forward input is ``[x | 1]``, the backward output's
last column (the bias row's error) is dropped, and the update writes the bias with the same outer
product as the weights (``b ← b − lr·dᵀ1``). The bias therefore sees the same device, noise and
quantisation as every other weight. Without bias the core holds ``(out, in)``.

**Convolution.** ``AnalogConv2d`` unfolds the input into patches (``(B·L, C·k·k)`` rows, ``L`` output
positions), runs the same core on all of them, and folds the backward result back onto the image. The
pair saved for the update is the patches and the per-position output errors (``B·L`` rows), so an
outer-product rule writes one rank-1 update per patch, as a crossbar would.

**Shared use.** If a layer is called more than once before the optimizer's ``zero_grad`` (weight
sharing, gradient accumulation), the saved rows are concatenated: ``dᵀx`` over the concatenation is the
summed gradient, exactly as autograd would accumulate it.
"""
from __future__ import annotations

import weakref

import torch
import torch.nn.functional as F
from torch import nn

from pimtrain.design import Design, PimtrainError, load_design

__all__ = ["AnalogLayer", "AnalogLinear", "AnalogConv2d", "build_core", "analog_layer_of"]


def build_core(weight: torch.Tensor, design: Design, layer_index: int = 0, seed: int | None = None):
    """The core that stores ``weight`` (``(out, in)``) on ``design``'s arrays (see :mod:`pimtrain.xbar`).

    A module-level function so that tests can substitute a recording float core.
    """
    from pimtrain.xbar import make_core

    return make_core(weight, design, layer_index=layer_index, seed=seed)


# Registry: id(analog_ctx parameter) -> layer, so that AnalogSGD(model.parameters()) finds the layer of
# a context parameter. Values are weak; a hit is confirmed by identity (ids are reused after GC).
_LAYER_OF_CTX: "weakref.WeakValueDictionary[int, AnalogLayer]" = weakref.WeakValueDictionary()


def analog_layer_of(param: torch.Tensor) -> "AnalogLayer | None":
    """The analog layer whose ``analog_ctx`` is ``param``, or None for an ordinary parameter."""
    layer = _LAYER_OF_CTX.get(id(param))
    if layer is not None and layer.analog_ctx is param:
        return layer
    return None


class _AnalogKernels(torch.autograd.Function):
    """Forward = ``core.vmm``; backward = ``core.mvm``; saves ``(x, d)`` on the layer for the update."""

    @staticmethod
    def forward(ctx, x_rows: torch.Tensor, analog_ctx: torch.Tensor, layer: "AnalogLayer"):
        ctx.layer = layer
        ctx.save_for_backward(x_rows)  # autograd checks it was not changed in place before the backward
        return layer.core.vmm(x_rows)

    @staticmethod
    def backward(ctx, d_rows: torch.Tensor):
        layer = ctx.layer
        (x_rows,) = ctx.saved_tensors
        if layer._saved_d is None:
            layer._saved_x = x_rows
            layer._saved_d = d_rows
        else:  # used twice before zero_grad: the summed gradient is dᵀx over the concatenated rows
            layer._saved_x = torch.cat((layer._saved_x, x_rows))
            layer._saved_d = torch.cat((layer._saved_d, d_rows))
        grad_x = layer.core.mvm(d_rows) if ctx.needs_input_grad[0] else None
        return grad_x, None, None


class AnalogLayer(nn.Module):
    """What every analog layer shares: the core, the saved update pair, device moves and state.

    A subclass builds its 2-D ``(out, in)`` matrix and calls :meth:`_init_core`; its ``forward`` turns
    the input into rows of ``in`` values, calls :meth:`_matmul` and reshapes the result. The reshapes
    are ordinary torch ops, so autograd performs their inverse (e.g. ``fold``) in the backward.
    """

    core: object
    in_rows: int  # inputs of the logical matrix without the bias row
    has_bias: bool

    def _init_core(self, weight_2d: torch.Tensor, bias: torch.Tensor | None, design: Design | str,
                   layer_index: int, seed: int | None) -> None:
        self.design = load_design(design)
        self.layer_index = int(layer_index)
        self.seed = seed
        self.in_rows = weight_2d.shape[1]
        self.has_bias = bias is not None
        with torch.no_grad():
            matrix = weight_2d.detach()
            if not matrix.is_floating_point():
                matrix = matrix.to(torch.float32)
            if bias is not None:
                matrix = torch.cat((matrix, bias.detach().to(matrix).reshape(-1, 1)), dim=1)
            self.core = build_core(matrix.contiguous(), self.design, layer_index=self.layer_index, seed=seed)
        self.analog_ctx = nn.Parameter(torch.empty(0, device=weight_2d.device), requires_grad=True)
        self._saved_x: torch.Tensor | None = None
        self._saved_d: torch.Tensor | None = None
        _LAYER_OF_CTX[id(self.analog_ctx)] = self

    # --- the three kernels ------------------------------------------------------------------------------
    def _matmul(self, x_rows: torch.Tensor) -> torch.Tensor:
        """``[x | 1] @ [W | b]ᵀ`` on the core; through the autograd function when a backward may follow."""
        if self.has_bias:
            x_rows = F.pad(x_rows, (0, 1), value=1.0)
        if torch.is_grad_enabled():
            return _AnalogKernels.apply(x_rows, self.analog_ctx, self)
        return self.core.vmm(x_rows)

    def apply_update(self, lr: float) -> None:
        """Write the saved ``(x, d)`` pair into the core (``core.opu``); nothing when no backward ran."""
        if self._saved_d is not None:
            self.core.opu(self._saved_x, self._saved_d, lr)

    def clear_saved(self) -> None:
        """Forget the saved update pair (called by the optimizer's ``zero_grad``)."""
        self._saved_x = None
        self._saved_d = None

    @property
    def saved_pair(self) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The ``(x, d)`` rows the next update will write (``None, None`` before a backward)."""
        return self._saved_x, self._saved_d

    # --- weights ------------------------------------------------------------------------------------------
    def core_matrix(self) -> torch.Tensor:
        """The effective matrix the core holds: ``(out, in + 1)`` with the bias column, else ``(out, in)``."""
        return self.core.get_weight()

    def _weight_2d(self) -> torch.Tensor:
        return self.core_matrix()[:, : self.in_rows]

    def bias_tensor(self) -> torch.Tensor | None:
        """The effective bias (``(out,)``), or None for a layer without bias."""
        return self.core_matrix()[:, self.in_rows] if self.has_bias else None

    def set_weights(self, weight: torch.Tensor, bias: torch.Tensor | None = None) -> None:
        """Program a new weight (torch shape) and bias into the core."""
        current = self.core_matrix()
        matrix = weight.detach().reshape(weight.shape[0], -1).to(current)
        if matrix.shape[1] != self.in_rows:
            raise PimtrainError(f"set_weights: weight has {matrix.shape[1]} inputs; the layer has {self.in_rows}")
        if self.has_bias:
            if bias is None:
                bias = self.bias_tensor()
            matrix = torch.cat((matrix, bias.detach().to(matrix).reshape(-1, 1)), dim=1)
        self.core.set_weight(matrix)

    # --- device moves and state -----------------------------------------------------------------------------
    def _apply(self, fn, *args, **kwargs):
        """Move the core with the module (``.to(device)``, ``.cuda()``, ``.cpu()``)."""
        super()._apply(fn, *args, **kwargs)
        moved = self.core.to(self.analog_ctx.device)
        if moved is not None:
            self.core = moved
        self.clear_saved()
        return self

    def get_extra_state(self):
        """The core's state travels in the module's ``state_dict`` (key ``<prefix>_extra_state``)."""
        return {"core": self.core.state_dict()}

    def set_extra_state(self, state) -> None:
        self.core.load_state_dict(state["core"])

    def __setstate__(self, state):
        super().__setstate__(state)
        _LAYER_OF_CTX[id(self.analog_ctx)] = self

    def extra_repr(self) -> str:
        fast = getattr(self.core, "fast_path", "")
        return f"{self._shape_repr()}, bias={self.has_bias}, design={self.design.name!r}" + (
            f", fast_path={fast!r}" if fast else ""
        )


class AnalogLinear(AnalogLayer):
    """``nn.Linear`` on an analog core: ``y = x Wᵀ + b`` via ``core.vmm`` (see the module docstring)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, design: Design | str = "ideal",
                 *, layer_index: int = 0, seed: int | None = None, weight: torch.Tensor | None = None,
                 bias_value: torch.Tensor | None = None):
        super().__init__()
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        if weight is None:  # nn.Linear's default initialisation
            ref = nn.Linear(in_features, out_features, bias=bias)
            weight, bias_value = ref.weight, ref.bias
        elif bias and bias_value is None:
            bias_value = torch.zeros(out_features, device=weight.device)
        if tuple(weight.shape) != (self.out_features, self.in_features):
            raise PimtrainError(f"AnalogLinear: weight shape {tuple(weight.shape)} is not (out, in) = "
                                f"({self.out_features}, {self.in_features})")
        self._init_core(weight, bias_value if bias else None, design, layer_index, seed)

    @classmethod
    def from_linear(cls, linear: nn.Linear, design: Design | str, *, layer_index: int = 0,
                    seed: int | None = None) -> "AnalogLinear":
        """An analog copy of ``linear`` (same weight and bias)."""
        return cls(linear.in_features, linear.out_features, linear.bias is not None, design,
                   layer_index=layer_index, seed=seed, weight=linear.weight, bias_value=linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            return self._matmul(x)
        lead = x.shape[:-1]
        return self._matmul(x.reshape(-1, self.in_features)).reshape(*lead, self.out_features)

    def weight_tensor(self) -> torch.Tensor:
        """The effective weight in ``nn.Linear`` shape ``(out, in)``."""
        return self._weight_2d()

    def _shape_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


class AnalogConv2d(AnalogLayer):
    """``nn.Conv2d`` (groups = 1, zero padding) on an analog core through unfold / fold.

    The core holds the ``(out_channels, in_channels·kh·kw [+ 1])`` matrix; every output position is one
    row of the VMM. ``padding`` may be an int or pair (``'same'``/``'valid'`` strings are resolved).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 bias: bool = True, design: Design | str = "ideal", *, layer_index: int = 0,
                 seed: int | None = None, weight: torch.Tensor | None = None,
                 bias_value: torch.Tensor | None = None):
        super().__init__()
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride)
        self.dilation = _pair(dilation)
        self.padding = self._resolve_padding(padding)
        if weight is None:
            ref = nn.Conv2d(in_channels, out_channels, kernel_size, stride, 0, dilation, bias=bias)
            weight, bias_value = ref.weight, ref.bias
        elif bias and bias_value is None:
            bias_value = torch.zeros(out_channels, device=weight.device)
        expected = (self.out_channels, self.in_channels, *self.kernel_size)
        if tuple(weight.shape) != expected:
            raise PimtrainError(f"AnalogConv2d: weight shape {tuple(weight.shape)} is not {expected}")
        self._init_core(weight.reshape(self.out_channels, -1), bias_value if bias else None, design,
                        layer_index, seed)

    def _resolve_padding(self, padding) -> tuple[int, int]:
        if padding == "valid":
            return (0, 0)
        if padding == "same":
            if self.stride != (1, 1):
                raise PimtrainError("AnalogConv2d: padding='same' needs stride 1")
            pads = []
            for k, d in zip(self.kernel_size, self.dilation):
                total = d * (k - 1)
                if total % 2:
                    raise PimtrainError("AnalogConv2d: padding='same' with an even kernel needs asymmetric "
                                        "padding, which is not supported; give the padding as numbers")
                pads.append(total // 2)
            return (pads[0], pads[1])
        return _pair(padding)

    @classmethod
    def from_conv(cls, conv: nn.Conv2d, design: Design | str, *, layer_index: int = 0,
                  seed: int | None = None) -> "AnalogConv2d":
        """An analog copy of ``conv`` (same weight, bias and geometry)."""
        if conv.groups != 1:
            raise PimtrainError(f"convert: Conv2d groups={conv.groups} is not supported; allowed: groups=1")
        if conv.padding_mode != "zeros":
            raise PimtrainError(f"convert: Conv2d padding_mode={conv.padding_mode!r} is not supported; "
                                "allowed: 'zeros'")
        return cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                   conv.dilation, conv.bias is not None, design, layer_index=layer_index, seed=seed,
                   weight=conv.weight, bias_value=conv.bias)

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """Output height and width for an input of ``height`` × ``width``."""
        out = []
        for size, k, s, p, d in zip((height, width), self.kernel_size, self.stride, self.padding, self.dilation):
            out.append((size + 2 * p - d * (k - 1) - 1) // s + 1)
        return out[0], out[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        unbatched = x.dim() == 3
        if unbatched:
            x = x.unsqueeze(0)
        batch, _, height, width = x.shape
        out_h, out_w = self.output_size(height, width)
        patches = F.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)  # (B, CKK, L)
        rows = patches.transpose(1, 2).reshape(-1, patches.shape[1])  # (B·L, CKK)
        y = self._matmul(rows)  # (B·L, out)
        y = y.reshape(batch, out_h * out_w, self.out_channels).transpose(1, 2)
        y = y.reshape(batch, self.out_channels, out_h, out_w)
        return y.squeeze(0) if unbatched else y

    def weight_tensor(self) -> torch.Tensor:
        """The effective weight in ``nn.Conv2d`` shape ``(out, in, kh, kw)``."""
        return self._weight_2d().reshape(self.out_channels, self.in_channels, *self.kernel_size)

    def _shape_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}")

