"""Device models: how a cell's conductance responds to update pulses and reads.

All models share the conventions of :mod:`pimtrain.devices.base` (centred normalised state, whole-tensor
updates, per-cell constants indexed by row). :func:`make_device` builds the model a design asks for.
"""
from __future__ import annotations

import torch

from pimtrain.design.models import DeviceSpec

from .base import DeviceModel, Request, from_siemens, to_siemens
from .binary import BinaryDevice
from .ideal import IdealDevice
from .linear_step import LinearStepDevice
from .lookup import LookupTable, LookupTableDevice, load_device_tables, read_table
from .nonideal import NoiseSource, StuckAt, quantize_levels
from .pcm import PcmDevice
from .soft_bounds import SoftBoundsDevice

MODELS: dict[str, type[DeviceModel]] = {
    "ideal": IdealDevice,
    "linear_step": LinearStepDevice,
    "soft_bounds": SoftBoundsDevice,
    "lookup_table": LookupTableDevice,
    "binary": BinaryDevice,
    "pcm": PcmDevice,
}


def make_device(spec: DeviceSpec, cell_shape, generator: torch.Generator, noise: NoiseSource | None = None,
                device: torch.device | str = "cpu", base_path: str | None = None) -> DeviceModel:
    """The device model named by ``spec.model`` serving a cell array of ``cell_shape``."""
    cls = MODELS[spec.model]
    if cls is LookupTableDevice:
        return cls(spec, cell_shape, generator, noise, device, base_path=base_path)
    return cls(spec, cell_shape, generator, noise, device)


__all__ = [
    "DeviceModel", "Request", "to_siemens", "from_siemens", "IdealDevice", "LinearStepDevice",
    "SoftBoundsDevice", "PcmDevice", "LookupTableDevice", "BinaryDevice", "LookupTable", "read_table",
    "load_device_tables", "NoiseSource", "StuckAt", "quantize_levels", "make_device", "MODELS",
]
