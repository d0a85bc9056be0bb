"""A pimtrain design as IBM aihwkit (1.2.0) configuration field values, for the side-by-side comparison.

Pure data: nothing of aihwkit is imported (aihwkit is never a dependency of pimtrain); ``scripts/aihwkit_side.py``
turns the dict into aihwkit objects in its own environment. Field names are those of aihwkit 1.2.0's
``SoftBoundsDevice`` / ``LinearStepDevice``, ``UpdateParameters``, ``IOParameters``, ``TransferCompound``,
``ChoppedTransferCompound`` and ``MappingParameter``.

The device (pimtrain ``pimtrain/devices/soft_bounds.py`` and ``base.py`` against aihwkit's documented models):

- pimtrain's state is ``c`` in [−0.5, 0.5]; with ``array.weight_mapping: offset`` one cell holds one weight,
  ``W = 2·w_max·c``, so W spans [−w_max, w_max] (aihwkit ``w_min``, ``w_max``). One pulse moves ``c`` by
  ``dw_min`` (a fraction of the cell's range), i.e. W by ``2·w_max·dw_min``: aihwkit's ``dw_min`` (weight units)
  of a symmetric device.
- up/down asymmetry: pimtrain's up step is ``dw·(1+up_down)``, its down step ``dw·(1−up_down)``. aihwkit's
  documentation writes the same ``1 ± up_down``, but its code (``src/rpucuda/rpu_pulsed_device.cpp``, populate)
  only *shortens* one direction: up ``dw_min·(1 + min(up_down, 0))``, down ``dw_min·(1 − max(up_down, 0))``.
  The same two steps therefore need ``dw_min = 2·w_max·dw·(1 + |up_down|)`` and ``up_down = 2·ud/(1 + |ud|)``
  (for ud −0.2: aihwkit dw_min 1.2× the pulse, up_down −1/3; up 0.8, down 1.2 pulses, as pimtrain).
- soft bounds (``nonlinearity`` α = 1): pimtrain's up step at W is ``dw·(1+up_down)·(1 − W/w_max)`` and down
  ``dw·(1−up_down)·(1 + W/w_max)``, aihwkit ``SoftBoundsDevice``'s form (its step ∝ 1 − w/bound). For 0 < α < 1 pimtrain's factor
  ``(1 − α u)/(1 − α/2)`` is linear in W with slope ``α/(2−α)`` per w_max: aihwkit ``LinearStepDevice`` with
  ``gamma_up = gamma_down = α/(2−α)`` (``mean_bound_reference``); α = 0 is that with gamma 0 (a constant step).
- write noise: pimtrain adds ``write_noise·dw`` (std) per pulse, not scaled by the soft-bounds factor: aihwkit's
  additive cycle-to-cycle noise ``dw_min_std = write_noise`` with ``mult_noise = False``.
- device-to-device: pimtrain multiplies each cell's steps (both directions) by ``max(0, 1 + σ·ξ)``: aihwkit
  ``dw_min_dtod = σ`` (its ξ also scales both directions of a cell); bounds and up/down get no spread
  (``w_min_dtod = w_max_dtod = up_down_dtod = 0``; aihwkit's defaults 0.3 / 0.3 / 0.01 are overridden).

Pulses: pimtrain ``update.pulse.scheme: stochastic`` draws aihwkit's pulse trains of length ``bl`` with update
management and no BL management: ``desired_bl = bl``, ``update_management = True``, ``update_bl_management =
False``, ``pulse_type = STOCHASTIC_COMPRESSED``.

The algorithm (``update.algorithm``; pimtrain ``pimtrain/xbar/algorithms/``):

- ``sgd``: ``SingleRPUConfig``;
- ``tiki_taka``: ``UnitCellRPUConfig`` + ``TransferCompound`` of two devices (fast A, slow C), ``gamma``,
  ``transfer_every`` in mini-batches (pimtrain counts update calls, one per mini-batch: ``units_in_mbatch``),
  ``n_reads_per_transfer = columns_per_transfer``, the fast learning rate the SGD one (``fast_lr`` 1,
  ``scale_fast_lr``), ``transfer_lr`` absolute (``scale_transfer_lr = False``: pimtrain writes
  ``transfer_lr · read`` whatever the SGD rate), the transfer write with the same pulse trains;
- ``ttv2`` / ``c_ttv2``: ``ChoppedTransferCompound`` (aihwkit's TTv2 is this compound with ``in_chop_prob`` 0),
  ``in_chop_prob = chopper_probability`` (random), no output choppers, a float buffer that keeps what was not
  written (``forget_buffer = False``, ``momentum`` 0), no auto scaling. The buffer threshold: pimtrain writes the
  whole multiples of θ = ``buffer_threshold · 2·dw_min·w_max`` (weight units, one pulse per unit: its
  ``CompoundCore.step``); aihwkit's (``ChoppedTransferCompound``) is ``buffer_granularity · dw_min_A`` =
  ``buffer_granularity · 2·w_max·dw_min``, so ``buffer_granularity = buffer_threshold``. aihwkit then writes ``n`` whole *pulses* (n·dw_min) for n
  thresholds crossed, pimtrain the amount n·θ (through C's stochastic pulse trains): the two transfer the
  same amount only when θ is one pulse, ``buffer_threshold`` 1 (a note is added otherwise).

What has no aihwkit counterpart is refused with a one-line :class:`~pimtrain.design.PimtrainError` naming the
field: differential pairs, other device models, levels, stuck cells, read or programming noise, non-ideal
converters (the comparison runs both sides with exact forward/backward/transfer reads), slices, a reference
array, ``buffer_decay``, several columns per chopped transfer, mixed precision / agad / residual.
"""
from __future__ import annotations

