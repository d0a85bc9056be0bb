"""Small cuts of the packaged data sets for fast tests."""
from __future__ import annotations


def small_digits(n_train: int, n_test: int = 60):
    """The packaged digits split cut to its first ``n_train`` / ``n_test`` examples (seed 0)."""
    import dataclasses

    from pimtrain.nn import load_dataset

    full = load_dataset("digits", seed=0)
    return dataclasses.replace(full, train_x=full.train_x[:n_train], train_y=full.train_y[:n_train],
                               test_x=full.test_x[:n_test], test_y=full.test_y[:n_test])
