"""Where partial sums are accumulated and converted: the three bit-serial accumulation kinds compared by
Neural-PIM (Cao et al., IEEE TC 2022) — ``io.accumulation`` ``digital`` (ISAAC), ``analog_buffered``
(CASCADE) and ``analog`` (Neural-PIM).

One read ``y = x @ M`` (x: (B, in), M: (in, out), the stored ``Wᵀ``) is carried out in integers as the
hardware does it, and quantisation and noise are applied where each dataflow puts them:

- operands: inputs are quantised to ``io.dac_bits`` magnitude bits (range from ``io.input_range``; a
  negative entry is streamed in a second pass with the opposite sign) and streamed bit-serially, one
  bit per cycle (``io.input_bits_per_cycle`` bits per cycle in general); weights are quantised to
  ``array.weight_bits`` magnitude bits (range max|W|), held in a differential pair of columns (W⁺, W⁻),
  each cut into slices of ``array.bits_per_cell`` bits, one slice per bit line; the inputs are cut
  into row tiles of ``array.rows`` (one physical array each).
- every (cycle, bit line) partial sum ``P`` is an integer in ``[0, rows·(2^cb − 1)]`` plus bit-line
  read noise ``N(0, (read_noise·(2^cb−1))²·active rows)`` (``device.read_noise``: the per-cell read
  noise as a fraction of the cell's range, the convention of :mod:`pimtrain.xbar.core`).

Accumulation kinds (``io.accumulation``; the geometry — slices, cycles, conversions — is
:mod:`pimtrain.mapping`'s, shared with the cost):

- ``digital`` (dataflow A; Shafiee et al. ISCA 2016): each bit line's partial sum is converted at every cycle by an
  ``adc_bits`` SAR ADC; ISAAC's weight-flipping encoding (a column whose weights sum above half its
  full scale is stored complemented and recovered digitally) halves the range the ADC must cover. The
  ADC has unit LSB when that range fits ``2^adc − 1`` codes, else a coarser LSB. Noise of the
  converter: ``io.output_noise`` × its full scale (Gaussian, before rounding). Shift-and-add digital.
- ``analog_buffered`` (dataflow B; Chou et al. MICRO 2019): each partial sum is written by a TIA into an RRAM buffer
  array with ``io.buffer_bits`` precision (the cell is programmed to within ±½ LSB of ``buffer_bits``
  over the bit line's full scale: a uniform write-verify tolerance, not a rounding onto integers); the buffer
  arrays accumulate across cycles in analog (R-mapping); low-order bit lines are summed by analog
  summing amplifiers into one group; W⁺ and W⁻ are subtracted there; the group and each remaining
  higher bit line are converted once per read by a signed ``adc_bits`` ADC over its own full scale (``cascade_groups``; 10 conversions per
  16 bit lines as in CASCADE) with the same converter noise; the groups are added digitally.
- ``analog`` (dataflow C; Cao et al. 2022): the W⁺/W⁻ currents are subtracted, and the shift-and-add across
  input cycles and bit lines is done in analog by a cascade of NNS+A stages
  ``acc ← (acc + (base−1)·v)/base`` (LSB first); the result is quantised once per array by the NNADC
  over ``io.output_range``. With ``io.converter: learned`` the trained transfer functions of
  :mod:`pimtrain.xbar.nn_peripherals` (with their device variation) replace the ideal ones, and the
  bit-line amplifier's gain is set so the batch's largest bit-line signal fills the NNS+A input range.

With ideal converters (``adc_bits``/``buffer_bits`` None, ideal peripherals) and no read noise, all
three return the exact integer dot product of the quantised operands (a test).
"""
from __future__ import annotations

import math

import torch

from pimtrain.design import PimtrainError

from pimtrain import mapping
from pimtrain.mapping import cascade_groups

from .quantizers import quantize

