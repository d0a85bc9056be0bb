"""Drop-in analog torch layers, model conversion, the analog optimizer, the training loop and datasets.

Typical use::

    from pimtrain.nn import convert, AnalogSGD, mlp
    model = convert(mlp([64, 36, 10]), "marinella2018-analog", seed=0)
    optimizer = AnalogSGD(model, lr=0.1)

or the whole loop: ``pimtrain.nn.train("ideal", "digits", epochs=5)``. See README.md.
"""
from .attention import AnalogMultiheadAttention
from .conv_layers import AnalogConv1d, AnalogConvTranspose2d, AnalogGroupedConv
from .convert import analog_layers, convert
from .layer_registry import describe, plan
from .datasets import DATASET_NAMES, Dataset, load_dataset
from .layers import AnalogConv2d, AnalogLayer, AnalogLinear
from .models import cnn, default_model, mlp
from .optim import AnalogSGD
from .recurrent import AnalogGRU, AnalogLSTM
from .trainer import (
    TrainingSession,
    TrainResult,
    epoch_once,
    evaluate,
    setup_analog,
    setup_float,
    train,
    train_float,
)

__all__ = [
    "AnalogConv1d", "AnalogConvTranspose2d", "AnalogGroupedConv", "AnalogGRU", "AnalogLSTM",
    "AnalogMultiheadAttention", "describe", "plan",
    "AnalogConv2d", "AnalogLayer", "AnalogLinear", "AnalogSGD", "DATASET_NAMES", "Dataset", "TrainResult",
    "TrainingSession", "analog_layers", "cnn", "convert", "default_model", "epoch_once", "evaluate",
    "load_dataset", "mlp", "setup_analog", "setup_float", "train", "train_float",
]
