"""Device models: response shape, bounds, no-pulse invariance, lookup-table loading."""
from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from pimtrain.design import DeviceSpec, LookupTableSpec, PimtrainError
from pimtrain.design.paths import shared_data_dir
from pimtrain.devices import (
    LookupTableDevice,
    NoiseSource,
    Request,
    make_device,
    read_table,
    to_siemens,
)

MODELS = ["ideal", "linear_step", "soft_bounds", "binary", "pcm"]


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def block(values, shape=(1, 1)):
    v = torch.as_tensor(values, dtype=torch.float32)
    return v.view(-1, *shape).clone()


def step_of(dev, c, r):
    c2 = c.clone()
    dev.step(c2, Request(r=torch.full_like(c, r)))
    return c2 - c


def test_soft_bounds_steps_shrink_towards_bound():
    dev = make_device(DeviceSpec(model="soft_bounds", dw_min=0.01, nonlinearity=1.0), (5, 1, 1), gen())
    c = block([-0.5, -0.25, 0.0, 0.25, 0.45])
    up = step_of(dev, c, 0.01).flatten()
    down = step_of(dev, c, -0.01).flatten()
    assert torch.all(up[1:] < up[:-1])            # smaller going up towards g_max
    assert torch.all(down[1:].abs() > down[:-1].abs())  # larger going down from the top
    assert up[2] == pytest.approx(0.01, rel=1e-6)  # exact at mid-range
    assert torch.all(up > 0) and torch.all(down <= 0)


def test_soft_bounds_reaches_zero_step_at_bound():
    dev = make_device(DeviceSpec(model="soft_bounds", nonlinearity=1.0), (1, 1, 1), gen())
    assert step_of(dev, block([0.5]), 0.01).abs().item() < 1e-7
    assert step_of(dev, block([-0.5]), -0.01).abs().item() < 1e-7


@pytest.mark.parametrize("model", ["linear_step", "soft_bounds"])
def test_asymmetry_sign(model):
    """up_down > 0: up steps larger than down steps (at mid-range), and the reverse for < 0."""
    for ud, bigger_up in ((0.3, True), (-0.3, False)):
        dev = make_device(DeviceSpec(model=model, up_down=ud), (1, 1, 1), gen())
        c = block([0.0])
        up, down = step_of(dev, c, 0.01).item(), -step_of(dev, c, -0.01).item()
        assert (up > down) == bigger_up
        assert up == pytest.approx(0.01 * (1 + ud), rel=1e-5)
        assert down == pytest.approx(0.01 * (1 - ud), rel=1e-5)


@pytest.mark.parametrize("model", MODELS)
def test_stays_within_range_under_noise(model):
    spec = DeviceSpec(model=model, write_noise=2.0, d2d_variation=0.3, g_min=2e-6, g_max=5e-5)
    dev = make_device(spec, (64, 2, 32), gen(1))
    c = torch.rand(64, 2, 32, generator=gen(2)) - 0.5
    for i in range(20):
        r = (torch.rand(64, 2, 32, generator=gen(10 + i)) - 0.5) * 0.8
        dev.step(c, Request(r=r))
        g = to_siemens(c, spec.g_min, spec.g_max)
        assert float(g.min()) >= spec.g_min * (1 - 1e-6) and float(g.max()) <= spec.g_max * (1 + 1e-6)


@pytest.mark.parametrize("model", MODELS)
def test_no_change_without_pulse(model):
    dev = make_device(DeviceSpec(model=model, write_noise=0.5, d2d_variation=0.2), (16, 2, 8), gen(3))
    c = (torch.rand(16, 2, 8, generator=gen(4)) - 0.5)
    if model == "binary":
        c = torch.where(c > 0, 0.5, -0.5)
    r = torch.randn(16, 2, 8, generator=gen(5)) * 0.05
    r[::2] = 0.0
    r[:, :, 3] = 0.0
    before = c.clone()
    dev.step(c, Request(r=r))
    assert torch.equal(c[r == 0], before[r == 0])
    # factored request with zero rows / columns
    a = torch.tensor([0.0, 0.01, -0.02, 0.0] * 4).view(16, 1, 1)
    b = torch.tensor([[1.0, 0.0, -1.0, 0.5, 0.0, 2.0, 1.0, 0.0]]).view(1, 1, 8).expand(1, 2, 8).contiguous()
    before = c.clone()
    dev.step(c, Request(a=a, b=b))
    mask = (a * b) == 0
    assert torch.equal(c[mask.expand_as(c)], before[mask.expand_as(c)])


