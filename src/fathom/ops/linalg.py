"""Matrix products: matmul (batched, broadcasting, 1-D cases), mm, bmm, outer, dot, einsum."""
from __future__ import annotations

from .. import backend
from ..autograd.function import Op
from ..dtypes import result_type
from ..errors import DTypeError, ShapeError, fmt_shape

_np = backend.np

__all__ = ['matmul', 'mm', 'bmm', 'mv', 'dot', 'outer', 'ger', 'einsum']

# also Tensor methods
METHODS = ['mm', 'bmm', 'mv', 'dot', 'outer', 'ger']


class Matmul(Op):
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(f"matmul: both arguments need at least 1 dim; got a "
                             f"{fmt_shape(a.shape)} and b {fmt_shape(b.shape)}")
        if a.dtype != b.dtype:
            raise DTypeError(f"matmul: expected both inputs to have the same dtype, got a "
                             f"{a.dtype} {fmt_shape(a.shape)} and b {b.dtype} "
                             f"{fmt_shape(b.shape)}")
        ka, kb = a.shape[-1], b.shape[-2] if b.ndim > 1 else b.shape[0]
        if ka != kb:
            bdim = "b.shape[-2]" if b.ndim > 1 else "b.shape[0]"
            raise ShapeError(f"matmul: inner dimensions differ (a.shape[-1]={ka}, "
                             f"{bdim}={kb}); got a {fmt_shape(a.shape)} and b "
                             f"{fmt_shape(b.shape)}")
        ctx.save(a, b)
        try:
            return ctx.xp.matmul(a, b)
        except ValueError:
            raise ShapeError(f"matmul: batch dims cannot broadcast; got a {fmt_shape(a.shape)} "
                             f"and b {fmt_shape(b.shape)}") from None

    def backward(ctx, g):
        a, b = ctx.saved
        F = ctx.F
        ga = gb = None
        # 1-D operands act as a row (a) or a column (b) matrix
        a2 = F.reshape(a, (1, -1)) if a.ndim == 1 else a
        b2 = F.reshape(b, (-1, 1)) if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = F.expand_dims(g2, -2 if b.ndim > 1 else -1)
        if b.ndim == 1:
            g2 = F.expand_dims(g2, -1)
        if ctx.needs_grad[0]:
            ga = F.matmul(g2, F.swapaxes(b2, -1, -2))
            if a.ndim == 1:
                ga = ga[..., 0, :]
        if ctx.needs_grad[1]:
            gb = F.matmul(F.swapaxes(a2, -1, -2), g2)
            if b.ndim == 1:
                gb = gb[..., 0]
        return ga, gb


def matmul(input, other):
    """Matrix product with NumPy's rules: 1-D operands, batch dims broadcast."""
    return Matmul.apply(input, other)


def mm(input, mat2):
    """(n, k) @ (k, m) for 2-D tensors only."""
    if input.ndim != 2 or mat2.ndim != 2:
        raise ShapeError(f"mm: both arguments must be 2-D; got {fmt_shape(input.shape)} and "
                         f"{fmt_shape(mat2.shape)}")
    return Matmul.apply(input, mat2)


def bmm(input, mat2):
    """(b, n, k) @ (b, k, m) for 3-D tensors with equal batch size."""
    if input.ndim != 3 or mat2.ndim != 3 or input.shape[0] != mat2.shape[0]:
        raise ShapeError(f"bmm: expects 3-D tensors with the same batch size; got "
                         f"{fmt_shape(input.shape)} and {fmt_shape(mat2.shape)}")
    return Matmul.apply(input, mat2)


def mv(input, vec):
    if input.ndim != 2 or vec.ndim != 1:
        raise ShapeError(f"mv: expects a 2-D matrix and a 1-D vector; got "
                         f"{fmt_shape(input.shape)} and {fmt_shape(vec.shape)}")
    return Matmul.apply(input, vec)


def dot(input, other):
    if input.ndim != 1 or other.ndim != 1:
        raise ShapeError(f"dot: expects 1-D tensors; got {fmt_shape(input.shape)} and "
                         f"{fmt_shape(other.shape)}")
    return Matmul.apply(input, other)


def outer(input, vec2):
    """(n,) x (m,) -> (n, m)."""
    from .shape import reshape  # noqa: PLC0415
    if input.ndim != 1 or vec2.ndim != 1:
        raise ShapeError(f"outer: expects 1-D tensors; got {fmt_shape(input.shape)} and "
                         f"{fmt_shape(vec2.shape)}")
    return reshape(input, (-1, 1)) * reshape(vec2, (1, -1))


ger = outer


