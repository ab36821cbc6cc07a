"""What both frameworks run in a benchmark: the PyTorch twins of `fathom.vision.models`
(same layers, same state-dict keys and shapes) and the one training-epoch loop.

Tests check the twins' outputs match. Nothing here imports fathom or torch: the library is
passed in, so the memory benchmark can load this file into a PyTorch-only process.
"""
from __future__ import annotations


def torch_models(torch) -> dict:
    """{name: constructor} for mlp, lenet5, cnn, lstm, resnet18 (and resnet18-imagenet)."""
    tnn, F = torch.nn, torch.nn.functional

    def mlp(num_classes=10):
        return tnn.Sequential(tnn.Flatten(), tnn.Linear(784, 256), tnn.ReLU(),
                              tnn.Linear(256, 128), tnn.ReLU(), tnn.Linear(128, num_classes))

    class LeNet5(tnn.Module):
        def __init__(self, num_classes=10):
            super().__init__()
            self.conv1, self.conv2 = tnn.Conv2d(1, 6, 5), tnn.Conv2d(6, 16, 5)
            self.fc1, self.fc2 = tnn.Linear(400, 120), tnn.Linear(120, 84)
            self.fc3 = tnn.Linear(84, num_classes)

        def forward(self, x):
            if x.shape[2] == 28:
                x = F.pad(x, (2, 2, 2, 2))
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2).flatten(1)
            return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))

    def cnn(num_classes=10):
        return tnn.Sequential(tnn.Conv2d(1, 32, 3), tnn.ReLU(), tnn.MaxPool2d(2),
                              tnn.Conv2d(32, 64, 3), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
                              tnn.Linear(1600, 128), tnn.ReLU(), tnn.Dropout(0.5),
                              tnn.Linear(128, num_classes))

    class LSTMClassifier(tnn.Module):
        def __init__(self, num_classes=10, hidden=128):
            super().__init__()
            self.lstm = tnn.LSTM(28, hidden, batch_first=True)
            self.fc = tnn.Linear(hidden, num_classes)

        def forward(self, x):
            out, _ = self.lstm(x.reshape(x.shape[0], 28, 28))
            return self.fc(out[:, -1])

    class BasicBlock(tnn.Module):
        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super().__init__()
            self.conv1 = tnn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(planes)
            self.relu = tnn.ReLU(inplace=True)
            self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(planes)
            self.downsample = downsample
            self.stride = stride

        def forward(self, x):
            out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
            identity = x if self.downsample is None else self.downsample(x)
            return self.relu(out + identity)

    class ResNet(tnn.Module):
        def __init__(self, num_classes=10, stem="cifar"):
            super().__init__()
            self.inplanes = 64
            self.conv1 = tnn.Conv2d(3, 64, 7, 2, 3, bias=False) if stem == "imagenet" else \
                tnn.Conv2d(3, 64, 3, 1, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(64)
            self.relu = tnn.ReLU(inplace=True)
            self.maxpool = tnn.MaxPool2d(3, 2, 1) if stem == "imagenet" else tnn.Identity()
            self.layer1 = self._layer(64, 1)
            self.layer2 = self._layer(128, 2)
            self.layer3 = self._layer(256, 2)
            self.layer4 = self._layer(512, 2)
            self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
            self.fc = tnn.Linear(512, num_classes)

        def _layer(self, planes, stride):
            down = None
            if stride != 1 or self.inplanes != planes:
                down = tnn.Sequential(tnn.Conv2d(self.inplanes, planes, 1, stride, bias=False),
                                      tnn.BatchNorm2d(planes))
            blocks = [BasicBlock(self.inplanes, planes, stride, down), BasicBlock(planes, planes)]
            self.inplanes = planes
            return tnn.Sequential(*blocks)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(self.avgpool(x).flatten(1))

    return {"mlp": mlp, "lenet5": LeNet5, "cnn": cnn, "lstm": LSTMClassifier,
            "resnet18": ResNet, "resnet18-imagenet": lambda: ResNet(1000, "imagenet")}


def twin(torch, name: str, fathom_model):
    """The PyTorch twin of `fathom_model` (built by fathom.vision.models.get(name)), with its
    weights copied, so both frameworks start from the same point."""
    return copy_weights(torch, fathom_model, torch_models(torch)[name]())


def copy_weights(torch, fathom_model, torch_model):
    """Load `fathom_model`'s state_dict (same keys and shapes) into `torch_model`; returns it."""
    torch_model.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                                 for k, v in fathom_model.state_dict().items()})
    return torch_model


def epoch_fn(lib, model, x, y, batch, order):
    """One epoch of Adam steps (lr 1e-3) over x[order] in batches; lib is fathom or torch.
    Returns a function that runs the epoch and returns the last loss."""
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = lib.nn.CrossEntropyLoss()
    xs, ys = lib.from_numpy(x), lib.from_numpy(y)
    index = [lib.from_numpy(order[s:s + batch]) for s in range(0, len(order), batch)]

    def run():
        model.train()
        for idx in index:
            loss = loss_fn(model(xs[idx]), ys[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        return float(loss.detach())
    return run
