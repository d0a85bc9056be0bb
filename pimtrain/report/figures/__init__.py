"""Matplotlib figures of pimtrain's results (Agg backend, units on every axis, settings in the title).

Each function takes result dicts (the JSON of a command) and returns a figure; :func:`save` writes it
(PNG / SVG / PDF by suffix, atomically), :func:`to_svg` turns it into inline SVG for the HTML report.
"""
from .common import figure_format, save, to_svg
from .cost import cost_breakdown
from .device import device_response
from .reproduce import reproduction
from .training import epoch_energy, training

__all__ = ["cost_breakdown", "device_response", "reproduction", "training", "epoch_energy", "save", "to_svg",
           "figure_format"]
