"""The training loop: analog training (``train``) and its float reference (``train_float``).

Both run the *same* loop (:func:`epoch_once`); only the model and the optimizer differ:

- ``train``: ``convert(model, design)`` + :class:`~pimtrain.nn.optim.AnalogSGD` (forward VMM, backward
  MVM and update OPU in the design's cores);
- ``train_float``: the float model + ``torch.optim.SGD``.

So ``pimtrain bench training`` can time one against the other per epoch, and with the ``ideal`` design the
two give the same losses to float rounding.

Speed: the dataset stays in tensors on the compute device; each epoch draws one permutation from a
generator seeded by ``seed``, gathers the shuffled data once and splits it into batch *views*; the loss
is accumulated on the device and read once per epoch. No DataLoader, no ``.item()`` per step.
Mean cross-entropy over each batch; ``train_loss`` is the mean over all training samples of the epoch.

Divergence: the losses are checked about :data:`PROGRESS_UPDATES_PER_EPOCH` times per epoch (one sync
each), the weights and the test outputs after every epoch; a non-finite one stops training with a
:class:`~pimtrain.design.errors.DivergenceError` naming the epoch, the step and sample, and the likely
cause (exit status 3 in the CLI). A run whose test accuracy stays at chance for its last epochs gets a
warning (``TrainResult.warnings``, ``at_chance``).
"""
from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from pimtrain.design import Design, PimtrainError, load_design
from pimtrain.design.models import SEED_MAX
from pimtrain.design.errors import DivergenceError

from .convert import analog_layers, convert
from .datasets import Dataset, load_dataset
from .models import default_model
from .optim import AnalogSGD

__all__ = ["TrainResult", "TrainingSession", "epoch_once", "evaluate", "setup_analog", "setup_float",
           "train", "train_float", "summed_stats", "resolve_device"]

DEFAULT_EPOCHS = 10
DEFAULT_BATCH_SIZE = 1
DEFAULT_LR = 0.1
EVAL_BATCH_SIZE = 4096
PROGRESS_UPDATES_PER_EPOCH = 50
CHANCE_EPOCHS = 3  # epochs at the end of a run checked for chance accuracy
CHANCE_MARGIN = 0.05  # "at chance": test accuracy below 1/n_classes + this


class NonFiniteLoss(Exception):
    """Raised by :func:`epoch_once` at the first step whose loss is not finite (``step``, 0-based)."""

    def __init__(self, step: int, value: float):
        super().__init__(step, value)
        self.step, self.value = step, value


# ----------------------------------------------------------------------------------------------- loop
def epoch_once(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
               batch_size: int, generator: torch.Generator,
               advance: Callable[[int], None] | None = None) -> torch.Tensor:
    """One epoch of SGD over ``(x, y)`` in the order drawn from ``generator``; the per-step losses.

    Returns a 1-D tensor (on ``x``'s device, not synchronised) with the mean cross-entropy of every
    step. ``advance(k)`` is called after every chunk of ``k`` steps (progress display), about
    :data:`PROGRESS_UPDATES_PER_EPOCH` times per epoch; the losses of each such chunk are checked then
    (one sync), and :class:`NonFiniteLoss` is raised at the first non-finite one.
    """
    order = torch.randperm(x.shape[0], generator=generator).to(x.device)
    x_batches = x.index_select(0, order).split(batch_size)
    y_batches = y.index_select(0, order).split(batch_size)
    steps = len(x_batches)
    chunk = steps if advance is None else max(1, math.ceil(steps / PROGRESS_UPDATES_PER_EPOCH))
    losses: list[torch.Tensor] = []
    append = losses.append
    zero_grad, step, cross_entropy = optimizer.zero_grad, optimizer.step, F.cross_entropy
    for start in range(0, steps, chunk):
        for xb, yb in zip(x_batches[start:start + chunk], y_batches[start:start + chunk]):
            zero_grad()
            loss = cross_entropy(model(xb), yb)
            loss.backward()
            step()
            append(loss.detach())
        recent = torch.stack(losses[start:])
        if not bool(torch.isfinite(recent).all()):
            bad = int((~torch.isfinite(recent)).nonzero()[0, 0])
            raise NonFiniteLoss(start + bad, float(recent[bad]))
        if advance is not None:
            advance(min(chunk, steps - start))
    return torch.stack(losses)