#: accumulation kinds read bit-serially here (``single_read`` is the core's one analog read)
DATAFLOWS = ("digital", "analog_buffered", "analog")
_CHUNK = 2048  # rows of x per chunk (bounds the (B, T, K, S, 2, O) partial-sum tensor)


class DataflowParams:
    """Integer geometry of one dataflow read, taken from a design and its kernel I/O block."""

    def __init__(self, design, io):
        if io.accumulation not in DATAFLOWS:
            raise PimtrainError(f"io.accumulation: {io.accumulation!r} is not read bit-serially here; allowed: {', '.join(DATAFLOWS)}")
        self.kind = io.accumulation
        self.rows = int(design.array.rows)
        self.cell_bits = int(design.array.bits_per_cell or 1)
        self.input_bits = int(io.dac_bits or mapping.DEFAULT_INPUT_BITS)
        self.bits_per_cycle = int(io.input_bits_per_cycle)
        self.weight_bits = mapping.weight_bits(design)
        self.adc_bits = io.adc_bits
        self.buffer_bits = io.buffer_bits
        self.read_noise = float(design.device.read_noise)
        self.adc_noise = float(io.output_noise)
        self.learned = io.converter == "learned"
        self.cycles = mapping.input_cycles(design, io)
        self.slices = mapping.weight_slices(design)
        self.cell_max = (1 << self.cell_bits) - 1
        self.x_levels = (1 << self.input_bits) - 1
        self.bias = design.array.weight_mapping == "bias"
        if self.bias and self.kind != "digital":
            raise PimtrainError(f"array.weight_mapping: 'bias' needs io accumulation 'digital' (got {self.kind!r})")
        # 'bias': the weight's bits include its sign; stored as the code w + 2^(weight_bits-1) in one column set
        self.w_levels = (1 << (self.weight_bits - 1)) - 1 if self.bias else (1 << self.weight_bits) - 1
        self.w_bias = 1 << (self.weight_bits - 1) if self.bias else 0
        self.conversions = mapping.conversions_per_output(design, io)  # per output, input pass and row tile

    @property
    def bit_lines(self) -> int:
        """Bit lines (columns) per weight and polarity."""
        return self.slices


# ------------------------------------------------------------------------------------------- operands
def quantize_inputs(x: torch.Tensor, levels: int, r) -> list[tuple[float, torch.Tensor]]:
    """[(sign, integer magnitudes)] passes: non-negative part, and the negative part when present."""
    q = torch.round(x.clamp(-r, r) * (levels / r))
    passes = [(1.0, q.clamp(min=0))]
    if bool((q < 0).any()):
        passes.append((-1.0, (-q).clamp(min=0)))
    return passes


def bit_planes(xq: torch.Tensor, bits: int, per_cycle: int) -> torch.Tensor:
    """(..., in) integers -> (..., in, cycles) digits of ``per_cycle`` bits, least significant first."""
    cycles = math.ceil(bits / per_cycle)
    base = 1 << per_cycle
    xi = xq.to(torch.int64)
    digits = [(xi >> (per_cycle * k)) & (base - 1) for k in range(cycles)]
    return torch.stack(digits, dim=-1).to(torch.float32)


def weight_slices(wq: torch.Tensor, cell_bits: int, slices: int, bias: int = 0) -> torch.Tensor:
    """(in, out) signed integers -> (in, slices, 2, out) cell values of W⁺ and W⁻, least significant first;
    with ``bias`` > 0, (in, slices, 1, out) cells of the biased code ``w + bias`` (one column set)."""
    wi = wq.to(torch.int64)
    m = (1 << cell_bits) - 1
    parts = [wi + bias] if bias else [wi.clamp(min=0), (-wi).clamp(min=0)]
    out = [torch.stack([(v >> (cell_bits * s)) & m for v in parts], dim=1) for s in range(slices)]
    return torch.stack(out, dim=1).to(torch.float32)


