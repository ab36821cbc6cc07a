"""Show a model's layers, output shapes and parameter counts (like a model summary).

    fathom info cnn
    fathom info lenet5 --input-shape 1,28,28
    fathom info runs/cnn-fashion-mnist
"""
from __future__ import annotations

from pathlib import Path

from ._common import (CLIError, DEFAULT_INPUT_SHAPE, MODEL_INPUT_SHAPES, build_model,
                      load_run, model_names, parse_shape)

HELP = "layers, output shapes and parameter counts of a model or run"


def EPILOG() -> str:
    return f"models: {', '.join(model_names())}"


def add_arguments(p) -> None:
    p.add_argument("target", metavar="MODEL_OR_RUN",
                   help="a model name (listed below), a run folder or a model file")
    p.add_argument("--input-shape", metavar="C,H,W",
                   help="one sample's shape, without the batch dimension "
                        "(default: the model's or the run's input, e.g. 1,28,28)")
    p.add_argument("--num-classes", type=int, default=10, metavar="N",
                   help="classes for a model given by name (default: 10)")
    p.add_argument("--batch-size", type=int, default=1, metavar="N",
                   help="batch size of the dummy input (default: 1)")
    p.add_argument("--depth", type=int, default=None, metavar="N",
                   help="show nested layers down to this depth (default: all)")


def run(args) -> int:
    model, name, shape = _resolve(args)
    print(summary(model, shape, batch_size=args.batch_size, depth=args.depth, name=name))
    return 0


def _resolve(args):
    p = Path(args.target)
    if p.exists():
        loaded = load_run(args.target)
        cfg = loaded.config
        shape = (parse_shape(args.input_shape) if args.input_shape
                 else tuple(cfg.get("input_shape", DEFAULT_INPUT_SHAPE)))
        return loaded.model, cfg["model"], shape
    if args.target not in model_names():
        raise CLIError(f"'{args.target}' is neither a model name nor an existing path; "
                       f"models: {', '.join(model_names())}")
    if args.num_classes < 1:
        raise CLIError(f"--num-classes must be positive, got {args.num_classes}")
    shape = (parse_shape(args.input_shape) if args.input_shape
             else MODEL_INPUT_SHAPES.get(args.target, DEFAULT_INPUT_SHAPE))
    kw = {"num_classes": args.num_classes}
    if args.target in ("mlp",) and args.input_shape:
        kw["in_features"] = _prod(shape)  # an MLP's first layer follows the input size
    return build_model(args.target, kw), args.target, shape


def _prod(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _shape_of(out) -> str:
    """An output's shape as text: a tensor's [N, C, H, W]; a tuple's shapes listed."""
    if hasattr(out, "shape"):
        return str(list(out.shape))
    if isinstance(out, (tuple, list)):
        shapes = [_shape_of(o) for o in out]
        return ", ".join(s for s in shapes if s)
    return ""


def summary(model, input_shape, *, batch_size: int = 1, depth=None, name: str = "") -> str:
    """A table of `model`'s modules (nested names and types), each one's output shape for
    a zero batch of `input_shape` (found with forward hooks), and its own parameter count;
    then the totals and the size in MB.

        >>> print(summary(fathom.vision.models.cnn(), (1, 28, 28)))  # doctest: +SKIP
    """
    import fathom
    if batch_size < 1:
        raise CLIError(f"--batch-size must be positive, got {batch_size}")
    modules = list(model.named_modules())
    shapes, handles = {}, []
    for mod_name, mod in modules:
        def hook(m, args, out, mod_name=mod_name):
            shapes[mod_name] = _shape_of(out)
        handles.append(mod.register_forward_hook(hook))
    was_training = model.training
    model.eval()  # BatchNorm with a batch of 1; dropout off
    try:
        with fathom.no_grad():
            model(fathom.zeros(batch_size, *input_shape))
    except (ValueError, RuntimeError, TypeError) as e:
        raise CLIError(f"model '{name or type(model).__name__}' cannot take input of shape "
                       f"{tuple(input_shape)}: {e}") from e
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)

    rows = []
    for mod_name, mod in modules:
        level = mod_name.count(".") + 1 if mod_name else 0
        if depth is not None and level > depth:
            continue
        own = sum(p.numel() for p in mod.parameters(recurse=False))
        leaf = not mod._modules
        label = f"{'  ' * level}{mod_name or name or 'model'} ({type(mod).__name__})"
        count = f"{own:,}" if own or leaf else "--"
        rows.append((label, shapes.get(mod_name, "--"), count))

    params = list(model.parameters())
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    buffers = list(model.buffers())
    n_buffers = sum(b.numel() for b in buffers)
    size_mb = (sum(p.numel() * p.element_size() for p in params)
               + sum(b.numel() * b.element_size() for b in buffers)) / 1e6

    headers = ("Layer (type)", "Output shape", "Param #")
    w0 = max(len(headers[0]), *(len(r[0]) for r in rows)) + 2
    w1 = max(len(headers[1]), *(len(r[1]) for r in rows)) + 2
    w2 = max(len(headers[2]), *(len(r[2]) for r in rows))
    width = w0 + w1 + w2
    lines = [f"Input: {[batch_size, *input_shape]}", "=" * width,
             f"{headers[0]:<{w0}}{headers[1]:<{w1}}{headers[2]:>{w2}}", "=" * width]
    lines += [f"{a:<{w0}}{b:<{w1}}{c:>{w2}}" for a, b, c in rows]
    lines += ["=" * width,
              f"Total params: {total:,}",
              f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}"]
    if n_buffers:
        lines.append(f"Buffers (e.g. running statistics): {n_buffers:,}")
    lines += [f"Model size (MB): {size_mb:.2f}", "=" * width]
    return "\n".join(lines)
