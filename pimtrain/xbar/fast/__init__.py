"""CPU fast path of the analog core (numba kernels): see README.md in this folder."""
from .update import FastDense, FastRank1, available, compile_note, compile_seconds, enabled, refusal, select_dense, select_rank1, warmup, warmup_dense, warmup_mlp

__all__ = ["FastDense", "FastRank1", "select_dense", "warmup_dense", "available", "compile_note", "compile_seconds", "enabled", "refusal", "select_rank1", "warmup", "warmup_mlp"]
