"""fathom.vision.models: shapes, parameter counts, torchvision's resnet18 layout and init,
a training step that lowers the loss, and (with PyTorch) the same architecture built in
torch, loaded with Fathom's state dict, giving the same outputs in eval and train mode."""
import numpy as np
import pytest

import fathom
from fathom import nn
from fathom.errors import ShapeError
from fathom.bench.twins import torch_models
from fathom.vision import models

INPUTS = {"mlp": (2, 1, 28, 28), "lenet5": (2, 1, 32, 32), "cnn": (2, 1, 28, 28),
          "lstm": (2, 1, 28, 28), "resnet18": (2, 3, 16, 16)}
PARAMS = {"mlp": 235_146, "lenet5": 61_706, "cnn": 225_034, "lstm": 82_186,
          "resnet18": 11_173_962}


def count(model):
    return sum(p.numel() for p in model.parameters())


def test_registry():
    assert models.names() == ["cnn", "lenet5", "lstm", "mlp", "resnet18"]
    assert isinstance(models.get("resnet18", num_classes=3), models.ResNet)
    with pytest.raises(ValueError, match="unknown model 'vgg'.*lenet5"):
        models.get("vgg")


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_shapes_and_parameter_counts(name):
    model = models.get(name)
    assert isinstance(model, nn.Module)
    assert model(fathom.randn(*INPUTS[name])).shape == (2, 10)
    assert count(model) == PARAMS[name]
    assert models.get(name, num_classes=3)(fathom.randn(*INPUTS[name])).shape == (2, 3)


def test_input_variants_and_shape_errors():
    assert models.lenet5()(fathom.randn(2, 1, 28, 28)).shape == (2, 10)  # padded to 32
    assert models.lstm()(fathom.randn(2, 28, 28)).shape == (2, 10)
    assert models.mlp(in_features=12, hidden=(5,))(fathom.randn(4, 3, 4)).shape == (4, 10)
    with pytest.raises(ShapeError, match=r"LeNet5\(\): expected input \(N, 1, 32, 32\) or "
                                         r"\(N, 1, 28, 28\), got shape \(2, 1, 20, 20\)"):
        models.lenet5()(fathom.randn(2, 1, 20, 20))
    with pytest.raises(ShapeError, match=r"Linear\(in_features=1600.*got shape \(2, 2304\)"):
        models.cnn()(fathom.randn(2, 1, 32, 32))
    with pytest.raises(ShapeError, match=r"LSTMClassifier\(\).*got shape \(2, 28, 20\)"):
        models.lstm()(fathom.randn(2, 28, 20))
    with pytest.raises(ValueError, match="stem"):
        models.resnet18(stem="tiny")


def test_resnet18_torchvision_layout_and_init():
    m = models.resnet18(num_classes=1000, stem="imagenet")
    assert count(m) == 11_689_512  # torchvision's resnet18
    sd = m.state_dict()
    assert len(sd) == 122
    keys = list(sd)
    assert keys[:6] == ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean",
                        "bn1.running_var", "bn1.num_batches_tracked"]
    assert keys[-2:] == ["fc.weight", "fc.bias"]
    for k in ["layer1.0.conv1.weight", "layer1.1.bn2.bias", "layer2.0.downsample.0.weight",
              "layer2.0.downsample.1.running_var", "layer4.1.conv2.weight"]:
        assert k in sd
    assert "layer1.0.downsample.0.weight" not in sd
    assert sd["conv1.weight"].shape == (64, 3, 7, 7) and sd["fc.weight"].shape == (1000, 512)
    assert models.resnet18(stem="cifar").state_dict()["conv1.weight"].shape == (64, 3, 3, 3)
    # kaiming_normal_(mode='fan_out', nonlinearity='relu'): std = sqrt(2 / (out * k * k))
    w = sd["layer3.0.conv2.weight"]
    assert abs(w.std() / np.sqrt(2 / (256 * 9)) - 1) < 0.02 and abs(w.mean()) < 1e-3
    for k, v in sd.items():
        if k.endswith("bn1.weight") or k.endswith("bn2.weight"):
            assert (v == 1).all()
        if k.endswith("bn1.bias") or k.endswith("downsample.1.bias"):
            assert (v == 0).all()


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_one_training_step_lowers_the_loss(name):
    fathom.manual_seed(0)
    model = models.get(name)
    x = fathom.randn(*INPUTS[name])
    y = fathom.tensor([1, 7])
    opt = fathom.optim.SGD(model.parameters(), lr=0.05)
    loss_fn = nn.CrossEntropyLoss()

    def loss():
        fathom.manual_seed(1)  # the same dropout mask for both measurements
        return loss_fn(model(x), y)

    before = loss()
    opt.zero_grad()
    before.backward()
    opt.step()
    with fathom.no_grad():
        after = loss()
    assert float(after) < float(before)


# --- the same architectures in PyTorch (fathom.bench.twins) -----------------------------------

CASES = [("mlp", {}, (3, 1, 28, 28)), ("lenet5", {}, (3, 1, 28, 28)),
         ("cnn", {}, (3, 1, 28, 28)), ("lstm", {}, (3, 1, 28, 28)),
         ("resnet18", {}, (3, 3, 16, 16)),
         ("resnet18-imagenet", {"num_classes": 1000, "stem": "imagenet"}, (2, 3, 40, 40))]


@pytest.mark.parametrize("name, kwargs, shape", CASES, ids=[c[0] for c in CASES])
def test_same_outputs_as_the_torch_architecture(torch, name, kwargs, shape):
    fm = models.get(name.split("-")[0], **kwargs)
    tm = torch_models(torch)[name]()
    assert repr(fm) == repr(tm)
    sd = fm.state_dict()
    assert [(k, tuple(v.shape)) for k, v in sd.items()] == \
        [(k, tuple(v.shape)) for k, v in tm.state_dict().items()]
    tm.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in sd.items()})
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    for mode in ("eval", "train"):
        getattr(fm, mode)()
        getattr(tm, mode)()
        for m in list(fm.modules()) + list(tm.modules()):  # the two RNGs' dropout masks differ
            if type(m).__name__ == "Dropout":
                m.eval()
        with fathom.no_grad(), torch.no_grad():
            out = fm(fathom.tensor(x))
            ref = tm(torch.from_numpy(x))
        assert out.dtype == fathom.float32
        np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-4, atol=1e-4,
                                   err_msg=f"{name} in {mode} mode")
    # the train-mode pass updated the BN running statistics the same way
    for k, v in tm.state_dict().items():
        np.testing.assert_allclose(np.asarray(fm.state_dict()[k], dtype=np.float64),
                                   v.numpy().astype(np.float64), rtol=1e-4, atol=1e-5,
                                   err_msg=k)