def test_factored_request_matches_full():
    spec = DeviceSpec(model="soft_bounds", up_down=-0.2, nonlinearity=0.8)
    c0 = torch.rand(6, 2, 5, generator=gen(6)) - 0.5
    a = torch.rand(6, 1, 1, generator=gen(7)) * 0.05  # one sign: fast branch
    b = torch.randn(1, 2, 5, generator=gen(8))
    d1 = make_device(spec, (6, 2, 5), gen()).mean_step(c0, Request(a=a, b=b, a_sign=1), None)
    d2 = make_device(spec, (6, 2, 5), gen()).mean_step(c0, Request(r=a * b), None)
    assert torch.allclose(d1, d2, atol=1e-7)
    d3 = make_device(spec, (6, 2, 5), gen()).mean_step(c0, Request(a=-a, b=b, a_sign=-1), None)
    d4 = make_device(spec, (6, 2, 5), gen()).mean_step(c0, Request(r=-a * b), None)
    assert torch.allclose(d3, d4, atol=1e-7)


def test_levels_and_stuck_at():
    spec = DeviceSpec(model="ideal", levels=5, stuck_at={"at_gmin": 0.1, "at_gmax": 0.1})
    dev = make_device(spec, (200, 1, 10), gen(9))
    c = dev.program(torch.rand(200, 1, 10, generator=gen(10)) - 0.5)
    u = (c + 0.5) * 4
    assert torch.allclose(u, u.round(), atol=1e-5)
    stuck = dev.stuck.keep == 0
    assert 0.1 < stuck.float().mean().item() < 0.3
    dev.step(c, Request(r=torch.full_like(c, 0.3)))
    assert torch.equal(c[stuck], dev.stuck.value[stuck])


def test_write_noise_is_random_walk():
    """std of n pulses' worth of change grows as sqrt(n)."""
    spec = DeviceSpec(model="ideal", dw_min=0.001, write_noise=1.0)
    dev = make_device(spec, (4000, 1, 1), gen(11), NoiseSource(gen(11), pool_size=1 << 16))
    for n in (1, 16):
        c = torch.zeros(4000, 1, 1)
        dev.step(c, Request(r=torch.full_like(c, n * 0.001)))
        assert c.std().item() == pytest.approx(0.001 * np.sqrt(n), rel=0.1)
        assert c.mean().item() == pytest.approx(n * 0.001, rel=0.1)


