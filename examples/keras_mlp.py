"""A Keras-style multilayer perceptron on Fashion-MNIST, on Fathom's engine.

The classic Keras program: `Sequential([Dense(256, activation='relu', input_shape=(784,)),
...])`, `compile(optimizer='adam', loss='sparse_categorical_crossentropy',
metrics=['accuracy'])`, `fit`, `evaluate`. Only the import line differs from Keras.
The PyTorch-dialect version of this model is examples/fashion_mlp.py. Test accuracy:
87.3% after 5 epochs, 88.1% after 10 (docs/keras.md).

Run: python examples/keras_mlp.py [--epochs 5] [--limit N]
"""
import argparse

import fathom
from fathom import keras


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--limit", type=int, help="use only the first N train and test images")
    parser.add_argument("--data-root", help="dataset folder (default: ~/.fathom/data)")
    args = parser.parse_args(argv)
    fathom.manual_seed(0)

    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data(
        root=args.data_root)
    if args.limit:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]
        x_test, y_test = x_test[:args.limit], y_test[:args.limit]
    x_train = x_train.reshape(-1, 784).astype("float32") / 255.0
    x_test = x_test.reshape(-1, 784).astype("float32") / 255.0

    model = keras.Sequential([
        keras.layers.Dense(256, activation="relu", input_shape=(784,)),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.summary()
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=32, validation_split=0.1)

    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test accuracy: {accuracy:.4f}  (loss {loss:.4f})")
    return accuracy


if __name__ == "__main__":
    main()