def _tiles(t: torch.Tensor, rows: int, dim: int) -> torch.Tensor:
    """Pad dim ``dim`` to a multiple of ``rows`` and split it into (tiles, rows)."""
    n = t.shape[dim]
    tiles = max(1, math.ceil(n / rows))
    pad = tiles * rows - n
    if pad:
        shape = list(t.shape)
        shape[dim] = pad
        t = torch.cat([t, t.new_zeros(shape)], dim=dim)
    return t.reshape(*t.shape[:dim], tiles, rows, *t.shape[dim + 1:])


# ------------------------------------------------------------------------------------------- converters
def sar_adc(v: torch.Tensor, bits: int | None, full_scale, noise: float, gen: torch.Generator | None,
            unit_lsb: bool = False) -> torch.Tensor:
    """Unsigned ADC over [0, full_scale]: Gaussian noise (``noise`` × full scale), rounding, clipping.

    ``unit_lsb``: the signal is an integer count and the ADC resolves single units when the range
    fits its codes (ISAAC); otherwise the LSB is full_scale / (2^bits − 1).
    """
    if bits is None:
        return v
    codes = (1 << bits) - 1
    lsb = full_scale / codes
    if unit_lsb:
        lsb = torch.clamp(torch.as_tensor(lsb, dtype=v.dtype, device=v.device), min=1.0) if isinstance(lsb, torch.Tensor) \
            else max(lsb, 1.0)
    fs = lsb * codes
    if noise > 0:
        v = v + torch.randn(v.shape, generator=gen, device=v.device) * (noise * fs)
    return quantize(v, codes, None, lower=0, step=lsb)


def _bitline_noise(p: torch.Tensor, active: torch.Tensor, sigma_cell: float, gen) -> torch.Tensor:
    if sigma_cell <= 0:
        return p
    return p + torch.randn(p.shape, generator=gen, device=p.device) * (sigma_cell * active.clamp(min=0).sqrt())


# ------------------------------------------------------------------------------------------- dataflows
def _partials(xb: torch.Tensor, ws: torch.Tensor) -> torch.Tensor:
    """xb (B, T, R, K) bits, ws (T, R, S, 2, O) cells -> (B, T, K, S, 2, O) bit-line partial sums."""
    return torch.einsum("btrk,trspo->btkspo", xb, ws)


def _isaac(p, active, ws_sum, xsum, fp: DataflowParams, gen):
    """A: per-cycle, per-bit-line ADC (flip encoding), digital shift-and-add. Returns (B, T, O) integers."""
    full = fp.rows * fp.cell_max
    flip = (ws_sum > full / 2)[:, None]  # (T, 1, S, 2, O): columns stored complemented
    p = torch.where(flip, fp.cell_max * xsum[..., None, None, None] - p, p)
    p = _bitline_noise(p, active[..., None, None, None], fp.read_noise * fp.cell_max, gen)
    q = sar_adc(p, fp.adc_bits, full / 2, fp.adc_noise, gen, unit_lsb=True)
    q = torch.where(flip, fp.cell_max * xsum[..., None, None, None] - q, q)
    if fp.bias:  # one biased column set: the bias × Σx of each row tile subtracted digitally
        k = torch.tensor([float(1 << (fp.bits_per_cycle * i)) for i in range(xsum.shape[2])], device=q.device)
        return _shift_add(q[:, :, :, :, 0], fp) - fp.w_bias * torch.einsum("btk,k->bt", xsum, k)[..., None]
    return _shift_add(q[:, :, :, :, 0] - q[:, :, :, :, 1], fp)


def _shift_add(d: torch.Tensor, fp: DataflowParams) -> torch.Tensor:
    """(B, T, K, S, O) -> Σ_k Σ_s 2^(bpc·k) 2^(cb·s) d (exact digital shift-and-add)."""
    k = torch.tensor([float(1 << (fp.bits_per_cycle * i)) for i in range(d.shape[2])], device=d.device)
    s = torch.tensor([float(1 << (fp.cell_bits * i)) for i in range(d.shape[3])], device=d.device)
    return torch.einsum("btkso,k,s->bto", d, k, s)


