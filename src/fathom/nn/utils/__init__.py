"""fathom.nn.utils: gradient clipping, parameter/vector conversion, penalties."""
