"""CPU fast path of the analog core (numba kernels): see README.md in this folder."""
from .update import FastRank1, available, compile_note, compile_seconds, enabled, refusal, select_rank1, warmup, warmup_mlp

__all__ = ["FastRank1", "available", "compile_note", "compile_seconds", "enabled", "refusal", "select_rank1", "warmup", "warmup_mlp"]