def _cascade(p, active, fp: DataflowParams, gen):
    """B: TIA → RRAM buffer (buffer_bits), analog accumulation, grouped conversions. (B, T, O)."""
    full = fp.rows * fp.cell_max
    p = _bitline_noise(p, active[..., None, None, None], fp.read_noise * fp.cell_max, gen)
    if fp.buffer_bits is not None:  # write-verify tolerance of the buffer cell: ±½ LSB of buffer_bits
        lsb = full / ((1 << fp.buffer_bits) - 1)
        p = p + (torch.rand(p.shape, generator=gen, device=p.device) - 0.5) * lsb
    kw = torch.tensor([float(1 << (fp.bits_per_cycle * i)) for i in range(p.shape[2])], device=p.device)
    acc = torch.einsum("btkspo,k->btspo", p, kw)  # analog accumulation over cycles in the buffer array
    cyc_full = full * float(kw.sum())
    S = fp.slices
    groups = cascade_groups(S)
    low = S - groups + 1  # bit lines 0..low-1 summed into one group; the rest converted one by one
    sw = [float(1 << (fp.cell_bits * i)) for i in range(S)]
    diff = acc[:, :, :, 0] - acc[:, :, :, 1]  # W+ and W- accumulations subtracted by the summing amplifier
    y = 0.0
    for g in range(groups):
        members = list(range(low)) if g == 0 else [low + g - 1]
        val = sum(diff[:, :, s] * sw[s] for s in members)
        fs = cyc_full * sum(sw[s] for s in members)
        y = y + sar_adc(val + fs, fp.adc_bits, 2 * fs, fp.adc_noise, gen) - fs  # signed: offset by full scale
    return y


def _neuralpim(p, active, fp: DataflowParams, gen, peripherals, out_range):
    """C: analog differential sum, NNS+A over cycles then bit lines, one NNADC per array. (B, T, O)."""
    full = fp.rows * fp.cell_max
    p = _bitline_noise(p, active[..., None, None, None], fp.read_noise * fp.cell_max, gen)
    v = (p[:, :, :, :, 0] - p[:, :, :, :, 1]) / full  # (B, T, K, S, O) in [-1, 1]
    gain = 1.0
    if peripherals is not None:  # the bit-line amplifier's gain fills the NNS+A input range with the batch's signal
        gain = 1.0 / float(v.abs().amax().clamp_min(1e-12))
        v = v * gain
    kb, sb = 1 << fp.bits_per_cycle, 1 << fp.cell_bits
    sa_k = peripherals.sa(kb) if peripherals is not None else None
    sa_s = peripherals.sa(sb) if peripherals is not None else None
    acc = torch.zeros_like(v[:, :, 0])
    for k in range(v.shape[2]):  # LSB-first cascade over input cycles: acc <- (acc + (kb-1) v)/kb
        acc = sa_k(acc, v[:, :, k]) if sa_k is not None else (acc + (kb - 1) * v[:, :, k]) / kb
    acc2 = torch.zeros_like(acc[:, :, 0])
    for s in range(v.shape[3]):  # then over bit lines: acc2 <- (acc2 + (sb-1) acc_s)/sb
        acc2 = sa_s(acc2, acc[:, :, s]) if sa_s is not None else (acc2 + (sb - 1) * acc[:, :, s]) / sb
    scale = full * float(kb ** v.shape[2]) / (kb - 1) * float(sb ** v.shape[3]) / (sb - 1) / gain
    if fp.adc_noise > 0:  # the converter's input noise (io.output_noise x its full scale), as the other dataflows
        fs = acc2.abs().amax().clamp_min(1e-30)
        acc2 = acc2 + torch.randn(acc2.shape, generator=gen, device=acc2.device) * (fp.adc_noise * fs)
    if fp.adc_bits is not None:
        r = out_range(acc2) if out_range is not None else acc2.abs().amax().clamp_min(1e-30)
        u = ((acc2 / r).clamp(-1, 1) + 1) / 2  # NNADC input in [0, 1]
        codes = (1 << fp.adc_bits) - 1
        code = peripherals.adc(fp.adc_bits)(u) if peripherals is not None else torch.round(u * codes)
        acc2 = (code / codes * 2 - 1) * r
    return acc2 * scale


