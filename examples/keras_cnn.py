"""A Keras-style convnet on Fashion-MNIST with channels-last images (N, 28, 28, 1).

`Conv2D(32, 3, activation='relu', input_shape=(28, 28, 1))`, `MaxPooling2D(2)`, ... as a
Keras program writes it; the layers run fathom.nn's conv and pooling (NCHW inside).
The same architecture as examples/fashion_cnn.py (the PyTorch dialect); 90.4% test
accuracy after 10 epochs (docs/keras.md).

Run: python examples/keras_cnn.py [--epochs 10] [--limit N]
"""
import argparse

import fathom
from fathom import keras


def build_model():
    return keras.Sequential([
        keras.layers.Conv2D(32, 3, activation="relu", input_shape=(28, 28, 1)),
        keras.layers.MaxPooling2D(2),                    # -> 13 x 13 x 32
        keras.layers.Conv2D(64, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),                    # -> 5 x 5 x 64
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(10, activation="softmax"),
    ])


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
    x_train = x_train[..., None].astype("float32") / 255.0   # channels last: (N, 28, 28, 1)
    x_test = x_test[..., None].astype("float32") / 255.0

    model = build_model()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.summary()
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=32, validation_split=0.1,
              callbacks=[keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5,
                                                           patience=2)])

    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test accuracy: {accuracy:.4f}  (loss {loss:.4f})")
    return accuracy


if __name__ == "__main__":
    main()
