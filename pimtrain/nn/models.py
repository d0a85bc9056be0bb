"""Small float models to train (convert them with :func:`pimtrain.nn.convert`).

Every model takes the *flat* feature vectors a :class:`pimtrain.nn.datasets.Dataset` holds; the CNN
unflattens them to images itself, so the trainer feeds all models the same tensors.
"""
from __future__ import annotations

from typing import Sequence

from torch import nn

from pimtrain.design import PimtrainError

__all__ = ["mlp", "cnn", "default_model", "ACTIVATIONS"]

ACTIVATIONS = {
    "sigmoid": nn.Sigmoid,
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
}

# The default network per dataset (the papers' MLPs): name -> layer sizes.
DEFAULT_MLP_SIZES = {
    "digits": [64, 36, 10],
    "digits-sklearn": [64, 36, 10],
    "mnist5k": [784, 300, 10],
    "filetypes": [256, 150, 9],
}


def _activation(name: str) -> nn.Module:
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise PimtrainError(f"model: activation {name!r} is unknown; allowed: {', '.join(ACTIVATIONS)}") from None


def mlp(sizes: Sequence[int], activation: str = "sigmoid", bias: bool = True) -> nn.Sequential:
    """A fully connected network ``sizes[0] → … → sizes[-1]``; ``activation`` after every hidden layer.

    The output layer has no activation: the loss (cross-entropy) applies the softmax.
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise PimtrainError(f"model: MLP sizes {sizes} are not allowed; allowed: two or more positive sizes")
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out, bias=bias))
        if i < len(sizes) - 2:
            layers.append(_activation(activation))
    return nn.Sequential(*layers)


def cnn(image_shape: Sequence[int] = (1, 8, 8), n_classes: int = 10, channels: Sequence[int] = (8, 16),
        activation: str = "relu") -> nn.Sequential:
    """A small CNN for 8×8 digits or 28×28 MNIST: [conv3×3 (pad 1) → act → maxpool 2] × 2 → linear.

    8×8 → 4×4 → 2×2 (16·2·2 = 64 features); 28×28 → 14×14 → 7×7 (16·7·7 = 784 features).
    The first module unflattens the dataset's flat vectors to ``image_shape`` = (C, H, W).
    """
    c, h, w = (int(v) for v in image_shape)
    layers: list[nn.Module] = [nn.Unflatten(1, (c, h, w))]
    for out_c in channels:
        layers += [nn.Conv2d(c, out_c, 3, padding=1), _activation(activation), nn.MaxPool2d(2)]
        c, h, w = out_c, h // 2, w // 2
    if h < 1 or w < 1:
        raise PimtrainError(f"model: image {tuple(image_shape)} is too small for {len(channels)} pooling stages")
    layers += [nn.Flatten(), nn.Linear(c * h * w, n_classes)]
    return nn.Sequential(*layers)


def default_model(dataset) -> nn.Sequential:
    """The default MLP for ``dataset`` (sigmoid hidden layers; sizes from :data:`DEFAULT_MLP_SIZES`)."""
    sizes = DEFAULT_MLP_SIZES.get(dataset.name, [dataset.n_features, 36, dataset.n_classes])
    sizes = [dataset.n_features, *sizes[1:-1], dataset.n_classes]
    return mlp(sizes, activation="sigmoid")
