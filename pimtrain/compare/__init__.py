"""Side-by-side comparisons of pimtrain with other tools (their configurations as plain data; no tool imported)."""
from .aihwkit_map import ALGORITHMS, aihwkit_fields

__all__ = ["ALGORITHMS", "aihwkit_fields"]
