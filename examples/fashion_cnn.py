"""A small CNN on Fashion-MNIST: Trainer, callbacks, a schedule and a per-class report.

Two conv-relu-pool blocks and two linear layers (the `cnn` of fathom.vision.models,
written out) reach about 91-92% test accuracy in 10 epochs. Shows the Trainer's
callbacks (LR schedule, early stopping, best-weights checkpoint) and fathom.metrics.

Run: python examples/fashion_cnn.py [--epochs 10] [--limit N] [--out runs/example-cnn]
"""
import argparse
import os

import fathom
from fathom import metrics, nn, optim
from fathom.train import Trainer, callbacks
from fathom.utils.data import DataLoader, Subset, random_split
from fathom.vision import datasets, transforms


class CNN(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),    # -> 32 x 13 x 13
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),   # -> 64 x 5 x 5
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(128, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--limit", type=int, help="use only the first N train and test images")
    parser.add_argument("--data-root", help="dataset folder (default: ~/.fathom/data)")
    parser.add_argument("--out", default="runs/example-cnn", help="folder for the best weights")
    args = parser.parse_args(argv)
    fathom.manual_seed(0)

    to_input = transforms.Compose([transforms.ToTensor(),
                                   transforms.Normalize((0.2860,), (0.3530,))])
    train_set = datasets.FashionMNIST(args.data_root, train=True, transform=to_input)
    test_set = datasets.FashionMNIST(args.data_root, train=False, transform=to_input)
    if args.limit:
        train_set = Subset(train_set, range(args.limit))
        test_set = Subset(test_set, range(args.limit))
    train_set, val_set = random_split(train_set, [0.9, 0.1])  # validation for the callbacks
    train_loader = DataLoader(train_set, batch_size=32, shuffle=True)  # small batches: more steps
    val_loader = DataLoader(val_set, batch_size=512)
    test_loader = DataLoader(test_set, batch_size=512)

    model = CNN()
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    schedule = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    os.makedirs(args.out, exist_ok=True)
    trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), metrics=["accuracy"],
                      callbacks=[
                          callbacks.LRScheduler(schedule),
                          callbacks.EarlyStopping(monitor="val_loss", patience=3),
                          callbacks.ModelCheckpoint(os.path.join(args.out, "best.safetensors"),
                                                    monitor="val_accuracy", mode="max",
                                                    save_best_only=True),
                      ])
    trainer.fit(train_loader, epochs=args.epochs, val_loader=val_loader)

    logits = trainer.predict(test_loader)
    targets = fathom.cat([y for _, y in test_loader])
    accuracy = metrics.accuracy(logits, targets)
    print(f"test accuracy: {accuracy:.4f}")
    print(metrics.classification_report(logits, targets, class_names=datasets.FashionMNIST.classes))
    return accuracy


if __name__ == "__main__":
    main()
