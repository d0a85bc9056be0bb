"""The component registry: model name → component class (with its parameter model and default role).

pimtrain's own components (:mod:`pimtrain.cost.components`, :mod:`pimtrain.cost.pim_components`,
:mod:`pimtrain.cost.puma`) register themselves when imported. Other installed packages add components
through the entry-point group ``pimtrain.components`` (as hwcomponents plug-ins do)::

    # pyproject.toml of a plug-in package
    [project.entry-points."pimtrain.components"]
    my_adc = "my_package.adcs:FlashADC"        # a Component subclass
    more = "my_package.components"             # or a module: every Component subclass defined in it

or call :func:`register` (also usable as a class decorator). Discovery runs once, on first lookup;
the built-in components are found by import, so they are there even when pimtrain itself is not
installed with its entry points.

The design package validates each ``circuits.components.<name>`` entry through :func:`validate_spec`
when a design loads (it imports this module by name on first use: ``pimtrain.design`` never imports
``pimtrain.cost`` statically).
"""
from __future__ import annotations

import inspect
import types
import warnings
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

from pydantic import ValidationError

from pimtrain.design import PimtrainError
from pimtrain.design.circuits import COMPONENT_ROLES
from pimtrain.design.units import describe_input

#: The entry-point group a plug-in package declares its components under.
ENTRY_POINT_GROUP = "pimtrain.components"

#: Modules holding pimtrain's own components (imported on first lookup; each registers its classes).
BUILTIN_MODULES = ("pimtrain.cost.components", "pimtrain.cost.pim_components")

#: model name -> component class. The one list of component models.
MODELS: dict[str, type] = {}

_state = {"discovered": False, "discovering": False}

#: What the cost engine calls on a component in each role (methods, properties, or ``params.<field>``).
#: A model can play a role when its class has all of them; checked at design load, so a model swapped
#: into a role it cannot play is one line, not an AttributeError in the middle of costing.
ROLE_NEEDS: dict[str, tuple[str, ...]] = {
    "array": ("read", "outer_product", "program_rows", "read_rows", "update_latency"),
    "input_driver": ("drive",),
    "update_row_driver": ("drive",),
    "update_col_driver": ("drive",),
    "readout": ("convert",),
    "sample_hold": ("sample",),
    "shift_add": ("add",),
    "output_register": ("access",),
    "weight_memory": ("read", "write", "transpose_penalty", "params.capacity_bits", "params.width_bits"),
    "buffer": ("read", "write"),
    "mac": ("mac", "add"),
    "activation": ("op",),
    "router": ("transfer",),
    "static": (),
    "pim_block": ("rows", "params.cols", "params.processing_cols", "params.power_cap"),
    "matrix_unit": ("mvm", "opa", "serial_read", "serial_write"),
    "accumulator": ("accumulate",),
    "periphery": ("active",),
}


def register(cls: type | None = None, *, model: str | None = None, role: str | None = None, replace: bool = False):
    """Register a component class under ``model`` (default ``cls.model``); usable as ``@register``.

    ``role`` overrides the class's default role (``cls.ROLE``). Registering a *different* class under a
    name already taken is an error unless ``replace=True``; registering the same class again is a no-op.
    """
    if cls is None:
        return lambda c: register(c, model=model, role=role, replace=replace)
    from .components import Component

    if not (isinstance(cls, type) and issubclass(cls, Component)):
        raise PimtrainError(f"register: {cls!r} is not a pimtrain.cost.components.Component subclass")
    name = model or cls.__dict__.get("model") or getattr(cls, "model", None)
    if not isinstance(name, str) or not name or name == "component":
        raise PimtrainError(f"register: {cls.__name__} has no model name; set its class attribute 'model'")
    if role is not None:
        if role not in COMPONENT_ROLES:
            raise PimtrainError(f"register: role {role!r} of {name!r} is unknown; allowed: {', '.join(COMPONENT_ROLES)}")
        if cls.ROLE != role:
            cls = type(cls.__name__, (cls,), {"ROLE": role, "__module__": cls.__module__, "__doc__": cls.__doc__})
    elif cls.ROLE not in COMPONENT_ROLES:
        raise PimtrainError(f"register: {cls.__name__}.ROLE {cls.ROLE!r} is unknown; allowed: {', '.join(COMPONENT_ROLES)}")
    old = MODELS.get(name)
    if old is not None and old is not cls and not replace:
        if _same_class(old, cls):
            return cls
        raise PimtrainError(f"register: component model {name!r} is already {old.__module__}.{old.__qualname__}; "
                            f"pass replace=True to replace it with {cls.__module__}.{cls.__qualname__}")
    MODELS[name] = cls
    return cls


def _same_class(a: type, b: type) -> bool:
    return a.__module__ == b.__module__ and a.__qualname__ == b.__qualname__


def unregister(model: str) -> None:
    """Remove ``model`` from the registry (tests; a plug-in that withdraws a component)."""
    MODELS.pop(model, None)