def read(x: torch.Tensor, m: torch.Tensor, design, io, generator: torch.Generator | None = None,
         input_range=None, output_range=None, peripherals=None, stats: dict | None = None) -> torch.Tensor:
    """``x @ m`` through dataflow ``io.dataflow`` (x: (B, in), m: (in, out)); real units in and out.

    ``input_range`` / ``output_range``: callables ``t -> range`` (e.g. a :class:`RangePolicy`'s
    ``range``); default max |·|. ``peripherals``: learned NNS+A / NNADC (``io.peripherals: learned``).
    ``stats`` (optional dict) gets ``adc_conversions`` and ``buffer_writes`` added, and ``passes`` (signed input
    passes) and ``tiles`` (row tiles of ``m``) set.
    """
    fp = DataflowParams(design, io)
    if fp.learned and peripherals is None and fp.kind == "analog":
        from .nn_peripherals import default_peripherals

        peripherals = default_peripherals()
    if not fp.learned:
        peripherals = None
    x = x.to(torch.float32)
    m = m.to(torch.float32)
    rx = input_range(x) if input_range is not None else x.abs().amax()
    rx = float(rx) if float(rx) > 0 else 1.0
    rw = float(m.abs().amax()) or 1.0
    wq = torch.round(m * (fp.w_levels / rw))
    tile_rows = min(fp.rows, m.shape[0])  # rows a tile actually uses (full scales stay those of fp.rows)
    ws = _tiles(weight_slices(wq, fp.cell_bits, fp.slices, fp.w_bias), tile_rows, 0)  # (T, R, S, 2 or 1, O)
    ws_sum = ws.sum(dim=1)  # (T, S, 2, O)
    out = torch.zeros(x.shape[0], m.shape[1], device=x.device)
    n_passes = 0
    for sign, xq in quantize_inputs(x, fp.x_levels, rx):
        n_passes += 1
        for lo in range(0, x.shape[0], _CHUNK):
            xb = _tiles(bit_planes(xq[lo:lo + _CHUNK], fp.input_bits, fp.bits_per_cycle), tile_rows, 1)  # (B,T,R,K)
            p = _partials(xb, ws)
            active = xb.sum(dim=2)  # (B, T, K) rows driven per cycle
            if fp.kind == "digital":
                y = _isaac(p, active, ws_sum, (xb * 1.0).sum(dim=2), fp, generator)
            elif fp.kind == "analog_buffered":
                y = _cascade(p, active, fp, generator)
            else:
                y = _neuralpim(p, active, fp, generator, peripherals, output_range)
            out[lo:lo + _CHUNK] += sign * y.sum(dim=1)
    if stats is not None:
        tiles = ws.shape[0]
        stats["adc_conversions"] = stats.get("adc_conversions", 0) + int(
            n_passes * x.shape[0] * m.shape[1] * tiles * fp.conversions)
        stats["passes"], stats["tiles"] = n_passes, tiles
        if fp.kind == "analog_buffered":
            stats["buffer_writes"] = stats.get("buffer_writes", 0) + n_passes * x.shape[0] * m.shape[1] * tiles * 2 * fp.cycles * fp.slices
    return out * (rx / fp.x_levels) * (rw / fp.w_levels)


def exact(x: torch.Tensor, m: torch.Tensor, design, io, input_range=None) -> torch.Tensor:
    """The exact dot product of the quantised operands (what every dataflow implements), real units."""
    fp = DataflowParams(design, io)
    rx = input_range(x) if input_range is not None else x.abs().amax()
    rx = float(rx) if float(rx) > 0 else 1.0
    rw = float(m.abs().amax()) or 1.0
    xq = torch.round(x.clamp(-rx, rx) * (fp.x_levels / rx)).double()
    wq = torch.round(m * (fp.w_levels / rw)).double()
    return (xq @ wq).float() * (rx / fp.x_levels) * (rw / fp.w_levels)