# ------------------------------------------------------------------------------------------ lookup tables
def _write_table(path, g_bins, cdf, dg, compress=False):
    lines = ["1st Row = Gbins, 2nd Row = CDF Points, 3rd row onward = dG matrix (rows= CDF, columns = Gbins)",
             ",\t".join(f"{v:.8e}" for v in g_bins), ", ".join(f"{v:.4f}" for v in cdf)]
    lines += [", ".join(f"{v:.8e}" for v in row) for row in dg]
    text = "\n".join(lines) + "\n"
    if compress:
        with gzip.open(path.with_suffix(path.suffix + ".gz"), "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)


def _synthetic(folder, compress=False):
    """Up steps that shrink linearly towards the top, down steps that shrink towards the bottom."""
    folder.mkdir(parents=True, exist_ok=True)
    g = np.linspace(10e-6, 110e-6, 21)
    cdf = np.linspace(0, 1, 11)
    frac = (g - g[0]) / (g[-1] - g[0])
    spread = (cdf - 0.5)[:, None] * 0.2e-6
    up = (1.0 - frac)[None, :] * 1e-6 + spread
    down = -(frac[None, :] * 1e-6) + spread
    _write_table(folder / "dG_increasing.txt", g, cdf, up, compress)
    _write_table(folder / "dG_decreasing.txt", g, cdf, down, compress)
    return folder


@pytest.mark.parametrize("compress", [False, True])
def test_lookup_loads_plain_and_gzip(tmp_path, compress):
    folder = _synthetic(tmp_path / "dev", compress)
    name = "dG_increasing.txt.gz" if compress else "dG_increasing.txt"
    tab = read_table(folder / name)
    assert tab.g_bins.shape == (21,) and tab.cdf.shape == (11,) and tab.dg.shape == (11, 21)
    spec = DeviceSpec(model="lookup_table", lookup=LookupTableSpec(paths=[str(folder)], range_fraction=(0.0, 1.0)))
    dev = make_device(spec, (3, 1, 1), gen())
    assert isinstance(dev, LookupTableDevice)
    assert dev.g_min == pytest.approx(10e-6) and dev.g_max == pytest.approx(110e-6)
    c = block([-0.4, 0.0, 0.4])
    up = dev.mean_step(c, Request(r=torch.full_like(c, 0.01)), None).flatten()
    assert torch.all(up[1:] < up[:-1]) and torch.all(up > -0.01)
    down = dev.mean_step(c, Request(r=torch.full_like(c, -0.01)), None).flatten()
    assert torch.all(down[1:].abs() > down[:-1].abs())


def test_lookup_mean_step_scaled_to_request(tmp_path):
    """CrossSim rule: at mid-range the mean response equals the request (scaled by the central average)."""
    folder = _synthetic(tmp_path / "dev")
    spec = DeviceSpec(model="lookup_table", lookup=LookupTableSpec(paths=[str(folder)], range_fraction=(0.0, 1.0)))
    dev = make_device(spec, (20000, 1, 1), gen(3), NoiseSource(gen(3), pool_size=1 << 17))
    c = torch.zeros(20000, 1, 1)
    dev.step(c, Request(r=torch.full_like(c, 1e-3)))
    assert c.mean().item() == pytest.approx(1e-3, rel=0.05)


def test_missing_lookup_file_names_the_field(tmp_path):
    spec = DeviceSpec(model="lookup_table", lookup=LookupTableSpec(paths=[str(tmp_path / "nope")]))
    with pytest.raises(PimtrainError) as err:
        make_device(spec, (2, 1, 2), gen())
    msg = str(err.value)
    assert "device.lookup.paths" in msg and "nope" in msg and "\n" not in msg
    empty = tmp_path / "empty"
    empty.mkdir()
    spec = DeviceSpec(model="lookup_table", lookup=LookupTableSpec(paths=[str(empty)]))
    with pytest.raises(PimtrainError, match="device.lookup.paths"):
        make_device(spec, (2, 1, 2), gen())


def test_real_taox_tables():
    root = shared_data_dir()
    if root is None or not (root / "crosssim" / "TaOx_all" / "1" / "dG_increasing.txt.gz").is_file():
        pytest.skip("shared data folder with crosssim/TaOx_all not found (set PIMTRAIN_DATA)")
    tab = read_table(root / "crosssim/TaOx_all/1/dG_increasing.txt.gz")
    assert tab.dg.shape == (501, 501)
    spec = DeviceSpec(model="lookup_table",
                      lookup=LookupTableSpec(paths=["shared:crosssim/TaOx_all/1", "shared:crosssim/TaOx_all/2"]))
    dev = make_device(spec, (50, 2, 40), gen())
    assert dev.n_tables == 2 and 0 < dev.g_min < dev.g_max
    c = torch.zeros(50, 2, 40)
    dev.step(c, Request(r=torch.full_like(c, 1e-3)))
    assert c.abs().max() <= 0.5 and torch.isfinite(c).all()
    assert c.mean().item() > 0


def test_unit_pair_request_matches_full():
    """Dense differential request (b = pair signs ±1) gives the same step as the full tensor."""
    spec = DeviceSpec(model="soft_bounds", up_down=0.25, nonlinearity=1.0)
    c0 = torch.rand(7, 2, 4, generator=gen(12)) - 0.5
    a = torch.randn(7, 1, 4, generator=gen(13)) * 0.01
    b = torch.tensor([1.0, -1.0]).view(1, 2, 1)
    d1 = make_device(spec, (7, 2, 4), gen()).mean_step(c0, Request(a=a, b=b, b_unit=True), None)
    d2 = make_device(spec, (7, 2, 4), gen()).mean_step(c0, Request(r=a * b), None)
    assert torch.allclose(d1, d2, atol=1e-8)


# ------------------------------------------------------------------------------ packaged device data
@pytest.mark.parametrize("paths", [["package:devices/taox_1", "shared:crosssim/TaOx_all/2"], ["package:devices/enode"],
                                   ["shared:crosssim/ENODe"]])
def test_packaged_tables_work_without_shared_data(monkeypatch, tmp_path, paths):
    monkeypatch.setenv("PIMTRAIN_DATA", str(tmp_path / "absent"))
    spec = DeviceSpec(model="lookup_table", lookup=LookupTableSpec(paths=paths))
    dev = make_device(spec, (50, 2, 40), gen())
    assert dev.n_tables == len(paths) and 0 < dev.g_min < dev.g_max
    c = torch.zeros(50, 2, 40)
    dev.step(c, Request(r=torch.full_like(c, 1e-3)))
    assert torch.isfinite(c).all() and c.mean().item() > 0


def test_packaged_tables_equal_the_raw_tables_reduced():
    """The shipped .npz is the quantile reduction of the raw file (float32), when the raw file is there."""
    import numpy as np

    from pimtrain.design.paths import package_data_file
    from pimtrain.devices.lookup import quantile_table, read_quantiles

    root = shared_data_dir()
    if root is None or not (root / "crosssim" / "ENODe").is_dir():
        pytest.skip("raw tables need the shared data folder (set PIMTRAIN_DATA)")
    _inc, dec = read_quantiles(package_data_file("devices/enode.npz"))
    raw = quantile_table(read_table(root / "crosssim/ENODe/dG_decreasing.txt"))
    assert np.allclose(dec.dq, raw.dq, rtol=1e-6, atol=0) and np.allclose(dec.g_bins, raw.g_bins, rtol=1e-6)


def test_inverse_cdf_sampling_follows_a_skewed_table(tmp_path):
    """A bin whose ΔG is 0 with probability 0.9 and 10 with 0.1: samples follow it, not a Gaussian."""
    import numpy as np

    folder = tmp_path / "skew"
    folder.mkdir()
    g = np.linspace(0.0, 1.0, 5)
    cdf = np.array([0.0, 0.9, 0.9001, 1.0])
    dg = np.array([[0.0] * 5, [0.0] * 5, [10.0] * 5, [10.0] * 5]) * 1e-3
    for name, sign in (("dG_increasing.txt", 1), ("dG_decreasing.txt", -1)):
        rows = [" ".join(map(str, g)), " ".join(map(str, cdf))] + [" ".join(map(str, sign * r)) for r in dg]
        (folder / name).write_text("header\n" + "\n".join(rows) + "\n")
    spec = DeviceSpec(model="lookup_table", lookup=LookupTableSpec(paths=[str(folder)], range_fraction=(0.0, 1.0)))
    dev = make_device(spec, (200, 2, 50), gen())
    c = torch.zeros(200, 2, 50)
    step = dev.mean_step(c, Request(r=torch.full_like(c, dev.dw_min)), None)
    zero_share = float((step.abs() < 1e-6).float().mean())
    assert 0.85 < zero_share < 0.95  # a Gaussian with the same mean and std would almost never give 0


@pytest.mark.parametrize("content, words", [
    ("header\n0 1\n0 1\n0 inf\n0 1\n", ["non-finite"]),
    ("header\n1 0\n0 1\n0 1\n0 1\n", ["increasing"]),
])
def test_bad_table_values_are_one_line_errors(tmp_path, content, words):
    (tmp_path / "t.txt").write_text(content)
    with pytest.raises(PimtrainError) as info:
        read_table(tmp_path / "t.txt")
    assert all(w in str(info.value) for w in words) and "\n" not in str(info.value)


def test_truncated_gzip_table_is_a_one_line_error(tmp_path):
    import gzip

    blob = gzip.compress(("header\n" + "0 1\n" * 200).encode())
    (tmp_path / "t.txt.gz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(PimtrainError, match="truncated or corrupt"):
        read_table(tmp_path / "t.txt.gz")


def test_unknown_package_path_names_what_ships():
    spec = DeviceSpec(model="lookup_table", lookup=LookupTableSpec(paths=["package:devices/nope"]))
    with pytest.raises(PimtrainError, match="package:devices/taox_1") as info:
        make_device(spec, (2, 2, 2), gen())
    assert "\n" not in str(info.value)
