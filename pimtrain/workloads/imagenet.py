"""ImageNet CNNs and the NeuralTalk LSTM as layer shapes (for the Neural-PIM, FloatPIM and SOT-MRAM
comparisons). Shapes follow each network's original paper; what a paper leaves open is said per network.

A convolution is one ``LayerShape`` whose matrix is ``out_channels × in_channels/groups·kh·kw`` used once
per output position (depthwise convolutions: ``channels × kh·kw``); pooling, normalisation and
activations allocate no weights and are not listed. Auxiliary classifiers (GoogLeNet, Inception-v3)
are left out: they are used in training only and add < 3 % of the MACs.
"""
from __future__ import annotations

from pimtrain.workloads import LayerShape, Workload


def _out(size: int, k: int, s: int, p: int, ceil: bool = False) -> int:
    n = size + 2 * p - k
    return (-(-n // s) if ceil else n // s) + 1


class _Net:
    """Walks a feature map of ``c`` channels and ``h × w`` pixels through conv / pool layers."""

    def __init__(self, c: int, h: int, w: int | None = None):
        self.c, self.h, self.w = c, h, w if w is not None else h
        self.layers: list[LayerShape] = []

    def conv(self, name: str, out: int, k, s: int = 1, p=None, groups: int = 1, c_in: int | None = None,
             hw: tuple[int, int] | None = None, advance: bool = True) -> tuple[int, int]:
        kh, kw = (k, k) if isinstance(k, int) else k
        ph, pw = ((kh - 1) // 2, (kw - 1) // 2) if p is None else ((p, p) if isinstance(p, int) else p)
        c = self.c if c_in is None else c_in
        h, w = hw if hw is not None else (self.h, self.w)
        ho, wo = _out(h, kh, s, ph), _out(w, kw, s, pw)
        self.layers.append(LayerShape(name, "conv", out, c // groups * kh * kw, ho * wo))
        if advance:
            self.c, self.h, self.w = out, ho, wo
        return ho, wo

    def pool(self, k: int, s: int, p: int = 0, ceil: bool = False) -> None:
        self.h, self.w = _out(self.h, k, s, p, ceil), _out(self.w, k, s, p, ceil)

    def fc(self, name: str, out: int, inp: int | None = None) -> None:
        self.layers.append(LayerShape(name, "linear", out, self.c * self.h * self.w if inp is None else inp, 1))
        self.c, self.h, self.w = out, 1, 1

    def done(self, name: str, input_shape: tuple[int, ...]) -> Workload:
        return Workload(name, tuple(self.layers), input_shape)


# ------------------------------------------------------------------------------------------ AlexNet
def alexnet() -> Workload:
    """Krizhevsky et al. 2012: 227×227 input, 96-256-384-384-256 channels, FC 9216-4096-4096-1000.
    The paper's two-GPU grouping is dropped (one tower), as PIM papers map it."""
    n = _Net(3, 227)
    n.conv("conv1", 96, 11, s=4, p=0)
    n.pool(3, 2)
    n.conv("conv2", 256, 5, p=2)
    n.pool(3, 2)
    n.conv("conv3", 384, 3)
    n.conv("conv4", 384, 3)
    n.conv("conv5", 256, 3)
    n.pool(3, 2)
    n.fc("fc6", 4096)
    n.fc("fc7", 4096)
    n.fc("fc8", 1000)
    return n.done("alexnet", (3, 227, 227))


# ------------------------------------------------------------------------------------------ VGG-19
def vgg19() -> Workload:
    """Simonyan & Zisserman 2015, configuration E: 16 conv 3×3 + 3 FC, 224×224 input."""
    n = _Net(3, 224)
    i = 0
    for ch, reps in [(64, 2), (128, 2), (256, 4), (512, 4), (512, 4)]:
        for _ in range(reps):
            i += 1
            n.conv(f"conv{i}", ch, 3)
        n.pool(2, 2)
    n.fc("fc1", 4096)
    n.fc("fc2", 4096)
    n.fc("fc3", 1000)
    return n.done("vgg19", (3, 224, 224))


# ------------------------------------------------------------------------------------------ GoogLeNet
#: Szegedy et al. 2015 Table 1: (#1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj)
_GOOGLENET = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64), "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64), "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
}


def googlenet() -> Workload:
    """Szegedy et al. 2015 (Inception v1), Table 1, 224×224 input, 5×5 branches as in the paper."""
    n = _Net(3, 224)
    n.conv("conv1", 64, 7, s=2, p=3)
    n.pool(3, 2, 1, ceil=True)
    n.conv("conv2_reduce", 64, 1)
    n.conv("conv2", 192, 3)
    n.pool(3, 2, 1, ceil=True)
    for name, (b1, r3, b3, r5, b5, pp) in _GOOGLENET.items():
        if name in ("4a", "5a"):
            n.pool(3, 2, 1, ceil=True)
        c = n.c
        tag = f"inception{name}"
        n.conv(f"{tag}.1x1", b1, 1, c_in=c, advance=False)
        n.conv(f"{tag}.3x3_reduce", r3, 1, c_in=c, advance=False)
        n.conv(f"{tag}.3x3", b3, 3, c_in=r3, advance=False)
        n.conv(f"{tag}.5x5_reduce", r5, 1, c_in=c, advance=False)
        n.conv(f"{tag}.5x5", b5, 5, c_in=r5, advance=False)
        n.conv(f"{tag}.pool_proj", pp, 1, c_in=c, advance=False)
        n.c = b1 + b3 + b5 + pp
    n.h = n.w = 1  # global average pool
    n.fc("fc", 1000)
    return n.done("googlenet", (3, 224, 224))


# ------------------------------------------------------------------------------------------ Inception-v3
def inception_v3() -> Workload:
    """Szegedy et al. 2016 (Rethinking the Inception architecture), 299×299 input; module widths as in
    the reference implementation's Mixed_5b…Mixed_7c (the paper's Table 1 gives the stages)."""
    n = _Net(3, 299)
    n.conv("stem.conv1", 32, 3, s=2, p=0)
    n.conv("stem.conv2", 32, 3, p=0)
    n.conv("stem.conv3", 64, 3, p=1)
    n.pool(3, 2)
    n.conv("stem.conv4", 80, 1)
    n.conv("stem.conv5", 192, 3, p=0)
    n.pool(3, 2)

    def module_a(tag: str, pool_proj: int) -> None:  # 35×35
        c = n.c
        n.conv(f"{tag}.1x1", 64, 1, c_in=c, advance=False)
        n.conv(f"{tag}.5x5_reduce", 48, 1, c_in=c, advance=False)
        n.conv(f"{tag}.5x5", 64, 5, c_in=48, advance=False)
        n.conv(f"{tag}.3x3dbl_reduce", 64, 1, c_in=c, advance=False)
        n.conv(f"{tag}.3x3dbl_1", 96, 3, c_in=64, advance=False)
        n.conv(f"{tag}.3x3dbl_2", 96, 3, c_in=96, advance=False)
        n.conv(f"{tag}.pool_proj", pool_proj, 1, c_in=c, advance=False)
        n.c = 64 + 64 + 96 + pool_proj

    def module_c(tag: str, c7: int) -> None:  # 17×17, factorised 7×7
        c = n.c
        n.conv(f"{tag}.1x1", 192, 1, c_in=c, advance=False)
        n.conv(f"{tag}.7x7_reduce", c7, 1, c_in=c, advance=False)
        n.conv(f"{tag}.1x7", c7, (1, 7), c_in=c7, advance=False)
        n.conv(f"{tag}.7x1", 192, (7, 1), c_in=c7, advance=False)
        n.conv(f"{tag}.7x7dbl_reduce", c7, 1, c_in=c, advance=False)
        for j, (k, o) in enumerate([((7, 1), c7), ((1, 7), c7), ((7, 1), c7), ((1, 7), 192)]):
            n.conv(f"{tag}.7x7dbl_{j + 1}", o, k, c_in=c7, advance=False)
        n.conv(f"{tag}.pool_proj", 192, 1, c_in=c, advance=False)
        n.c = 4 * 192

    def module_e(tag: str) -> None:  # 8×8, expanded filter banks
        c = n.c
        n.conv(f"{tag}.1x1", 320, 1, c_in=c, advance=False)
        n.conv(f"{tag}.3x3_reduce", 384, 1, c_in=c, advance=False)
        n.conv(f"{tag}.1x3", 384, (1, 3), c_in=384, advance=False)
        n.conv(f"{tag}.3x1", 384, (3, 1), c_in=384, advance=False)
        n.conv(f"{tag}.3x3dbl_reduce", 448, 1, c_in=c, advance=False)
        n.conv(f"{tag}.3x3dbl", 384, 3, c_in=448, advance=False)
        n.conv(f"{tag}.3x3dbl_1x3", 384, (1, 3), c_in=384, advance=False)
        n.conv(f"{tag}.3x3dbl_3x1", 384, (3, 1), c_in=384, advance=False)
        n.conv(f"{tag}.pool_proj", 192, 1, c_in=c, advance=False)
        n.c = 320 + 768 + 768 + 192

    module_a("mixed5b", 32)
    module_a("mixed5c", 64)
    module_a("mixed5d", 64)
    c, hw = n.c, (n.h, n.w)  # grid reduction 35 -> 17
    n.conv("mixed6a.3x3", 384, 3, s=2, p=0, c_in=c, hw=hw, advance=False)
    n.conv("mixed6a.3x3dbl_reduce", 64, 1, c_in=c, hw=hw, advance=False)
    n.conv("mixed6a.3x3dbl_1", 96, 3, c_in=64, hw=hw, advance=False)
    n.conv("mixed6a.3x3dbl_2", 96, 3, s=2, p=0, c_in=96, hw=hw, advance=False)
    n.pool(3, 2)
    n.c = 384 + 96 + c
    for tag, c7 in (("mixed6b", 128), ("mixed6c", 160), ("mixed6d", 160), ("mixed6e", 192)):
        module_c(tag, c7)
    c, hw = n.c, (n.h, n.w)  # grid reduction 17 -> 8
    n.conv("mixed7a.3x3_reduce", 192, 1, c_in=c, hw=hw, advance=False)
    n.conv("mixed7a.3x3", 320, 3, s=2, p=0, c_in=192, hw=hw, advance=False)
    n.conv("mixed7a.7x7x3_reduce", 192, 1, c_in=c, hw=hw, advance=False)
    n.conv("mixed7a.1x7", 192, (1, 7), c_in=192, hw=hw, advance=False)
    n.conv("mixed7a.7x1", 192, (7, 1), c_in=192, hw=hw, advance=False)
    n.conv("mixed7a.3x3b", 192, 3, s=2, p=0, c_in=192, hw=hw, advance=False)
    n.pool(3, 2)
    n.c = 320 + 192 + c
    module_e("mixed7b")
    module_e("mixed7c")
    n.h = n.w = 1
    n.fc("fc", 1000)
    return n.done("inception-v3", (3, 299, 299))


# ------------------------------------------------------------------------------------------ MobileNet
def mobilenet() -> Workload:
    """Howard et al. 2017 (MobileNet v1, width 1.0, 224×224), Table 1: a 3×3 conv and 13 depthwise-
    separable blocks (depthwise 3×3 + pointwise 1×1), then FC 1024-1000."""
    n = _Net(3, 224)
    n.conv("conv1", 32, 3, s=2)
    blocks = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    for i, (out, s) in enumerate(blocks, start=1):
        n.conv(f"block{i}.dw", n.c, 3, s=s, groups=n.c)
        n.conv(f"block{i}.pw", out, 1)
    n.h = n.w = 1
    n.fc("fc", 1000)
    return n.done("mobilenet", (3, 224, 224))


# ------------------------------------------------------------------------------------------ SqueezeNet
#: Iandola et al. 2016 Table 1 (v1.0): (squeeze 1×1, expand 1×1, expand 3×3)
_FIRE = {2: (16, 64, 64), 3: (16, 64, 64), 4: (32, 128, 128), 5: (32, 128, 128), 6: (48, 192, 192),
         7: (48, 192, 192), 8: (64, 256, 256), 9: (64, 256, 256)}


def squeezenet() -> Workload:
    """Iandola et al. 2016, SqueezeNet v1.0 (Table 1), 224×224 input, max-pools after conv1, fire4 and
    fire8 (ceil mode), conv10 1×1 to 1000 classes, global average pool (no FC layer)."""
    n = _Net(3, 224)
    n.conv("conv1", 96, 7, s=2, p=0)
    n.pool(3, 2, ceil=True)
    for i, (s1, e1, e3) in _FIRE.items():
        c = n.c
        n.conv(f"fire{i}.squeeze", s1, 1, c_in=c)
        n.conv(f"fire{i}.expand1x1", e1, 1, c_in=s1, advance=False)
        n.conv(f"fire{i}.expand3x3", e3, 3, c_in=s1, advance=False)
        n.c = e1 + e3
        if i in (4, 8):
            n.pool(3, 2, ceil=True)
    n.conv("conv10", 1000, 1)
    return n.done("squeezenet", (3, 224, 224))


# ------------------------------------------------------------------------------------------ ResNet-101
def resnet101() -> Workload:
    """He et al. 2016, 101 layers: bottleneck blocks (3, 4, 23, 3), 224×224 input."""
    from pimtrain.workloads import _resnet

    return _resnet("resnet101", 224, 1000, (3, 4, 23, 3), True, False)


# ------------------------------------------------------------------------------------------ NeuralTalk
#: NeuralTalk LSTM (Karpathy & Fei-Fei 2015) with the layer shapes EIE benchmarks (Han et al. 2016,
#: Table III): image embedding We 4096→600, LSTM 1201→2400 (word + hidden + bias → four gates of 600),
#: word decoder Wd 600→8791. Sequence length 20 words: an assumption (captions are ~10–20 words).
NEURALTALK_STEPS = 20


def neuraltalk_lstm() -> Workload:
    layers = (
        LayerShape("We", "linear", 600, 4096, 1),
        LayerShape("lstm", "linear", 2400, 1201, NEURALTALK_STEPS),
        LayerShape("Wd", "linear", 8791, 600, NEURALTALK_STEPS),
    )
    return Workload("neuraltalk-lstm", layers, (4096,))


WORKLOADS = {
    "alexnet": alexnet,
    "vgg19": vgg19,
    "googlenet": googlenet,
    "inception-v3": inception_v3,
    "mobilenet": mobilenet,
    "squeezenet": squeezenet,
    "resnet101": resnet101,
    "neuraltalk-lstm": neuraltalk_lstm,
}
