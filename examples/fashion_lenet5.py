"""LeNet-5 on Fashion-MNIST with a plain training loop: the bare PyTorch way.

No Trainer here: zero_grad, forward, loss, backward, step, written out. Swap the
`fathom` imports for `torch` ones (and `fathom.vision` for `torchvision`, given a
dataset root) and the same code runs on PyTorch. About 90.5% test accuracy in 10 epochs.

Run: python examples/fashion_lenet5.py [--epochs 10] [--limit N]
"""
import argparse
import time

import fathom
import fathom.nn.functional as F
from fathom import nn, optim
from fathom.utils.data import DataLoader, Subset
from fathom.vision import datasets, transforms


class LeNet5(nn.Module):
    """LeCun et al. (1998) with ReLU and max pooling, as most modern versions have it.

    Input (N, 1, 28, 28); the first convolution pads by 2, which is the paper's 32x32.
    """

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5, padding=2)  # -> 6 x 28 x 28
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)            # -> 16 x 10 x 10
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)   # -> 6 x 14 x 14
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)   # -> 16 x 5 x 5
        x = fathom.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def train_one_epoch(model, loader, optimizer):
    model.train()
    total_loss, seen = 0.0, 0
    for x, y in loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * len(y)
        seen += len(y)
    return total_loss / seen


def test(model, loader):
    model.eval()
    correct, seen = 0, 0
    with fathom.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(dim=1) == y).sum().item()
            seen += len(y)
    return correct / seen


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--limit", type=int, help="use only the first N train and test images")
    parser.add_argument("--data-root", help="dataset folder (default: ~/.fathom/data)")
    args = parser.parse_args(argv)
    fathom.manual_seed(0)

    to_input = transforms.Compose([transforms.ToTensor(),
                                   transforms.Normalize((0.2860,), (0.3530,))])
    train_set = datasets.FashionMNIST(args.data_root, train=True, transform=to_input)
    test_set = datasets.FashionMNIST(args.data_root, train=False, transform=to_input)
    if args.limit:
        train_set = Subset(train_set, range(args.limit))
        test_set = Subset(test_set, range(args.limit))
    train_loader = DataLoader(train_set, batch_size=64, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=512)

    model = LeNet5()
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=4, gamma=0.3)
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        loss = train_one_epoch(model, train_loader, optimizer)
        scheduler.step()
        accuracy = test(model, test_loader)
        print(f"epoch {epoch:2d}  loss {loss:.4f}  test accuracy {accuracy:.4f}  "
              f"({time.perf_counter() - start:.1f} s)", flush=True)
    return accuracy


if __name__ == "__main__":
    main()
