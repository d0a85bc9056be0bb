"""Latency of pipelined work, following the stages and overlap the design declares (``design.pipeline``)."""
from __future__ import annotations

from pimtrain.design import Design


def read_pipeline_time(design: Design, cycles: int, stage_times: list[float]) -> float:
    """Time of ``cycles`` input cycles through ``design.pipeline.read_stages`` stages: the known stage times
    (missing stages take the longest one), ``Σ stages + (cycles − 1) × max stage``."""
    n = design.pipeline.read_stages
    times = (list(stage_times) + [max(stage_times)] * n)[:n]
    return sum(times) + (cycles - 1) * max(times)


__all__ = ["read_pipeline_time"]
