"""The hardware description: validated pydantic models, YAML I/O and named presets.

This package imports nothing else of pimtrain. Everything a design says lives here once; both the
numerics and the cost model read it from here.
"""
from .circuits import CircuitsSpec, ComponentSpec, HierarchySpec, TechnologySpec
from .errors import DesignError, PimtrainError
from .io import (
    atomic_path,
    atomic_write_text,
    design_from_dict,
    design_to_dict,
    load_design,
    preset_names,
    preset_path,
    save_design,
)
from .models import (
    ArraySpec,
    Design,
    DeviceSpec,
    DigitalSpec,
    IOSettings,
    IOSpec,
    LookupTableSpec,
    Provenance,
    PulseSpec,
    RangeSpec,
    SlicingSpec,
    StuckAtSpec,
    UpdateSpec,
)
from .units import parse_quantity

__all__ = [name for name in dir() if not name.startswith("_")]