# --- einsum -----------------------------------------------------------------------------

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _parse_einsum(equation, shapes):
    """Normalize `equation` to explicit letters: ('ij', 'jk'), 'ik'.

    '...' becomes fresh letters, right-aligned across operands (so broadcasting lines up),
    and an implicit output (no '->') is PyTorch's: the '...' dims, then the letters that
    appear once, in alphabetical order.
    """
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    subs = lhs.split(",")
    if len(subs) != len(shapes):
        raise ValueError(f"einsum: equation {equation!r} names {len(subs)} operands but "
                         f"{len(shapes)} were given")
    for s in subs + [rhs]:
        bad = set(s.replace("...", "")) - set(_LETTERS)
        if bad or s.count("...") > 1 or (s.count(".") - 3 * s.count("...")):
            raise ValueError(f"einsum: invalid subscripts {s!r} in {equation!r} (letters a-z, "
                             f"A-Z and at most one '...' per operand)")
    used = set(eq) & set(_LETTERS)
    fresh = [c for c in _LETTERS if c not in used]
    n_ell = 0
    for s, shape in zip(subs, shapes):
        n_explicit = len(s.replace("...", ""))
        if "..." in s:
            n_ell = max(n_ell, len(shape) - n_explicit)
        if len(shape) < n_explicit or ("..." not in s and len(shape) != n_explicit):
            raise ShapeError(f"einsum: subscripts {s!r} do not fit an operand of shape "
                             f"{fmt_shape(shape)} in {equation!r}")
    ell = "".join(fresh[:n_ell])
    out_subs = []
    for s, shape in zip(subs, shapes):
        k = len(shape) - len(s.replace("...", ""))
        out_subs.append(s.replace("...", ell[n_ell - k:] if k else ""))
    if arrow:
        out = rhs.replace("...", ell)
    else:
        letters = "".join(subs).replace(".", "")
        out = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    for c in out:
        if not any(c in s for s in out_subs):
            raise ValueError(f"einsum: output letter {c!r} does not appear in the inputs of "
                             f"{equation!r}")
    if len(set(out)) != len(out):
        raise ValueError(f"einsum: output subscript {rhs!r} repeats a letter in {equation!r}")
    sizes = {}
    for s, shape in zip(out_subs, shapes):
        for c, n in zip(s, shape):
            if n != 1 and sizes.get(c, 1) not in (1, n):
                raise ShapeError(f"einsum: letter {c!r} has size {sizes[c]} in one operand and "
                                 f"{n} in another; got shapes "
                                 f"{', '.join(fmt_shape(x) for x in shapes)} for {equation!r}")
            if n != 1 or c not in sizes:
                sizes[c] = n
    return tuple(out_subs), out, fresh[n_ell:]


class Einsum(Op):
    """einsum over normalized subscripts. The gradient of operand i is the einsum of the
    output gradient with the other operands, onto operand i's letters; letters that
    repeat in operand i (a trace) go back on the diagonal through identity matrices, and
    letters only operand i has are broadcast back."""

    def forward(ctx, *ops, subs, out, spare):
        dt = result_type(*ops)
        ops = [o if o.dtype == dt else o.astype(dt) for o in ops]
        ctx.subs, ctx.out, ctx.spare = subs, out, spare
        ctx.shapes = [o.shape for o in ops]
        ctx.save(*ops)
        eq = ",".join(subs) + "->" + out
        return ctx.xp.einsum(eq, *ops, optimize=True)  # BLAS contraction paths

    def backward(ctx, g):
        ops = ctx.saved
        F, xp = ctx.F, ctx.xp
        grads = []
        for i, sub in enumerate(ctx.subs):
            if not ctx.needs_grad[i]:
                grads.append(None)
                continue
            others = [o for j, o in enumerate(ops) if j != i]
            other_subs = [s for j, s in enumerate(ctx.subs) if j != i]
            avail = set(ctx.out).union(*other_subs)
            uniq = "".join(dict.fromkeys(sub))
            keep = "".join(c for c in uniq if c in avail)
            gi = F.einsum(",".join([ctx.out] + other_subs) + "->" + keep, g, *others)
            size = dict(zip(sub, ctx.shapes[i]))
            # letters summed away inside operand i alone, or size 1 in every other
            # operand: broadcast back to operand i's size
            have = [gi.shape[keep.index(c)] if c in keep else 1 for c in uniq]
            want = tuple(size[c] if h == 1 else h for c, h in zip(uniq, have))
            if keep != uniq:
                gi = F.reshape(gi, tuple(have))
            if tuple(have) != want:
                gi = F.broadcast_to(gi, want)
            if uniq != sub:  # repeated letters: put the gradient on the diagonal
                spare = iter(ctx.spare)
                dt = g.data.dtype if hasattr(g, "requires_grad") else g.dtype
                target, eyes, eye_subs = "", [], []
                seen = set()
                for c in sub:
                    if c in seen:
                        f = next(spare)
                        target += f
                        eyes.append(xp.eye(size[c], dtype=dt))
                        eye_subs.append(c + f)
                    else:
                        seen.add(c)
                        target += c
                gi = F.einsum(",".join([uniq] + eye_subs) + "->" + target, gi, *eyes)
            grads.append(gi)
        return tuple(grads)


def einsum(equation, *operands):
    """Sum of products over the letters in `equation` (PyTorch's and NumPy's notation):
    'ij,jk->ik' is a matmul, 'ii->' a trace, 'bi,bi->b' a batched dot, '...ij->...ji' a
    batched transpose. Operands may also be passed as one list.

    >>> fathom.einsum('ij,jk->ik', fathom.ones(2, 3), fathom.ones(3, 4)).shape
    fathom.Size([2, 4])
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    subs, out, spare = _parse_einsum(equation, [tuple(o.shape) for o in operands])
    return Einsum.apply(*operands, subs=subs, out=out, spare=spare)