def sample_mean_loss(step_losses: torch.Tensor, n_samples: int, batch_size: int) -> torch.Tensor:
    """Mean loss per sample from per-batch mean losses (the last batch may be smaller)."""
    full, rest = divmod(n_samples, batch_size)
    if rest == 0:
        return step_losses.mean()
    weights = torch.full((full + 1,), float(batch_size), device=step_losses.device)
    weights[-1] = rest
    return (step_losses * weights).sum() / n_samples


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = EVAL_BATCH_SIZE,
             check_finite: bool = False):
    """Classification accuracy of ``model`` on ``(x, y)`` in batches of ``batch_size`` (one sync).

    With ``check_finite``: ``(accuracy, all outputs finite)``."""
    was_training = model.training
    model.eval()
    correct = torch.zeros((), dtype=torch.int64, device=x.device)
    finite = torch.ones((), dtype=torch.bool, device=x.device)
    for xb, yb in zip(x.split(batch_size), y.split(batch_size)):
        out = model(xb)
        correct += (out.argmax(dim=1) == yb).sum()
        if check_finite:
            finite &= torch.isfinite(out).all()
    model.train(was_training)
    accuracy = correct.item() / max(len(y), 1)
    return (accuracy, bool(finite)) if check_finite else accuracy


# -------------------------------------------------------------------------------------------- results
def summed_stats(model: nn.Module) -> tuple[dict, list[dict]]:
    """The numeric ``core.stats`` of all analog layers summed, and the per-layer copies."""
    per_layer, total = [], {}
    for layer in analog_layers(model):
        stats = dict(getattr(layer.core, "stats", {}) or {})
        per_layer.append({"layer_index": layer.layer_index, "type": type(layer).__name__, **stats})
        for key, value in stats.items():
            if key.endswith("_activity"):  # a fraction per layer: not summed
                continue
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                total[key] = total.get(key, 0) + value
            elif isinstance(value, torch.Tensor) and value.numel() == 1:
                total[key] = total.get(key, 0) + value.item()
    return total, per_layer


@dataclass
class TrainResult:
    """What a training run returns.

    ``epochs``: one dict per epoch ``{epoch, train_loss, test_accuracy, seconds}`` (``seconds`` = the
    training part of the epoch, evaluation excluded). ``stats``: the cores' counters summed over layers
    (``layer_stats`` per layer; empty for float runs), read by the cost model.
    """

    design: str
    dataset: str
    epochs: list[dict]
    final_test_accuracy: float
    model: nn.Module = field(repr=False)
    stats: dict = field(default_factory=dict)
    layer_stats: list[dict] = field(default_factory=list)
    config: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    at_chance: bool = False

    def to_json(self, cost: dict | None = None) -> dict:
        """The ``pimtrain train --json`` object as a JSON-ready dict (``cost`` added when given).

        ``run`` says what the run ran on: data split and its origin, network, lr, batch size, seed, and
        the pimtrain and torch versions."""
        out = {"design": self.design, "dataset": self.dataset, "epochs": [dict(e) for e in self.epochs],
               "final_test_accuracy": self.final_test_accuracy, "at_chance": self.at_chance,
               "warnings": list(self.warnings), "run": dict(self.config)}
        if cost is not None:
            out["cost"] = cost
        return out

    def dumps(self, cost: dict | None = None, indent: int | None = None) -> str:
        """:meth:`to_json` as a string."""
        return json.dumps(self.to_json(cost), indent=indent)


# -------------------------------------------------------------------------------------------- session
def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None``/'auto': CUDA when present, else CPU."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError):
        raise PimtrainError(f"device: {device!r} is not a torch device; allowed: auto, cpu, cuda, cuda:N") from None


