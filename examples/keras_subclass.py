"""A subclassed `keras.Model` on Fashion-MNIST: layers in `__init__`, the forward in `call`.

The model outputs logits, so the loss is
`keras.losses.SparseCategoricalCrossentropy(from_logits=True)`; EarlyStopping and
ModelCheckpoint show Keras's callbacks. A keras.Model is a fathom.nn.Module, so the
end shows the bridge to the PyTorch dialect: its state_dict and a plain forward.

Run: python examples/keras_subclass.py [--epochs 5] [--limit N] [--out DIR]
"""
import argparse
import os
import tempfile

import fathom
from fathom import keras


class FashionNet(keras.Model):
    def __init__(self, num_classes=10):
        super().__init__()
        self.flatten = keras.layers.Flatten()
        self.hidden = keras.layers.Dense(256, activation="relu")
        self.dropout = keras.layers.Dropout(0.2)
        self.logits = keras.layers.Dense(num_classes)

    def call(self, inputs, training=None):
        x = self.flatten(inputs)
        x = self.hidden(x)
        x = self.dropout(x, training=training)
        return self.logits(x)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--limit", type=int, help="use only the first N train and test images")
    parser.add_argument("--data-root", help="dataset folder (default: ~/.fathom/data)")
    parser.add_argument("--out", help="checkpoint folder (default: a temporary one)")
    args = parser.parse_args(argv)
    fathom.manual_seed(0)

    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data(
        root=args.data_root)
    if args.limit:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]
        x_test, y_test = x_test[:args.limit], y_test[:args.limit]
    x_train = x_train.astype("float32") / 255.0
    x_test = x_test.astype("float32") / 255.0

    model = FashionNet()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    out = args.out or tempfile.mkdtemp(prefix="keras-subclass-")
    best = os.path.join(out, "best.weights.safetensors")
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=2,
                                               restore_best_weights=True),
                 keras.callbacks.ModelCheckpoint(best, monitor="val_accuracy",
                                                 save_best_only=True, save_weights_only=True)]
    history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=32,
                        validation_split=0.1, callbacks=callbacks)
    print("history keys:", sorted(history.history))

    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test accuracy: {accuracy:.4f}  (loss {loss:.4f})")
    print(f"best weights: {best} ({os.path.exists(best)})")

    # The same object in the PyTorch dialect: parameters, state_dict keys, a forward.
    module = model.module
    keys = list(module.state_dict())
    with fathom.no_grad():
        logits = module(fathom.tensor(x_test[:4]))
    print(f"state_dict keys: {keys}; logits shape {tuple(logits.shape)}")
    return accuracy


if __name__ == "__main__":
    main()
