"""Test-wide settings and shared fixtures.

One torch thread: pimtrain's per-step tensors are small, and on a loaded 2-core machine OpenMP
oversubscription makes small parallel kernels (index_add_ in particular) orders of magnitude slower.
"""
import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def reproduced():
    """``reproduced(paper)``: the paper's reproduce() result, computed once per test session."""
    from pimtrain.papers import reproduce

    cache = {}

    def get(paper: str) -> dict:
        if paper not in cache:
            cache[paper] = reproduce(paper)
        return cache[paper]

    return get


@pytest.fixture
def fast_path_default(monkeypatch):
    """The CPU fast path as a user gets it: ``PIMTRAIN_FAST`` and ``PIMTRAIN_FAST_EPOCH`` unset."""
    monkeypatch.delenv("PIMTRAIN_FAST", raising=False)
    monkeypatch.delenv("PIMTRAIN_FAST_EPOCH", raising=False)