from pimtrain.design import PimtrainError
from pimtrain.design.models import Design, IOSpec

#: algorithms the comparison maps onto aihwkit
ALGORITHMS = ("sgd", "tiki_taka", "ttv2", "c_ttv2")


def _refuse(field: str, got, allowed: str):
    raise PimtrainError(f"aihwkit mapping: {field}: {got!r} has no aihwkit counterpart here; allowed: {allowed}")


def device_fields(design: Design) -> tuple[str, dict]:
    """(aihwkit device class name, its field values) for ``design.device`` on ``design.array``."""
    dev, arr = design.device, design.array
    if dev.model != "soft_bounds":
        _refuse("device.model", dev.model, "soft_bounds")
    if arr.weight_mapping != "offset":
        _refuse("array.weight_mapping", arr.weight_mapping, "offset (one device per weight, as aihwkit's single device)")
    alpha = float(dev.nonlinearity)
    if alpha > 1.0:
        _refuse("device.nonlinearity", alpha, "0..1 (aihwkit's linear step factor cannot clip at zero mid-range)")
    for name in ("read_noise", "programming_noise"):
        if getattr(dev, name) != 0:
            _refuse(f"device.{name}", getattr(dev, name), "0")
    if dev.levels is not None:
        _refuse("device.levels", dev.levels, "null (continuous)")
    if dev.stuck_at.at_gmin or dev.stuck_at.at_gmax:
        _refuse("device.stuck_at", dev.stuck_at.model_dump(), "no stuck cells")
    w_max = float(arr.w_max)
    ud = float(dev.up_down)
    fields = {
        # aihwkit shortens one direction only (see the module docstring): the longer step is dw_min
        "dw_min": 2.0 * w_max * float(dev.dw_min) * (1.0 + abs(ud)),
        "up_down": 2.0 * ud / (1.0 + abs(ud)),
        "w_max": w_max,
        "w_min": -w_max,
        "dw_min_dtod": float(dev.d2d_variation),
        "dw_min_dtod_log_normal": False,
        "dw_min_std": float(dev.write_noise),
        "up_down_dtod": 0.0,
        "w_max_dtod": 0.0,
        "w_min_dtod": 0.0,
        "mult_noise": False,
        "write_noise_std": 0.0,
        "reset_std": 0.0,
        "enforce_consistency": True,
    }
    if alpha == 1.0:
        return "SoftBoundsDevice", fields
    gamma = alpha / (2.0 - alpha)
    fields.update(gamma_up=gamma, gamma_down=gamma, gamma_up_dtod=0.0, gamma_down_dtod=0.0,
                  mean_bound_reference=True, allow_increasing=False)
    return "LinearStepDevice", fields


