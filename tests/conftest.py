"""Test-wide settings.

One torch thread: pimtrain's per-step tensors are small, and on a loaded 2-core machine OpenMP
oversubscription makes small parallel kernels (index_add_ in particular) orders of magnitude slower.
"""
import torch

torch.set_num_threads(1)