def sinad_db(y: torch.Tensor, ref: torch.Tensor) -> float:
    """Signal-to-noise-and-distortion ratio of ``y`` against ``ref``: 10·log10(Σ ref² / Σ (y − ref)²)."""
    err = (y.double() - ref.double()).pow(2).sum()
    sig = ref.double().pow(2).sum()
    if float(err) == 0.0:
        return math.inf
    return float(10.0 * torch.log10(sig / err))


PHASE_SPREAD = 0.1  # rad: per-row phase spread of the converter-style sine stimulus


def sine_operands(rows: int, samples: int = 1024, n_out: int = 16, periods: int = 67, seed: int = 0):
    """Converter-style test operands: the exact dot product of every output is a full-scale sinusoid.

    One array of ``rows`` rows is driven differentially: the first half of the rows with
    ``u_r(t) = (1 + sin(2π·periods·t/samples + φ_r))/2`` over the full input range [0, 1], the second half
    with ``1 − u_r(t)``. The small per-row phases ``φ_r`` (uniform within ±``PHASE_SPREAD`` rad; the sum
    stays a sinusoid of 99.8 % amplitude) keep the output off the grid of 8-bit input levels — with
    identical rows the output would take only 2^dac_bits values, all on the final quantiser's codes; each output column holds Gaussian magnitudes ``|g|`` on the first half and ``−|g|`` on
    the second, so ``y_j(t) = Σ|g_j| (2u(t) − 1)`` — a zero-mean sinusoid that swings over the whole signed
    range, every column to the same amplitude (columns normalised to equal Σ|g|), so the final converter
    of every dataflow sees a full-scale sine (coherent sampling: ``periods`` and ``samples`` coprime).
    Returns ``(x, m)`` with x: (samples, rows) in [0, 1] (use ``input_range`` 1.0) and m: (rows, n_out).
    """
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(samples, dtype=torch.float64)
    half = rows // 2
    phase = (torch.rand(half, generator=g, dtype=torch.float64) - 0.5) * 2 * PHASE_SPREAD
    u = (0.5 + 0.5 * torch.sin(2 * math.pi * periods * t[:, None] / samples + phase)).float()  # (samples, half)
    x = torch.cat([u, (1 - u)[:, : rows - half]], dim=1).contiguous()
    a = torch.randn(half, n_out, generator=g).abs()
    a = a / a.sum(dim=0, keepdim=True) * float(a.sum(dim=0).mean())
    m = torch.cat([a, -a[: rows - half]], dim=0)  # rows 2·half.. of an odd row count: none
    return x, m


def sinad_fit_db(y: torch.Tensor, ref: torch.Tensor) -> float:
    """Converter SINAD (sine-fit method, as IEEE Std 1241 measures an ADC): per output column, ``y`` is
    fitted by ``a·ref + b`` (least squares; gain and offset errors are not noise or distortion) and
    SINAD = 10·log10(Σ power of the fitted signal (a·ref, zero-mean) / Σ power of the residual)."""
    y, ref = y.double(), ref.double()
    rc = ref - ref.mean(dim=0, keepdim=True)
    yc = y - y.mean(dim=0, keepdim=True)
    a = (rc * yc).sum(dim=0) / rc.pow(2).sum(dim=0).clamp_min(1e-300)
    res = yc - a * rc
    sig = (a * rc).pow(2).sum()
    err = res.pow(2).sum()
    if float(err) == 0.0:
        return math.inf
    return float(10.0 * torch.log10(sig / err))


__all__ = ["read", "exact", "sinad_db", "sinad_fit_db", "sine_operands", "DataflowParams", "DATAFLOWS", "cascade_groups", "sar_adc",
           "bit_planes", "weight_slices", "quantize_inputs"]
