"""Workload zoo and module tracing (no weights allocated)."""
import pytest
import torch.nn as nn

from pimtrain.design import PimtrainError
from pimtrain.workloads import Workload, from_module, get_workload


def test_mlp_inline():
    w = get_workload("mlp:784-300-10")
    assert [(L.out_features, L.in_features, L.reuse) for L in w.layers] == [(300, 784, 1), (10, 300, 1)]
    assert w.macs == 784 * 300 + 300 * 10


@pytest.mark.parametrize("name, layers, macs_g, params_m", [
    ("vgg16", 16, 15.47, 138.34),
    ("resnet50", 54, 4.09, 25.50),
    ("resnet18", 21, 1.81, 11.68),
])
def test_zoo_imagenet_shapes(name, layers, macs_g, params_m):
    w = get_workload(name)
    assert isinstance(w, Workload) and len(w.layers) == layers
    assert w.macs / 1e9 == pytest.approx(macs_g, rel=0.01)
    assert w.weights / 1e6 == pytest.approx(params_m, rel=0.01)  # weights only (no biases / BN)


@pytest.mark.parametrize("name", ["vgg16-cifar", "resnet50-cifar", "vgg16-cifar100", "resnet18-cifar"])
def test_zoo_cifar(name):
    w = get_workload(name)
    assert w.input_shape == (3, 32, 32)
    assert w.layers[0].reuse == 32 * 32
    assert w.layers[-1].kind == "linear"


@pytest.mark.parametrize("bad", ["vgg21", "mlp:", "mlp:10-x", "mlp:10-0-3"])
def test_unknown_workload_one_line(bad):
    with pytest.raises(PimtrainError) as exc:
        get_workload(bad)
    msg = str(exc.value)
    assert "\n" not in msg and "allowed" in msg and "mlp:" in msg


def test_from_module_matches_zoo_shapes_and_keeps_weights():
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.Flatten(), nn.Linear(16 * 8 * 8, 10))
    before = m[0].weight.detach().clone()
    w = from_module(m, (3, 32, 32))
    assert [(L.kind, L.out_features, L.in_features, L.reuse) for L in w.layers] == [
        ("conv", 8, 27, 1024), ("conv", 16, 72, 64), ("linear", 10, 1024, 1)]
    assert m[0].weight.device.type == "cpu" and (m[0].weight == before).all()
    assert "forward" not in vars(m[0])  # patch removed


def test_from_module_mlp_shape_without_batch():
    m = nn.Sequential(nn.Linear(64, 36), nn.Sigmoid(), nn.Linear(36, 10))
    w = from_module(m, (64,))
    assert [(L.out_features, L.in_features) for L in w.layers] == [(36, 64), (10, 36)]


# ------------------------------------------------------------------------------------------ ImageNet zoo


#: published multiply-accumulates (G) and weights (M) of each network, with a tolerance
_PUBLISHED = {
    "vgg19": (19.6, 143.7, 0.02),      # Simonyan & Zisserman; torchvision model card
    "inception-v3": (5.71, 23.8, 0.03),  # torchvision model card (aux classifier excluded from MACs)
    "mobilenet": (0.569, 4.2, 0.02),   # Howard et al. 2017 Table 2
    "squeezenet": (0.82, 1.25, 0.05),  # torchvision squeezenet1_0 model card (0.82 GFLOPS)
    "resnet101": (7.8, 44.5, 0.02),    # torchvision model card
    "alexnet": (1.14, 62.4, 0.03),     # one-tower AlexNet (227 input, no grouping)
}


@pytest.mark.parametrize("name", sorted(_PUBLISHED))
def test_imagenet_networks_match_published_sizes(name):
    from pimtrain.workloads import get_workload

    gmacs, mweights, tol = _PUBLISHED[name]
    w = get_workload(name)
    assert w.macs / 1e9 == pytest.approx(gmacs, rel=tol)
    assert w.weights / 1e6 == pytest.approx(mweights, rel=tol + 0.02)


def test_googlenet_and_lstm_shapes():
    from pimtrain.workloads import get_workload

    g = get_workload("googlenet")
    assert sum(1 for L in g.layers if L.name.startswith("inception")) == 9 * 6
    assert g.layers[-1].in_features == 1024 and g.layers[-1].out_features == 1000
    lstm = {L.name: L for L in get_workload("neuraltalk-lstm").layers}
    assert (lstm["lstm"].out_features, lstm["lstm"].in_features) == (2400, 1201)
