"""The cost of one training step (or inference batch), with breakdowns whose parts sum to the totals."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field


@dataclass
class CostReport:
    design: str
    workload: str
    batch_size: int
    inference: bool
    energy_j: float
    latency_s: float
    area_m2: float
    kernel: dict[str, dict] = field(default_factory=dict)
    layer: dict[str, dict] = field(default_factory=dict)
    component: dict[str, dict] = field(default_factory=dict)
    macs: float = 0.0
    static_power: str = "occupied"  # the power-gating policy the leakage was charged with

    @property
    def power_w(self) -> float:
        return self.energy_j / self.latency_s if self.latency_s > 0 else 0.0

    @property
    def ops_per_s(self) -> float:
        return 2.0 * self.macs / self.latency_s if self.latency_s > 0 else 0.0

    def to_json(self) -> dict:
        return {
            "design": self.design,
            "workload": self.workload,
            "batch_size": self.batch_size,
            "inference": self.inference,
            "energy_j": self.energy_j,
            "latency_s": self.latency_s,
            "area_m2": self.area_m2,
            "power_w": self.power_w,
            "macs": self.macs,
            "ops_per_s": self.ops_per_s,
            "static_power": self.static_power,
            "breakdown": {"kernel": self.kernel, "layer": self.layer, "component": self.component},
        }

    def table(self, top: int = 12):
        """A rich table: kernels, then the largest components, then totals."""
        from rich.table import Table

        t = Table(title=f"{'Inference' if self.inference else 'Training-step'} cost: {self.workload} "
                        f"(batch {self.batch_size}) on {self.design}")
        for col in ("part", "energy", "share", "latency"):
            t.add_column(col, justify="left" if col == "part" else "right")
        tot = self.energy_j or 1.0
        for k, v in self.kernel.items():
            t.add_row(f"kernel {k}", _si(v["energy_j"], "J"), f"{100 * v['energy_j'] / tot:.1f} %", _si(v["latency_s"], "s"))
        comps = sorted(self.component.items(), key=lambda kv: -kv[1]["energy_j"])[:top]
        for k, v in comps:
            t.add_row(f"component {k}", _si(v["energy_j"], "J"), f"{100 * v['energy_j'] / tot:.1f} %", "")
        t.add_row("[bold]total[/]", _si(self.energy_j, "J"), "100 %", _si(self.latency_s, "s"))
        t.caption = (f"area {self.area_m2 * 1e6:.4g} mm², power {_si(self.power_w, 'W')}, {_si(self.ops_per_s, 'op/s')}; "
                     f"leakage: {'every block of the chip' if self.static_power == 'chip' else 'occupied blocks only (rest power-gated)'}")
        return t


def _si(x: float, unit: str) -> str:
    if x == 0:
        return f"0 {unit}"
    for f, p in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"), (1e-15, "f")):
        if abs(x) >= f:
            return f"{x / f:.4g} {p}{unit}"
    return f"{x:.3g} {unit}"


def build_report(led, hw, placement, wl, names, batch_size, inference) -> CostReport:
    kernel: dict[str, dict] = {}
    layer: dict[str, dict] = {n: {"energy_j": 0.0, "latency_s": 0.0, "macs": 0.0} for n in names}
    comp_e: dict[str, float] = defaultdict(float)
    kern_e: dict[str, float] = defaultdict(float)
    for (k, ly, c), e in led.energy.items():
        kern_e[k] += e
        layer[ly]["energy_j"] += e
        comp_e[c] += e
    kern_t: dict[str, float] = defaultdict(float)
    for (k, ly), t in led.latency.items():
        kern_t[k] += t
        layer[ly]["latency_s"] += t
    kern_m: dict[str, float] = defaultdict(float)
    for (k, ly), mm in led.macs.items():
        kern_m[k] += mm
        layer[ly]["macs"] += mm
    for k in ("forward", "backward", "update", "digital", "leakage"):
        if k in kern_e or k in kern_t:
            kernel[k] = {"energy_j": kern_e.get(k, 0.0), "latency_s": kern_t.get(k, 0.0), "macs": kern_m.get(k, 0.0)}
    component: dict[str, dict] = {}
    area = 0.0
    for name, c in hw.components.items():
        if c.role == "array":
            n = placement.arrays_needed if not placement.limited else placement.arrays_per_chip
            a = c.area * n * c.count
        else:
            a = c.area * hw.multiplicity(c, placement)
        area += a
        component[name] = {"energy_j": comp_e.get(name, 0.0), "area_m2": a}
    energy = sum(kern_e.values())
    latency = sum(kern_t.values())
    return CostReport(hw.design.name, getattr(wl, "name", "workload"), batch_size, inference, energy, latency, area,
                      kernel, layer, component, macs=sum(kern_m.values()),
                      static_power=hw.design.hierarchy.static_power)
