"""5-fold stratified cross-validation of an MLP on a Fashion-MNIST subset: mean +- std.

Every fold trains a fresh model on 4/5 of the images and scores it on the held-out
fifth; StratifiedKFold keeps the class balance the same in every fold. (For the same in
one call, see fathom.train.cross_validate.)

Run: python examples/cross_validation.py [--folds 5] [--epochs 5] [--limit 10000]
"""
import argparse
import statistics

import fathom
from fathom import nn, optim
from fathom.train import Trainer
from fathom.utils.data import DataLoader, StratifiedKFold, Subset
from fathom.vision import datasets, transforms


def make_model():
    return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 128), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(128, 10))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--limit", type=int, default=10000,
                        help="how many training images to cross-validate on")
    parser.add_argument("--data-root", help="dataset folder (default: ~/.fathom/data)")
    args = parser.parse_args(argv)
    fathom.manual_seed(0)

    to_input = transforms.Compose([transforms.ToTensor(),
                                   transforms.Normalize((0.2860,), (0.3530,))])
    full = datasets.FashionMNIST(args.data_root, train=True, transform=to_input)
    n = min(args.limit, len(full))
    dataset = Subset(full, range(n))
    targets = full.targets[:n]

    scores = []
    folds = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=0)
    for k, (train_part, val_part) in enumerate(folds.split(dataset, targets)):
        model = make_model()
        trainer = Trainer(model, optim.Adam(model.parameters(), lr=1e-3),
                          nn.CrossEntropyLoss(), metrics=["accuracy"], progress=False)
        trainer.fit(DataLoader(train_part, batch_size=128, shuffle=True), epochs=args.epochs)
        accuracy = trainer.evaluate(DataLoader(val_part, batch_size=512))["accuracy"]
        scores.append(accuracy)
        print(f"fold {k + 1}/{args.folds}: {len(train_part)} train, {len(val_part)} held out, "
              f"accuracy {accuracy:.4f}", flush=True)

    mean, std = statistics.mean(scores), statistics.pstdev(scores)
    print(f"accuracy over {args.folds} folds: {mean:.4f} +- {std:.4f}")
    return mean, std


if __name__ == "__main__":
    main()
