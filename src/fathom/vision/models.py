"""Classic image models built from fathom.nn, and a closed registry of them by name.

`resnet18` has torchvision's parameter names, state-dict layout and initialization,
so weights move between the two. The registry (`get`, `names`) is what the `fathom`
command uses:

    >>> models.get("lenet5", num_classes=10)(fathom.randn(2, 1, 28, 28)).shape
    fathom.Size([2, 10])
"""
from __future__ import annotations

from .. import nn
from ..errors import ShapeError, fmt_shape
from ..nn import functional as F

__all__ = ["mlp", "lenet5", "cnn", "lstm", "resnet18", "get", "names", "LeNet5",
           "LSTMClassifier", "ResNet", "BasicBlock"]


def mlp(num_classes: int = 10, in_features: int = 784, hidden=(256, 128)) -> nn.Sequential:
    """Flatten, then Linear-ReLU per hidden size, then Linear to `num_classes`.

    Input (N, ...) with `in_features` values per sample (e.g. (N, 1, 28, 28)).
    """
    layers, width = [nn.Flatten()], in_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


def _check_image(model, x, channels: int, sizes) -> None:
    if x.ndim != 4 or x.shape[1] != channels or tuple(x.shape[2:]) not in sizes:
        want = " or ".join(f"(N, {channels}, {h}, {w})" for h, w in sizes)
        raise ShapeError(f"{model._describe()}: expected input {want}, got shape "
                         f"{fmt_shape(x.shape)}")


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al., 1998) with ReLU and max pooling, as in PyTorch's tutorial:
    conv(1,6,5)-pool-conv(6,16,5)-pool-fc(400,120)-fc(120,84)-fc(84,num_classes).

    Input (N, 1, 32, 32), or (N, 1, 28, 28) which is zero-padded by 2 on each side.
    """

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        _check_image(self, x, 1, ((32, 32), (28, 28)))
        if x.shape[2] == 28:
            x = F.pad(x, (2, 2, 2, 2))
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.flatten(1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class LSTMClassifier(nn.Module):
    """Reads an image row by row: rows are time steps, an LSTM over them, and a Linear on
    the last step's output. Input (N, 1, H, W) or (N, H, W) with W == input_size."""

    def __init__(self, num_classes: int = 10, hidden: int = 128, input_size: int = 28):
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, num_classes)

    def forward(self, x):
        if x.ndim == 4 and x.shape[1] == 1:
            x = x.reshape(x.shape[0], x.shape[2], x.shape[3])
        if x.ndim != 3 or x.shape[2] != self.lstm.input_size:
            w = self.lstm.input_size
            raise ShapeError(f"{self._describe()}: expected input (N, 1, H, {w}) or (N, H, {w}) "
                             f"(image rows as time steps), got shape {fmt_shape(x.shape)}")
        out, _ = self.lstm(x)
        return self.fc(out[:, -1])


def lenet5(num_classes: int = 10) -> LeNet5:
    return LeNet5(num_classes)


def cnn(num_classes: int = 10) -> nn.Sequential:
    """A small convnet for (N, 1, 28, 28): conv(1,32,3)-relu-pool-conv(32,64,3)-relu-pool-
    flatten-fc(1600,128)-relu-dropout(0.5)-fc(128,num_classes), as one Sequential."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),    # -> 32 x 13 x 13
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),   # -> 64 x 5 x 5
        nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(128, num_classes))


def lstm(num_classes: int = 10, hidden: int = 128) -> LSTMClassifier:
    return LSTMClassifier(num_classes, hidden)


# --- ResNet (torchvision's layout) ---------------------------------------------------------------

def _conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convs with batch norm and a shortcut (a 1x1 conv + BN when the shape changes)."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None):
        super().__init__()
        self.conv1 = _conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet(nn.Module):
    """ResNet with torchvision's module names (conv1, bn1, layer1.0.conv1, ...,
    layer2.0.downsample.0/1, fc) and initialization (Kaiming normal, fan_out, for convs;
    BN weight 1, bias 0; Linear as PyTorch's default).

    stem='imagenet': 7x7 stride-2 conv + 3x3 stride-2 max pool (torchvision's);
    stem='cifar': 3x3 stride-1 conv and no pooling (`maxpool` is an Identity), for
    32x32 images. Input (N, in_channels, H, W).
    """

    def __init__(self, block, layers, num_classes: int = 1000, stem: str = "imagenet",
                 in_channels: int = 3):
        super().__init__()
        if stem not in ("imagenet", "cifar"):
            raise ValueError(f"ResNet: stem should be 'imagenet' or 'cifar', got {stem!r}")
        self.inplanes = 64
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1) if stem == "imagenet" else \
            nn.Identity()
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, block, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def resnet18(num_classes: int = 10, stem: str = "cifar", in_channels: int = 3) -> ResNet:
    """ResNet-18 (He et al., 2016): BasicBlocks [2, 2, 2, 2]. With stem='imagenet' and
    num_classes=1000 it is torchvision's resnet18 (11,689,512 parameters)."""
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes=num_classes, stem=stem,
                  in_channels=in_channels)


# --- the registry ---------------------------------------------------------------------------------

_REGISTRY = {"mlp": mlp, "lenet5": lenet5, "cnn": cnn, "lstm": lstm, "resnet18": resnet18}


def names() -> list:
    """The registered model names, sorted."""
    return sorted(_REGISTRY)


def get(name: str, **kwargs) -> nn.Module:
    """A new model by registry name: `get('resnet18', num_classes=10, stem='cifar')`."""
    try:
        factory = _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown model {name!r}; available: {', '.join(names())}") from None
    return factory(**kwargs)
