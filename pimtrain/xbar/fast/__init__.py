"""CPU fast path of the analog core (numba kernels): see README.md in this folder."""
from .update import FastRank1, available, compile_note, compile_seconds, enabled, refusal, select_rank1, warmup

__all__ = ["FastRank1", "available", "compile_note", "compile_seconds", "enabled", "refusal", "select_rank1", "warmup"]
