"""The op table: one OpInfo per public op, spread over a file per op family.

`tests/test_ops.py` runs every entry through the same checks. Add an entry to
the family file when you add an op; `test_every_public_op_is_in_the_table`
fails otherwise.
"""
from .core import OpInfo, SampleInput  # noqa: F401


def all_opinfos():
    from . import conv, elementwise, index, linalg, nn, reduce, rnn, shape  # noqa: PLC0415
    table = []
    for fam in (elementwise, reduce, shape, index, linalg, conv, nn, rnn):
        table.extend(fam.OPS)
    return table
