"""Quantities with units, parsed once at load and stored as SI floats.

A design file may write ``1.667 pJ``, ``100 ns``, ``0.0012 mm2`` or ``31 MOhm``; a bare number is
taken as already in SI units. Pint is imported lazily (its registry takes a moment to build) and only
when a string with a unit is met.
"""
from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Annotated, Any

from pydantic import BeforeValidator

# SI base unit of each dimension we accept, spelled for pint.
SI_UNITS = {
    "energy": "joule",
    "time": "second",
    "area": "meter ** 2",
    "power": "watt",
    "conductance": "siemens",
    "resistance": "ohm",
    "voltage": "volt",
    "current": "ampere",
    "frequency": "hertz",
    "length": "meter",
    "capacitance": "farad",
    "bits": "bit",
    "dimensionless": "dimensionless",
}


@lru_cache(maxsize=1)
def _registry():
    import pint

    ureg = pint.UnitRegistry()
    ureg.define("mm2 = millimeter ** 2")
    ureg.define("um2 = micrometer ** 2")
    ureg.define("nm2 = nanometer ** 2")
    return ureg


# '<number> <unit>': a plain decimal number (no thousands separator, no symbols such as √), then a unit
# that starts with a letter. Anything else is refused rather than guessed (pint reads '1,5 V' as 15 V).
_QUANTITY = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*[A-Za-zµμΩ°][A-Za-z0-9µμΩ_ */^()-]*$")


def parse_quantity(value: Any, dimension: str) -> float:
    """Return ``value`` in the SI unit of ``dimension`` as a float.

    Numbers pass through unchanged (they are SI already); strings are parsed with pint and converted.
    Raises ``ValueError`` with a one-line message on a wrong unit or an unparsable string.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a {dimension} quantity, got a boolean")
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a number or a string such as '1 pJ' for a {dimension}, got {type(value).__name__}")
    text = value.strip()
    if len(text) > 100:
        raise ValueError(f"a {dimension} quantity is a short text such as '1 pJ' (got {len(text)} characters)")
    try:
        return float(text)
    except ValueError:
        pass
    if not _QUANTITY.match(text):
        raise ValueError(f"cannot read {text!r} as a {dimension}: write a plain number and a unit, such as "
                         f"'1.5 {_EXAMPLE_UNIT.get(dimension, 'V')}'")
    ureg = _registry()
    try:
        q = ureg.Quantity(text.replace("Ohm", "ohm").replace("MOhm", "Mohm"))
        out = q.to(SI_UNITS[dimension]).magnitude
    except Exception as exc:  # pint raises many types; all mean "not this dimension"
        raise ValueError(f"cannot read {text!r} as a {dimension} (SI unit {SI_UNITS[dimension]}): {exc.__class__.__name__}") from None
    out = float(out)
    if not math.isfinite(out):
        raise ValueError(f"{text!r} is not a finite number")
    return out


_EXAMPLE_UNIT = {"energy": "pJ", "time": "ns", "area": "mm2", "power": "mW", "conductance": "uS", "resistance": "MOhm",
                 "voltage": "V", "current": "uA", "frequency": "GHz", "length": "nm", "capacitance": "fF",
                 "bits": "bit", "dimensionless": ""}


def check_finite(value: Any, _path: str = "") -> Any:
    """``value`` unchanged when every float in it (also inside lists, tuples and dicts) is finite; else
    ValueError naming where inside the value (``params.convert_energy: must be a finite number``). Used by
    the design models' shared base classes on every field."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f".{_path}: must be a finite number" if _path else "must be a finite number")  # "." continues the field path
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            check_finite(v, f"{_path}.{i}" if _path else str(i))
    elif isinstance(value, dict):
        for k, v in value.items():
            check_finite(v, f"{_path}.{k}" if _path else str(k))
    return value


def Quantity(dimension: str):
    """Annotated float type that accepts ``'<number> <unit>'`` strings of ``dimension``."""
    if dimension not in SI_UNITS:
        raise KeyError(dimension)
    return Annotated[float, BeforeValidator(lambda v: parse_quantity(v, dimension))]