def update_fields(design: Design) -> dict:
    """aihwkit ``UpdateParameters`` for ``design.update`` (rule and pulse scheme)."""
    upd = design.update
    if upd.rule != "outer_product":
        _refuse("update.rule", upd.rule, "outer_product (aihwkit's parallel pulsed update)")
    if upd.pulse.scheme != "stochastic":
        _refuse("update.pulse.scheme", upd.pulse.scheme, "stochastic (aihwkit's pulse trains)")
    if upd.slicing.slices != 1 or upd.slicing.slice_bits is not None:
        _refuse("update.slicing.slices", upd.slicing.slices, "1")
    if upd.weight_copies != 1 or upd.delta_arrays:
        _refuse("update.weight_copies / delta_arrays", (upd.weight_copies, upd.delta_arrays), "1 / false")
    return {"desired_bl": int(upd.pulse.bl), "fixed_bl": True, "update_management": True,
            "update_bl_management": False, "pulse_type": "STOCHASTIC_COMPRESSED"}


def _io_fields(io: IOSpec | None, field: str) -> dict:
    if io is not None and not io.ideal:
        _refuse(field, "non-ideal converters or noise", "ideal I/O (no dac_bits, adc_bits, output_noise)")
    return {"is_perfect": True}


def algorithm_fields(design: Design, update: dict) -> dict:
    """The RPU config and compound for ``design.update.algorithm``: ``{"config", "compound", "fields"}``."""
    alg = design.update.algorithm
    if alg.kind not in ALGORITHMS:
        _refuse("update.algorithm.kind", alg.kind, ", ".join(ALGORITHMS))
    if alg.kind == "sgd":
        return {"config": "SingleRPUConfig", "compound": None, "fields": {}, "notes": []}
    if alg.reference != "none":
        _refuse("update.algorithm.reference", alg.reference, "none")
    transfer_io = _io_fields(alg.transfer_io, "update.algorithm.transfer_io")
    common = {
        "gamma": float(alg.gamma),
        "transfer_every": float(alg.transfer_every),
        "units_in_mbatch": True,
        "transfer_columns": True,
        "random_selection": False,
        "with_reset_prob": 0.0,
        "fast_lr": 1.0,
        "scale_fast_lr": True,
        "transfer_lr": float(alg.transfer_lr),
        "scale_transfer_lr": False,
        "transfer_forward": transfer_io,
        "transfer_update": dict(update),
    }
    if alg.kind == "tiki_taka":
        fields = {**common, "n_reads_per_transfer": int(alg.columns_per_transfer), "no_self_transfer": True}
        return {"config": "UnitCellRPUConfig", "compound": "TransferCompound", "fields": fields, "notes": []}
    if alg.columns_per_transfer != 1:
        _refuse("update.algorithm.columns_per_transfer", alg.columns_per_transfer,
                "1 (aihwkit's chopped transfer reads one column per transfer)")
    if alg.buffer_decay != 0:
        _refuse("update.algorithm.buffer_decay", alg.buffer_decay, "0 (aihwkit's buffer momentum is another rule)")
    fields = {
        **common, "n_reads_per_transfer": 1,
        "in_chop_prob": float(alg.chopper_probability) if alg.kind == "c_ttv2" else 0.0,
        "in_chop_random": True, "out_chop_prob": 0.0,
        "buffer_granularity": float(alg.buffer_threshold), "auto_granularity": 0.0,
        "step": 1.0, "momentum": 0.0, "forget_buffer": False, "no_buffer": False,
        "auto_scale": False, "correct_gradient_magnitudes": False,
    }
    notes = []
    if alg.buffer_threshold != 1.0:
        notes.append(f"buffer_threshold {alg.buffer_threshold:g} is not one pulse: aihwkit writes "
                     "whole pulses per threshold crossed, pimtrain the threshold amount")
    return {"config": "UnitCellRPUConfig", "compound": "ChoppedTransferCompound", "fields": fields, "notes": notes}


def aihwkit_fields(design: Design) -> dict:
    """Everything the aihwkit side needs to build the same layer as ``design``, as plain JSON-able values.

    ``{"device_class", "device", "update", "forward", "backward", "mapping", "algorithm": {"config",
    "compound", "fields", "notes"}}``; raises :class:`PimtrainError` for what has no counterpart."""
    if design.compute != "analog":
        _refuse("compute", design.compute, "analog")
    device_class, device = device_fields(design)
    update = update_fields(design)
    forward = _io_fields(design.io.forward, "io.forward")
    backward = _io_fields(design.io.backward, "io.backward")
    return {
        "device_class": device_class,
        "device": device,
        "update": update,
        "forward": forward,
        "backward": backward,
        # pimtrain's bias is one more array row driven by 1 (pimtrain/nn/layers.py): an analog bias in aihwkit
        "mapping": {"digital_bias": False},
        "algorithm": algorithm_fields(design, update),
    }
