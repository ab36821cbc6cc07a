"""Files: safetensors, never pickle.

`fathom.save(obj, f)` / `fathom.load(f)` store nested structures (checkpoints) in one
safetensors file; `save_file` / `load_file` / `read_metadata` are the flat API of the
safetensors library. Every malformed file raises `FileFormatError` (a ValueError) naming
the file and the problem; writes to paths are atomic.

    >>> model = fathom.nn.Linear(2, 1)
    >>> fathom.save({"model": model.state_dict(), "epoch": 3}, "ckpt.safetensors")
    >>> fathom.load("ckpt.safetensors")["epoch"]
    3
"""
from .safetensors_file import FileFormatError, load_file, read_metadata, save_file
from .structure import load, save

__all__ = ["FileFormatError", "save_file", "load_file", "read_metadata", "save", "load"]