@dataclass
class TrainingSession:
    """A model, its optimizer, the data on the device and the data-order generator, ready to train.

    ``run_epoch()`` trains one epoch and returns the per-step losses (unsynchronised): the unit that
    ``pimtrain bench training`` times for analog and float sessions alike.
    """

    label: str
    model: nn.Module
    optimizer: torch.optim.Optimizer
    data: Dataset
    batch_size: int
    generator: torch.Generator
    seed: int
    device: torch.device
    epochs_done: int = 0
    lr: float | None = None
    suspects: tuple[str, ...] = ()  # design values that may make training diverge (named in the error)

    def run_epoch(self, advance: Callable[[int], None] | None = None) -> torch.Tensor:
        from .fast_epoch import epoch_driver  # batch-1 MLPs on CPU: the loop over samples in numba (else None)

        driver = epoch_driver(self)
        if driver is not None:
            return driver.run(advance)
        self.model.train()
        losses = epoch_once(self.model, self.optimizer, self.data.train_x, self.data.train_y,
                            self.batch_size, self.generator, advance)
        self.epochs_done += 1
        return losses

    def evaluate(self) -> float:
        return evaluate(self.model, self.data.test_x, self.data.test_y)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.data.train_y) / self.batch_size)

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def fit(self, epochs: int, progress: bool = True) -> list[dict]:
        """Train ``epochs`` epochs; one dict per epoch (see :class:`TrainResult`).

        Raises :class:`~pimtrain.design.errors.DivergenceError` on a non-finite loss, weight or output."""
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        n_train = len(self.data.train_y)
        records = []
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        console = Console(stderr=True)
        progress = progress and console.is_terminal  # piped or captured stderr: no bar (it left an empty line)
        with Progress(*columns, console=console, transient=True, disable=not progress) as bar:
            task = bar.add_task(self.label, total=epochs * self.steps_per_epoch)
            advance = (lambda k: bar.advance(task, k)) if progress else None
            for _ in range(epochs):
                start = time.perf_counter()
                try:
                    losses = self.run_epoch(advance)
                except NonFiniteLoss as exc:
                    self.epochs_done += 1
                    raise self._diverged(f"the loss is {exc.value} at step {exc.step + 1} of "
                                         f"{self.steps_per_epoch}", exc.step) from None
                except RuntimeError as exc:
                    if "overflow" not in str(exc):
                        raise
                    self.epochs_done += 1
                    raise self._diverged(f"a number overflows float32 ({exc})", None) from None
                train_loss = sample_mean_loss(losses, n_train, self.batch_size).item()  # the epoch's one sync
                seconds = time.perf_counter() - start
                bad = _nonfinite_weights(self.model)
                if bad:
                    raise self._diverged(f"a weight of {bad} is not finite after the epoch", None)
                accuracy, finite = evaluate(self.model, self.data.test_x, self.data.test_y, check_finite=True)
                if not finite:
                    raise self._diverged("the network's output on the test set is not finite", None)
                records.append({"epoch": self.epochs_done, "train_loss": train_loss,
                                "test_accuracy": accuracy, "seconds": seconds})
                bar.update(task, description=f"{self.label} epoch {self.epochs_done}: loss {train_loss:.4f}, "
                                             f"test accuracy {accuracy:.4f}")
        return records

    def _diverged(self, what: str, step: int | None) -> DivergenceError:
        where = f"epoch {self.epochs_done}"
        if step is not None:
            first = step * self.batch_size + 1
            last = min(first + self.batch_size - 1, len(self.data.train_y))
            where += f", step {step + 1} (sample{'s' if last > first else ''} {first}"
            where += f"-{last}" if last > first else ""
            where += " of the epoch's shuffled order)"
        causes = list(self.suspects)
        if isinstance(self.lr, (int, float)) and self.lr > 1:
            causes.insert(0, f"the learning rate {self.lr:g}")
        if not causes:
            lr = f" {self.lr:g}" if isinstance(self.lr, (int, float)) else ""
            causes = [f"the learning rate{lr}", "the design's noise or converter ranges"]
        return DivergenceError(f"training diverged at {where}: {what}; likely cause: {' or '.join(causes)}; "
                               "lower --lr or check those values")


def _nonfinite_weights(model: nn.Module) -> str | None:
    """Name of the first layer holding a non-finite weight (float parameters and analog cores), else None."""
    for name, p in model.named_parameters():
        if not bool(torch.isfinite(p).all()):
            return f"parameter {name!r}"
    for layer in analog_layers(model):
        if not bool(torch.isfinite(layer.core_matrix()).all()):
            return f"analog layer {layer.layer_index}"
    return None


