"""An LSTM on Fashion-MNIST that reads each image row by row: 28 time steps of 28 pixels.

The last hidden state goes through a linear layer to the 10 classes. About 90% test
accuracy in 10 epochs; gradient clipping keeps the recurrent training steady.

Run: python examples/fashion_lstm.py [--epochs 10] [--limit N]
"""
import argparse

import fathom
from fathom import nn, optim
from fathom.train import Trainer
from fathom.utils.data import DataLoader, Subset
from fathom.vision import datasets, transforms


class RowLSTM(nn.Module):
    def __init__(self, hidden_size=128, num_classes=10):
        super().__init__()
        self.lstm = nn.LSTM(input_size=28, hidden_size=hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, num_classes)

    def forward(self, x):                # x: (N, 1, 28, 28)
        rows = x.squeeze(1)              # (N, 28 time steps, 28 features)
        out, (h, c) = self.lstm(rows)    # h: (1, N, hidden), the state after the last row
        return self.fc(h[-1])


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

    model = RowLSTM()
    optimizer = optim.Adam(model.parameters(), lr=2e-3)
    schedule = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), metrics=["accuracy"],
                      scheduler=schedule, clip_grad_norm=1.0)
    trainer.fit(train_loader, epochs=args.epochs, val_loader=test_loader)

    result = trainer.evaluate(test_loader)
    print(f"test accuracy: {result['accuracy']:.4f}  (loss {result['loss']:.4f})")
    return result["accuracy"]


if __name__ == "__main__":
    main()
