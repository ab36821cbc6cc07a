"""A multilayer perceptron on Fashion-MNIST, trained with fathom.train.Trainer.

Two hidden layers on the flattened 28x28 image reach about 88.5% test accuracy in
10 epochs. Fathom-specific: only the Trainer (Keras-style fit with a progress bar);
the rest is PyTorch's API with `torch` spelled `fathom`.

Run: python examples/fashion_mlp.py [--epochs 10] [--limit N]
"""
import argparse

import fathom
from fathom import nn, optim
from fathom.train import Trainer
from fathom.utils.data import DataLoader, Subset
from fathom.vision import datasets, transforms


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
    train_loader = DataLoader(train_set, batch_size=128, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=512)

    model = nn.Sequential(
        nn.Flatten(),
        nn.Linear(28 * 28, 256), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(256, 128), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(128, 10),
    )
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), metrics=["accuracy"])
    trainer.fit(train_loader, epochs=args.epochs, val_loader=test_loader)

    result = trainer.evaluate(test_loader)
    print(f"test accuracy: {result['accuracy']:.4f}  (loss {result['loss']:.4f})")
    return result["accuracy"]


if __name__ == "__main__":
    main()