def _entry_points():
    """The installed entry points of :data:`ENTRY_POINT_GROUP` (a function, so tests can replace it)."""
    return list(entry_points(group=ENTRY_POINT_GROUP))


def _register_object(obj: Any, origin: str) -> None:
    from .components import Component

    if isinstance(obj, type) and issubclass(obj, Component):
        register(obj)
    elif isinstance(obj, types.ModuleType):
        for _, member in inspect.getmembers(obj, inspect.isclass):
            if (issubclass(member, Component) and member.__module__ == obj.__name__
                    and "model" in member.__dict__ and member.model != "component"):
                register(member)
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            _register_object(item, origin)
    else:
        raise PimtrainError(f"{origin}: expected a Component subclass, a module or a list of them, got {type(obj).__name__}")


def discover(force: bool = False) -> dict[str, type]:
    """Import the built-in components and load every ``pimtrain.components`` entry point (once).

    An entry point that fails to load is reported with a warning naming it and skipped, so one broken
    plug-in does not stop pimtrain; a name clash between two plug-ins is an error.
    """
    if (_state["discovered"] and not force) or _state["discovering"]:
        return MODELS
    _state["discovering"] = True
    try:
        for mod in BUILTIN_MODULES:
            import_module(mod)
        for ep in _entry_points():
            origin = f"entry point {ep.name!r} ({ep.value}) of group {ENTRY_POINT_GROUP!r}"
            try:
                obj = ep.load()
            except Exception as exc:  # noqa: BLE001  (a broken plug-in: say so, keep going)
                warnings.warn(f"{origin} failed to load: {exc.__class__.__name__}: {exc}", stacklevel=2)
                continue
            _register_object(obj, origin)
        _state["discovered"] = True
    finally:
        _state["discovering"] = False
    return MODELS


def models() -> list[str]:
    """Every registered model name (built-in and plug-in), sorted."""
    return sorted(discover())


def get(model: str) -> type:
    """The component class of ``model``; :class:`PimtrainError` naming the allowed ones if unknown."""
    cls = MODELS.get(model)
    if cls is None:
        cls = discover().get(model)
    if cls is None:
        raise PimtrainError(f"unknown component model {model!r}; allowed: {', '.join(models())}")
    return cls


def can_play(cls: type, role: str) -> bool:
    """Whether component class ``cls`` has everything the engine uses in ``role`` (:data:`ROLE_NEEDS`)."""
    for need in ROLE_NEEDS.get(role, ()):
        if need.startswith("params."):
            if need[7:] not in cls.Params.model_fields:
                return False
        elif not hasattr(cls, need):
            return False
    return True


def roles_of(model: str) -> list[str]:
    """The roles ``model`` can play."""
    cls = get(model)
    return [r for r in ROLE_NEEDS if can_play(cls, r)]


def default_role(model: str) -> str:
    return get(model).ROLE


def params_model(model: str):
    """The pydantic model of ``model``'s parameters."""
    return get(model).Params


def format_params_error(exc: ValidationError, model: str, params_cls) -> str:
    """The first error of a parameter ValidationError as ``params.<key>: <problem> (got ...)``."""
    err = exc.errors()[0]
    loc = [str(p) for p in err.get("loc", ())]
    path = "params." + ".".join(loc) if loc else "params"
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        allowed = ", ".join(sorted(params_cls.model_fields))
        return f"{path}: unknown parameter of model {model!r}; allowed: {allowed}"
    if kind in ("model_type", "dict_type"):
        return f"params: expected a mapping of parameter names to values (got {describe_input(err.get('input'))})"
    msg = err.get("msg", "invalid value")
    msg = msg.removeprefix("Value error, ")
    return f"{path}: {msg} (got {describe_input(err.get('input'))})"


def validate_params(model: str, params: Any) -> Any:
    """``model``'s Params instance for ``params``; ``ValueError('params.<key>: ...')`` when invalid."""
    cls = get(model)
    try:
        return cls.Params.model_validate(params if params is not None else {})
    except ValidationError as exc:
        raise ValueError(format_params_error(exc, model, cls.Params)) from None


def validate_spec(model: str, role: str | None, params: Any) -> tuple[str, dict]:
    """Check one ``circuits.components`` entry at design load: ``(role, params in SI)``.

    Raises ``ValueError`` whose message starts with the sub-field (``model: ...``, ``params.<key>: ...``).
    """
    try:
        cls = get(model)
    except PimtrainError as exc:
        raise ValueError(f"model: {exc}") from None
    role = role or cls.ROLE
    if not can_play(cls, role):
        raise ValueError(f"role: model {model!r} cannot play role {role!r} (the engine needs "
                         f"{', '.join(ROLE_NEEDS[role])}); allowed: {', '.join(roles_of(model))}")
    parsed = validate_params(model, params)
    given = parsed.model_dump(include=set(parsed.model_fields_set))
    return role, given
