"""fathom.autograd.trace: every primitive op reports to the innermost recorder, in order."""
import pytest

import fathom
from fathom.autograd import trace


def test_records_ops_in_order_with_args_attrs_and_outputs():
    x = fathom.randn(3, 4, requires_grad=True)
    with trace.record() as calls:
        y = (x * 2).sum(dim=1)
    names = [type(c.op).__name__ for c in calls]
    assert names[0] == "Mul" and names[-1].startswith("Sum")
    assert calls[0].args[0] is x and calls[-1].out is y
    assert calls[-1].attrs or calls[-1].args[1:]  # the reduced dim travels with the call


def test_records_under_no_grad_nests_and_pauses():
    x = fathom.randn(2, 2)
    with fathom.no_grad(), trace.record() as outer:
        x.exp()
        with trace.record() as inner:
            x.relu()
        with trace.paused():
            x.tanh()
        x.sigmoid()
    assert [type(c.op).__name__ for c in outer] == ["Exp", "Sigmoid"]
    assert [type(c.op).__name__ for c in inner] == ["Relu"]


def test_recorder_is_removed_after_an_exception():
    with pytest.raises(KeyError), trace.record():
        raise KeyError("boom")
    with trace.record() as calls:
        fathom.ones(2).exp()
    assert len(calls) == 1
    from fathom.autograd.grad_mode import state
    with trace.record():
        pass
    assert state.recorder is None