def chance_warning(records: list[dict], n_classes: int) -> str | None:
    """A warning when the test accuracy of the last :data:`CHANCE_EPOCHS` epochs is at chance."""
    last = [r["test_accuracy"] for r in records[-CHANCE_EPOCHS:]]
    chance = 1.0 / max(n_classes, 1)
    if last and max(last) < chance + CHANCE_MARGIN:
        return (f"test accuracy at chance ({100 * max(last):.1f} % at best over the last {len(last)} epoch(s), "
                f"chance {100 * chance:.1f} %): the network did not learn; check lr and the design's noise")
    return None




def _check_seed(seed) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        raise PimtrainError(f"train: seed={seed!r} is not allowed; allowed: an integer in 0..{SEED_MAX}")


def divergence_suspects(design: Design) -> tuple[str, ...]:
    """Design values large or small enough to make training diverge, as ``field value`` texts."""
    out = []
    d = design.device
    for name, value, limit in (("device.read_noise", d.read_noise, 0.5), ("device.write_noise", d.write_noise, 2.0),
                               ("io.forward.output_noise", design.io.forward.output_noise, 0.5),
                               ("io.backward.output_noise", design.io.backward.output_noise, 0.5)):
        if value > limit:
            out.append(f"{name} {value:g}")
    if design.array.w_max < 1e-6:
        out.append(f"array.w_max {design.array.w_max:g}")
    return tuple(out)


def _check_settings(epochs: int, batch_size: int, lr: float) -> None:
    if not (isinstance(epochs, int) and epochs >= 0):
        raise PimtrainError(f"train: epochs={epochs!r} is not allowed; allowed: an integer >= 0")
    if not (isinstance(batch_size, int) and batch_size >= 1):
        raise PimtrainError(f"train: batch_size={batch_size!r} is not allowed; allowed: an integer >= 1")
    if isinstance(lr, bool) or not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise PimtrainError(f"train: lr={lr!r} is not allowed; allowed: a finite positive number")


def _float_model(data: Dataset, model: nn.Module | Callable[[], nn.Module] | None, seed: int) -> nn.Module:
    """The float model to start from: seeded default MLP, a copy of ``model``, or ``model()``."""
    torch.manual_seed(seed)
    if model is None:
        return default_model(data)
    if isinstance(model, nn.Module):
        return copy.deepcopy(model)
    if callable(model):
        return model()
    raise PimtrainError(f"train: model must be an nn.Module or a function returning one, got {type(model).__name__}")


def _session(label: str, model: nn.Module, optimizer_of, data: Dataset, batch_size: int, seed: int,
             device: torch.device, lr: float | None = None) -> TrainingSession:
    model = model.to(device)
    return TrainingSession(label=label, model=model, optimizer=optimizer_of(model), data=data.to(device),
                           batch_size=batch_size, generator=torch.Generator().manual_seed(seed), seed=seed,
                           device=device, lr=lr)


def _dataset(dataset: Dataset | str) -> Dataset:
    return dataset if isinstance(dataset, Dataset) else load_dataset(dataset)


def setup_analog(design: Design | str, dataset: Dataset | str, *, model=None, batch_size: int = DEFAULT_BATCH_SIZE,
                 lr: float = DEFAULT_LR, seed: int = 0, device=None) -> TrainingSession:
    """An analog training session: ``convert(model, design, seed)`` + ``AnalogSGD(lr)``."""
    _check_settings(0, batch_size, lr)
    _check_seed(seed)
    design, data = load_design(design), _dataset(dataset)
    analog = convert(_float_model(data, model, seed), design, seed=seed)
    session = _session(f"{design.name} / {data.name}", analog, lambda m: AnalogSGD(m, lr), data, batch_size, seed,
                       resolve_device(device), lr)
    session.suspects = divergence_suspects(design)
    return session


def setup_float(dataset: Dataset | str, *, model=None, batch_size: int = DEFAULT_BATCH_SIZE,
                lr: float = DEFAULT_LR, seed: int = 0, device=None) -> TrainingSession:
    """The float reference session: the same model and data order with ``torch.optim.SGD(lr)``."""
    _check_settings(0, batch_size, lr)
    _check_seed(seed)
    data = _dataset(dataset)
    return _session(f"float / {data.name}", _float_model(data, model, seed),
                    lambda m: torch.optim.SGD(m.parameters(), lr=lr), data, batch_size, seed, resolve_device(device), lr)