Energy = Quantity("energy")
Time = Quantity("time")
Area = Quantity("area")
Power = Quantity("power")
Conductance = Quantity("conductance")
Resistance = Quantity("resistance")
Voltage = Quantity("voltage")
Current = Quantity("current")
Frequency = Quantity("frequency")
Length = Quantity("length")
Capacitance = Quantity("capacitance")


# ------------------------------------------------------------------------------------------ typed SI fields
#: An example of each dimension, quoted in error messages (``expected an energy such as '1.2 pJ'``).
EXAMPLES = {
    "energy": ("an energy", "1.2 pJ"),
    "time": ("a time", "10 ns"),
    "area": ("an area", "0.01 mm2"),
    "power": ("a power", "1 mW"),
    "conductance": ("a conductance", "10 uS"),
    "resistance": ("a resistance", "10 kOhm"),
    "voltage": ("a voltage", "0.9 V"),
    "current": ("a current", "1 uA"),
    "frequency": ("a frequency", "1 GHz"),
    "length": ("a length", "28 nm"),
    "capacitance": ("a capacitance", "1 fF"),
    "bits": ("a number of bits", "8"),
    "dimensionless": ("a number", "8"),
}


class SIDimension:
    """Marker kept in a typed field's metadata: the physical dimension the field holds (for scaling)."""

    __slots__ = ("dimension",)

    def __init__(self, dimension: str):
        self.dimension = dimension

    def __repr__(self) -> str:
        return f"SIDimension({self.dimension!r})"


def describe_input(value: Any) -> str:
    """A short phrase for a bad input in an error message: ``a mapping``, ``a list``, ``null``, ``'x'``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple, set)):
        return "a list"
    if isinstance(value, (int, float, str)):
        text = repr(value)
        return text if len(text) <= 40 else text[:37] + "..."
    return f"a {type(value).__name__}"


def parse_si(value: Any, dimension: str, *, ge: float | None = None, gt: float | None = None,
             le: float | None = None, optional: bool = False) -> float | None:
    """Parse ``value`` to an SI float of ``dimension`` and check it; ``ValueError`` with a one-line message.

    The message never repeats the input; callers add ``(got ...)`` with :func:`describe_input`.
    """
    what, example = EXAMPLES[dimension]
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"expected {what} such as '{example}'")  # noqa: TRY004  (pydantic wants ValueError)
    try:
        if isinstance(value, int) and not isinstance(value, bool):
            num = float(value)  # may overflow for huge ints
        else:
            num = parse_quantity(value, dimension)
    except OverflowError:
        num = math.inf
    except ValueError:
        raise ValueError(f"expected {what} such as '{example}'") from None
    if not math.isfinite(num):
        raise ValueError(f"must be a finite number ({what} such as '{example}')")
    if gt is not None and not num > gt:
        raise ValueError(f"must be > {gt:g}")
    if ge is not None and not num >= ge:
        raise ValueError(f"must be >= {ge:g}")
    if le is not None and not num <= le:
        raise ValueError(f"must be <= {le:g} {SI_UNITS[dimension] if dimension not in ('dimensionless', 'bits') else ''}".rstrip())
    return num


def SIField(dimension: str, *, ge: float | None = 0.0, gt: float | None = None, le: float | None = None,
            optional: bool = False):
    """Annotated float type for a typed parameter: units parsed to SI, finite, bounded.

    ``SIField('energy', le=1.0)`` accepts ``1.2e-12`` or ``'1.2 pJ'``, refuses ``'3 ns'``, a mapping, a
    list, a boolean, ``inf``/``nan``, negatives and values above 1 J, each with a one-line message.
    ``optional=True`` also accepts ``null`` (the component derives the value).
    """
    if dimension not in SI_UNITS:
        raise KeyError(dimension)

    def check(v):
        return parse_si(v, dimension, ge=ge, gt=gt, le=le, optional=optional)

    base = (float | None) if optional else float
    return Annotated[base, SIDimension(dimension), BeforeValidator(check)]
