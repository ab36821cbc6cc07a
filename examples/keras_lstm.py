"""A Keras-style stacked LSTM on Fashion-MNIST, reading each image as 28 rows of 28 pixels.

`LSTM(64, return_sequences=True)` feeds the whole sequence to a second `LSTM(64)`;
the targets are one-hot and the loss is 'categorical_crossentropy', as the classic
Keras programs write it. Compare examples/fashion_lstm.py (one LSTM, PyTorch dialect).
88.7% test accuracy after 10 epochs (docs/keras.md).

Run: python examples/keras_lstm.py [--epochs 10] [--limit N]
"""
import argparse

import numpy as np

import fathom
from fathom import keras


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--limit", type=int, help="use only the first N train and test images")
    parser.add_argument("--data-root", help="dataset folder (default: ~/.fathom/data)")
    args = parser.parse_args(argv)
    fathom.manual_seed(0)

    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data(
        root=args.data_root)
    if args.limit:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]
        x_test, y_test = x_test[:args.limit], y_test[:args.limit]
    x_train = x_train.astype("float32") / 255.0            # (N, 28 steps, 28 features)
    x_test = x_test.astype("float32") / 255.0
    y_train = np.eye(10, dtype="float32")[y_train]          # one-hot targets
    y_test = np.eye(10, dtype="float32")[y_test]

    model = keras.Sequential([
        keras.layers.LSTM(64, return_sequences=True, input_shape=(28, 28)),
        keras.layers.LSTM(64),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=2e-3, clipnorm=1.0),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    model.summary()
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=128, validation_split=0.1)

    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test accuracy: {accuracy:.4f}  (loss {loss:.4f})")
    return accuracy


if __name__ == "__main__":
    main()