def run_info(session: TrainingSession, config: dict) -> dict:
    """What a run ran on: data split and origin, network, settings, versions (``TrainResult.config``)."""
    import pimtrain

    data = session.data
    return {**config, "dataset": data.name, "split": f"{len(data.train_y)} train / {len(data.test_y)} test",
            "data_origin": data.origin or "given", "data_source": data.source, "network": network_name(session.model),
            "pimtrain_version": pimtrain.__version__, "torch_version": torch.__version__}


def network_name(model: nn.Module) -> str:
    """A short description of the network: ``mlp 64-36-10 (sigmoid)`` or the layer types."""
    linear = [m for m in model.modules() if isinstance(m, nn.Linear) or type(m).__name__ == "AnalogLinear"]
    others = [m for m in model.modules() if isinstance(m, nn.Conv2d) or type(m).__name__ == "AnalogConv2d"]
    acts = sorted({type(m).__name__.lower() for m in model.modules() if isinstance(m, (nn.Sigmoid, nn.ReLU, nn.Tanh))})
    act = f" ({', '.join(acts)})" if acts else ""
    from .layer_registry import plan  # a network with more than Linear / Conv2d: its mapped layer types

    kinds = [p.spec.name for p in plan(model, strict=False) if p.role == "analog"]
    if set(kinds) - {"Linear", "Conv2d"} or any(getattr(type(m), "pim_digital", None) for m in model.modules()):
        counts = {k: kinds.count(k) for k in dict.fromkeys(kinds)}
        extra = sorted({type(m).__name__ for m in model.modules() if getattr(type(m), "pim_digital", None)})
        return ", ".join([f"{n} {k}" for k, n in counts.items()] + extra) + act
    if linear and not others:
        sizes = [linear[0].in_features] + [m.out_features for m in linear]
        return "mlp " + "-".join(map(str, sizes)) + act
    return f"cnn: {len(others)} conv + {len(linear)} linear layers{act}"


def _result(design_name: str, session: TrainingSession, records: list[dict], config: dict) -> TrainResult:
    final = records[-1]["test_accuracy"] if records else session.evaluate()
    stats, layer_stats = summed_stats(session.model)
    warning = chance_warning(records, session.data.n_classes)
    return TrainResult(design=design_name, dataset=session.data.name, epochs=records, final_test_accuracy=final,
                       model=session.model, stats=stats, layer_stats=layer_stats, config=run_info(session, config),
                       warnings=[warning] if warning else [], at_chance=warning is not None)


def train(design: Design | str, dataset: Dataset | str, *, model=None, epochs: int = DEFAULT_EPOCHS,
          batch_size: int = DEFAULT_BATCH_SIZE, lr: float = DEFAULT_LR, seed: int = 0, progress: bool = True,
          device=None) -> TrainResult:
    """Train on ``design``'s analog cores and report per-epoch loss and test accuracy.

    ``model``: None (the dataset's default sigmoid MLP, see :func:`pimtrain.nn.models.default_model`),
    a float ``nn.Module`` (copied, then converted) or a function returning one. ``seed`` seeds the
    initial weights (``torch.manual_seed``), the data order and the cores: the same seed gives
    bit-identical results on the same machine. ``device``: None/'auto' = CUDA when present.
    """
    _check_settings(epochs, batch_size, lr)
    design = load_design(design)
    session = setup_analog(design, dataset, model=model, batch_size=batch_size, lr=lr, seed=seed, device=device)
    records = session.fit(epochs, progress=progress)
    config = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed, "device": str(session.device)}
    return _result(design.name, session, records, config)


def train_float(dataset: Dataset | str, *, model=None, epochs: int = DEFAULT_EPOCHS,
                batch_size: int = DEFAULT_BATCH_SIZE, lr: float = DEFAULT_LR, seed: int = 0, progress: bool = True,
                device=None) -> TrainResult:
    """The float reference of :func:`train`: identical loop, ``nn.Linear`` + ``torch.optim.SGD``."""
    _check_settings(epochs, batch_size, lr)
    session = setup_float(dataset, model=model, batch_size=batch_size, lr=lr, seed=seed, device=device)
    records = session.fit(epochs, progress=progress)
    config = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed, "device": str(session.device)}
    return _result("float", session, records, config)
