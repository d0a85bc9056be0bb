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
    algorithm: dict | None = None  # update.algorithm: its parts of the step (pimtrain.cost.algorithms.summary)

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
            **({"algorithm": self.algorithm} if self.algorithm is not None else {}),
        }

    def table(self, top: int = 12):
        """Two rich tables side by side in one grid: the kernels (energy and latency shares) and the
        largest components plus one 'other' row (energy and area shares); each share column sums to 100 %."""
        from rich.table import Table

        t = Table.grid(padding=(1, 0))
        t.add_row(kernel_table(self.to_json()))
        t.add_row(component_table(self.to_json(), top=top))
        return t


def round_shares(values: list[float], decimals: int = 1) -> list[float]:
    """Percentages of ``values`` rounded so that the rounded shares add up to exactly 100 (largest
    remainder); all zeros when the values sum to zero."""
    total = float(sum(values))
    if total <= 0:
        return [0.0 for _ in values]
    unit = 10 ** decimals
    raw = [100.0 * unit * v / total for v in values]
    floors = [int(r // 1) for r in raw]
    left = 100 * unit - sum(floors)
    for i in sorted(range(len(raw)), key=lambda i: -(raw[i] - floors[i]))[:max(left, 0)]:
        floors[i] += 1
    return [f / unit for f in floors]


def kernel_rows(cost: dict) -> list[dict]:
    """One row per kernel of a cost JSON: energy and latency with their shares of the step (%)."""
    kernels = cost["breakdown"]["kernel"]
    names = list(kernels)
    e_sh = round_shares([kernels[k]["energy_j"] for k in names])
    t_sh = round_shares([kernels[k]["latency_s"] for k in names])
    return [{"kernel": k, "energy_j": kernels[k]["energy_j"], "energy_share": e, "latency_s": kernels[k]["latency_s"],
             "latency_share": t} for k, e, t in zip(names, e_sh, t_sh)]


def component_rows(cost: dict, top: int | None = 12) -> list[dict]:
    """The components of a cost JSON by energy, the ``top`` largest (by energy or area share) and one row for the rest,
    with energy and area shares (%); each share column sums to 100."""
    comps = cost["breakdown"]["component"]
    e_tot = sum(c["energy_j"] for c in comps.values()) or 1.0
    a_tot = sum(c.get("area_m2", 0.0) for c in comps.values()) or 1.0
    big = {k: max(c["energy_j"] / e_tot, c.get("area_m2", 0.0) / a_tot) for k, c in comps.items()}
    order = sorted(comps, key=lambda k: (-comps[k]["energy_j"], -comps[k].get("area_m2", 0.0)))
    if top is not None and len(order) > top + 1:  # the largest by energy or area share, shown by energy
        keep = set(sorted(comps, key=lambda k: -big[k])[:top])
        order = [k for k in order if k in keep] + [k for k in order if k not in keep]
    shown, rest = (order, []) if top is None or len(order) <= top + 1 else (order[:top], order[top:])
    rows = [{"component": k, "energy_j": comps[k]["energy_j"], "area_m2": comps[k].get("area_m2", 0.0)} for k in shown]
    if rest:
        rows.append({"component": f"other ({len(rest)})", "energy_j": sum(comps[k]["energy_j"] for k in rest),
                     "area_m2": sum(comps[k].get("area_m2", 0.0) for k in rest)})
    for r, e, a in zip(rows, round_shares([r["energy_j"] for r in rows]), round_shares([r["area_m2"] for r in rows])):
        r["energy_share"], r["area_share"] = e, a
    return rows


def _title(cost: dict) -> str:
    return (f"{'Inference' if cost.get('inference') else 'Training-step'} cost: {cost.get('workload')} "
            f"(batch {cost.get('batch_size')}) on {cost.get('design')}")


def kernel_table(cost: dict):
    """Rich table of :func:`kernel_rows` with the step's totals."""
    from rich.table import Table

    t = Table(title=_title(cost) + " — by kernel")
    for col in ("kernel", "energy", "share", "latency", "share "):
        t.add_column(col, justify="left" if col == "kernel" else "right")
    for r in kernel_rows(cost):
        t.add_row(r["kernel"], _si(r["energy_j"], "J"), f"{r['energy_share']:.1f} %", _si(r["latency_s"], "s"),
                  f"{r['latency_share']:.1f} %")
    t.add_row("[bold]total[/]", _si(cost["energy_j"], "J"), "100 %", _si(cost["latency_s"], "s"), "100 %")
    leak = cost.get("static_power")
    t.caption = (f"power {_si(cost.get('power_w', 0.0), 'W')}, {_si(cost.get('ops_per_s', 0.0), 'op/s')}; leakage: "
                 f"{'every block of the chip' if leak == 'chip' else 'occupied blocks only (rest power-gated)'}")
    return t


def component_table(cost: dict, top: int | None = 12):
    """Rich table of :func:`component_rows` with the step's energy and the chip's area."""
    from rich.table import Table

    t = Table(title=_title(cost) + " — by component")
    for col in ("component", "energy", "share", "area", "share "):
        t.add_column(col, justify="left" if col == "component" else "right")
    for r in component_rows(cost, top):
        t.add_row(r["component"], _si(r["energy_j"], "J"), f"{r['energy_share']:.1f} %",
                  f"{r['area_m2'] * 1e6:.4g} mm²", f"{r['area_share']:.1f} %")
    t.add_row("[bold]total[/]", _si(cost["energy_j"], "J"), "100 %", f"{cost['area_m2'] * 1e6:.4g} mm²", "100 %")
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
    comp_k: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))  # component -> kernel -> J
    kern_e: dict[str, float] = defaultdict(float)
    for (k, ly, c), e in led.energy.items():
        kern_e[k] += e
        layer[ly]["energy_j"] += e
        comp_e[c] += e
        comp_k[c][k] += e
    kern_t: dict[str, float] = defaultdict(float)
    for (k, ly), t in led.latency.items():
        kern_t[k] += t
        layer[ly]["latency_s"] += t
    kern_m: dict[str, float] = defaultdict(float)
    for (k, ly), mm in led.macs.items():
        kern_m[k] += mm
        layer[ly]["macs"] += mm
    for k in ("forward", "backward", "update", "transfer", "digital", "leakage"):
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
        component[name] = {"energy_j": comp_e.get(name, 0.0), "area_m2": a, "kernel": dict(comp_k.get(name, {}))}
    alg = getattr(led, "algorithm", None)  # update.algorithm: its digital blocks (buffer, ALU, choppers)
    for name, a in (alg or {}).get("components", {}).items():
        area += a
        component[name] = {"energy_j": comp_e.get(name, 0.0), "area_m2": a, "kernel": dict(comp_k.get(name, {}))}
    energy = sum(kern_e.values())
    latency = sum(kern_t.values())
    rep = CostReport(hw.design.name, getattr(wl, "name", "workload"), batch_size, inference, energy, latency, area,
                     kernel, layer, component, macs=sum(kern_m.values()),
                     static_power=hw.design.hierarchy.static_power)
    if alg:
        from .algorithms import summary

        rep.algorithm = summary(alg["parts"], rep)
    return rep
