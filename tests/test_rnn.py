"""Recurrent layers beyond the layer table: a whole LSTM classifier against PyTorch in
float32, dropout between layers, double backward, constructor checks.

The table (tests/layerinfo/rnn.py) covers each configuration's outputs and gradients in
float64; the op table (tests/opinfo/rnn.py) covers the fused op itself.
"""
from __future__ import annotations

import numpy as np
import pytest

import fathom
import fathom.nn as nn


def _np(t):
    return t.detach().numpy()


def _classifier(lib, dropout=0.0):
    """Linear input layer -> 2-layer bidirectional LSTM (batch_first) -> last step -> Linear."""

    class Net(lib.Module):
        def __init__(self):
            super().__init__()
            self.embed = lib.Linear(12, 16)
            self.lstm = lib.LSTM(16, 20, num_layers=2, batch_first=True, bidirectional=True,
                                 dropout=dropout)
            self.head = lib.Linear(40, 5)

        def forward(self, x):
            out, (h, c) = self.lstm(self.embed(x).tanh())
            return self.head(out[:, -1]), h, c

    return Net()


def _load(f_model, t_model):
    f_model.load_state_dict(t_model.state_dict())
    return f_model


def test_lstm_classifier_matches_torch_float32(torch):
    torch.manual_seed(0)
    tm = _classifier(torch.nn)
    fm = _load(_classifier(nn), tm)
    assert list(fm.state_dict()) == list(tm.state_dict())
    x = np.random.default_rng(0).standard_normal((8, 11, 12)).astype(np.float32)
    t_outs = tm(torch.from_numpy(x))
    f_outs = fm(fathom.from_numpy(x))
    for f, t in zip(f_outs, t_outs):
        assert f.dtype == fathom.float32
        np.testing.assert_allclose(f.detach().numpy(), t.detach().numpy(), rtol=1e-5, atol=1e-5)
    target = np.arange(8) % 5
    t_loss = torch.nn.functional.cross_entropy(t_outs[0], torch.from_numpy(target))
    f_loss = nn.functional.cross_entropy(f_outs[0], fathom.from_numpy(target))
    t_loss.backward()
    f_loss.backward()
    f_params = dict(fm.named_parameters())
    for name, tp in tm.named_parameters():
        np.testing.assert_allclose(f_params[name].grad.numpy(), tp.grad.numpy(), rtol=1e-4,
                                   atol=1e-5, err_msg=name)


def test_lstm_classifier_trains_like_torch(torch):
    """A few SGD steps on the same batch: losses stay equal (float32)."""
    torch.manual_seed(1)
    tm = _classifier(torch.nn)
    fm = _load(_classifier(nn), tm)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 7, 12)).astype(np.float32)
    y = rng.integers(0, 5, 6)
    t_opt = torch.optim.SGD(tm.parameters(), lr=0.5)
    f_params = list(fm.parameters())
    for _ in range(3):
        t_opt.zero_grad()
        t_loss = torch.nn.functional.cross_entropy(tm(torch.from_numpy(x))[0],
                                                   torch.from_numpy(y))
        t_loss.backward()
        t_opt.step()
        for p in f_params:
            p.grad = None
        f_loss = nn.functional.cross_entropy(fm(fathom.from_numpy(x))[0], fathom.from_numpy(y))
        f_loss.backward()
        with fathom.no_grad():
            for p in f_params:
                p.data -= 0.5 * p.grad.data
        np.testing.assert_allclose(f_loss.item(), t_loss.item(), rtol=1e-5)


def test_dropout_between_layers_only_in_training():
    x = fathom.from_numpy(np.random.default_rng(2).standard_normal((4, 6, 12)).astype(np.float32))
    fathom.manual_seed(0)
    model = _classifier(nn, dropout=0.5)
    model.eval()
    eval_out = model(x)[0].detach().numpy()
    np.testing.assert_array_equal(model(x)[0].detach().numpy(), eval_out)  # eval: deterministic
    model.train()
    fathom.manual_seed(3)
    train_a = model(x)[0].detach().numpy()
    fathom.manual_seed(3)
    train_b = model(x)[0].detach().numpy()
    np.testing.assert_array_equal(train_a, train_b)  # seeded: repeatable
    assert not np.allclose(train_a, eval_out)        # dropout acts in training
    model.lstm.dropout = 0.0
    np.testing.assert_array_equal(model(x)[0].detach().numpy(), eval_out)  # p = 0 is eval


def test_dropout_is_not_applied_after_the_last_layer():
    """With one layer, dropout has nothing to act on (PyTorch warns about it)."""
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        lstm = nn.LSTM(3, 4, dropout=0.9)
    x = fathom.randn(5, 2, 3)
    lstm.train()
    np.testing.assert_array_equal(lstm(x)[0].detach().numpy(), lstm.eval()(x)[0].detach().numpy())


@pytest.mark.parametrize("name", ["LSTM", "GRU", "RNN"])
def test_double_backward_matches_torch(torch, name):
    """create_graph=True through the fused op: d/dW of |dL/dx|^2 equals PyTorch's."""
    torch.manual_seed(0)
    tm = getattr(torch.nn, name)(3, 4, num_layers=2, bidirectional=True).double()
    fm = _load(getattr(nn, name)(3, 4, num_layers=2, bidirectional=True).double(), tm)
    x = np.random.default_rng(3).standard_normal((4, 2, 3))
    tx = torch.from_numpy(x).requires_grad_(True)
    fx = fathom.from_numpy(x.copy()).requires_grad_(True)
    (tg,) = torch.autograd.grad(tm(tx)[0].sin().sum(), tx, create_graph=True)
    (fg,) = fathom.autograd.grad(fm(fx)[0].sin().sum(), fx, create_graph=True)
    np.testing.assert_allclose(fg.detach().numpy(), tg.detach().numpy(), rtol=1e-9, atol=1e-12)
    (tg * tg).sum().backward()
    (fg * fg).sum().backward()
    f_params = dict(fm.named_parameters())
    for pname, tp in tm.named_parameters():
        np.testing.assert_allclose(f_params[pname].grad.numpy(), tp.grad.numpy(), rtol=1e-8,
                                   atol=1e-10, err_msg=pname)


def test_h_n_is_the_last_step_of_each_direction():
    lstm = nn.LSTM(3, 4, bidirectional=True, batch_first=True)
    out, (h, c) = lstm(fathom.randn(2, 5, 3))
    np.testing.assert_array_equal(h[0].detach().numpy(), out[:, -1, :4].detach().numpy())
    np.testing.assert_array_equal(h[1].detach().numpy(), out[:, 0, 4:].detach().numpy())
    assert c.shape == (2, 2, 4)


def test_parameters_and_helpers():
    gru = nn.GRU(3, 5, num_layers=2, bidirectional=True, bias=False)
    assert [n for n, _ in gru.named_parameters()] == [
        "weight_ih_l0", "weight_hh_l0", "weight_ih_l0_reverse", "weight_hh_l0_reverse",
        "weight_ih_l1", "weight_hh_l1", "weight_ih_l1_reverse", "weight_hh_l1_reverse"]
    assert gru.weight_ih_l1.shape == (15, 10)
    assert len(gru.all_weights) == 4 and gru.all_weights[3][1] is gru.weight_hh_l1_reverse
    assert gru.flatten_parameters() is None
    bound = 1 / np.sqrt(5)
    assert all(abs(p.detach().numpy()).max() <= bound for p in gru.parameters())


@pytest.mark.parametrize("make, error, words", [
    (lambda: nn.LSTM(3, 4, dropout=1.5), ValueError, "dropout should be a number in range"),
    (lambda: nn.LSTM(3, 4, dropout=True), ValueError, "dropout should be a number in range"),
    (lambda: nn.GRU(0, 4), ValueError, "input_size must be greater than zero"),
    (lambda: nn.RNN(3, 0), ValueError, "hidden_size must be greater than zero"),
    (lambda: nn.LSTM(3, 4, num_layers=0), ValueError, "num_layers must be greater than zero"),
    (lambda: nn.LSTM(3.0, 4), TypeError, "input_size should be of type int"),
    (lambda: nn.LSTM(3, 4, bias=1), TypeError, "bias should be of type bool"),
    (lambda: nn.RNN(3, 4, nonlinearity="sigmoid"), ValueError, "Unknown nonlinearity"),
    (lambda: nn.RNNCell(3, 4, nonlinearity="gelu"), ValueError, "Unknown nonlinearity"),
    (lambda: nn.LSTM(3, 4, proj_size=4), ValueError, "proj_size has to be smaller"),
    (lambda: nn.LSTM(3, 4, proj_size=-1), ValueError, "proj_size should be a positive"),
    (lambda: nn.RNNBase("GRU", 3, 4, proj_size=2), ValueError, "only supported for LSTM"),
])
def test_constructor_errors(make, error, words):
    with pytest.raises(error, match=words):
        make()


def test_lstm_hx_must_be_a_pair():
    with pytest.raises(TypeError, match=r"LSTM\(3, 4\).*tuple \(h_0, c_0\)"):
        nn.LSTM(3, 4)(fathom.randn(5, 2, 3), fathom.zeros(1, 2, 4))
    with pytest.raises(TypeError, match=r"LSTMCell\(3, 4\).*tuple \(h_0, c_0\)"):
        nn.LSTMCell(3, 4)(fathom.randn(2, 3), fathom.zeros(2, 4))


def test_cells_loop_equals_the_layer():
    """Running LSTMCell over the steps gives nn.LSTM's outputs (same weights)."""
    lstm, cell = nn.LSTM(3, 4), nn.LSTMCell(3, 4)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        getattr(cell, name).data[...] = getattr(lstm, name + "_l0").data
    x = fathom.randn(6, 2, 3)
    out, (h, c) = lstm(x)
    hc = None
    for t in range(6):
        hc = cell(x[t], hc)
        np.testing.assert_allclose(_np(hc[0]), _np(out[t]), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(_np(hc[1]), _np(c[0]), rtol=1e-6, atol=1e-7)


# --- packed sequences -------------------------------------------------------------------

def _flat(out, cls):
    if isinstance(out, cls):
        return [out]
    return [t for o in out for t in _flat(o, cls)]


_PACKED_KW = {"plain": {}, "2layers-bidirectional": {"num_layers": 2, "bidirectional": True},
              "batch_first-bidirectional": {"batch_first": True, "bidirectional": True},
              "proj_size": {"proj_size": 2, "num_layers": 2}}
_PACKED = [(name, key) for name in ("LSTM", "GRU", "RNN") for key in _PACKED_KW
           if key != "proj_size" or name == "LSTM"]  # proj_size is LSTM's alone


@pytest.mark.parametrize("name,kw_id", _PACKED, ids=[f"{n}-{k}" for n, k in _PACKED])
@pytest.mark.parametrize("with_hx", [False, True], ids=["zeros", "hx"])
def test_packed_sequences_match_torch(torch, name, kw_id, with_hx):
    """Variable lengths, unsorted: padded outputs, h_n (c_n) and every gradient equal."""
    kw = _PACKED_KW[kw_id]
    from torch.nn.utils import rnn as t_rnn

    from fathom.nn.utils import rnn as f_rnn
    torch.manual_seed(0)
    tm = getattr(torch.nn, name)(3, 4, **kw).double()
    fm = _load(getattr(nn, name)(3, 4, **kw).double(), tm)
    rng = np.random.default_rng(4)
    lengths, bf = [2, 5, 1, 3], kw.get("batch_first", False)
    x = rng.standard_normal((4, 5, 3) if bf else (5, 4, 3))
    n = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
    hs = [rng.standard_normal((n, 4, size))
          for size in ((kw.get("proj_size", 4), 4) if name == "LSTM" else (4,))]
    tx, fx = torch.from_numpy(x).requires_grad_(True), fathom.from_numpy(x.copy()).requires_grad_()
    th = [torch.from_numpy(h).requires_grad_(True) for h in hs]
    fh = [fathom.from_numpy(h.copy()).requires_grad_(True) for h in hs]
    t_hx = (tuple(th) if name == "LSTM" else th[0]) if with_hx else None
    f_hx = (tuple(fh) if name == "LSTM" else fh[0]) if with_hx else None
    t_out, t_h = tm(t_rnn.pack_padded_sequence(tx, lengths, bf, enforce_sorted=False), t_hx)
    f_out, f_h = fm(f_rnn.pack_padded_sequence(fx, lengths, bf, enforce_sorted=False), f_hx)
    assert isinstance(f_out, f_rnn.PackedSequence)
    assert f_out.batch_sizes.tolist() == t_out.batch_sizes.tolist()
    t_all = [t_rnn.pad_packed_sequence(t_out, bf)[0]] + _flat(t_h, torch.Tensor)
    f_all = [f_rnn.pad_packed_sequence(f_out, bf)[0]] + _flat(f_h, fathom.Tensor)
    t_loss, f_loss = 0, 0
    for f, t in zip(f_all, t_all):
        np.testing.assert_allclose(f.detach().numpy(), t.detach().numpy(), rtol=1e-9, atol=1e-12)
        w = rng.standard_normal(tuple(t.shape))
        t_loss = t_loss + (t * torch.from_numpy(w)).sum()
        f_loss = f_loss + (f * fathom.from_numpy(w)).sum()
    t_loss.backward()
    f_loss.backward()
    for f, t in zip([fx] + (fh if with_hx else []), [tx] + (th if with_hx else [])):
        np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), rtol=1e-8, atol=1e-10)
    f_params = dict(fm.named_parameters())
    for pname, tp in tm.named_parameters():
        np.testing.assert_allclose(f_params[pname].grad.numpy(), tp.grad.numpy(), rtol=1e-8,
                                   atol=1e-10, err_msg=pname)


def test_packed_sequence_helpers_match_torch(torch):
    from torch.nn.utils import rnn as t_rnn

    from fathom.nn.utils import rnn as f_rnn
    rng = np.random.default_rng(5)
    x = rng.standard_normal((5, 4, 3))
    for bf in (False, True):
        xi = np.ascontiguousarray(x.transpose(1, 0, 2)) if bf else x
        for lengths, srt in (([5, 3, 3, 1], True), ([2, 5, 1, 3], False)):
            tp = t_rnn.pack_padded_sequence(torch.from_numpy(xi), lengths, bf, srt)
            fp = f_rnn.pack_padded_sequence(fathom.from_numpy(xi.copy()), lengths, bf, srt)
            np.testing.assert_array_equal(fp.data.numpy(), tp.data.numpy())
            assert fp.batch_sizes.tolist() == tp.batch_sizes.tolist()
            for a, b in ((fp.sorted_indices, tp.sorted_indices),
                         (fp.unsorted_indices, tp.unsorted_indices)):
                assert (a is None and b is None) or a.tolist() == b.tolist()
            for total in (None, 7):
                t_pad, t_len = t_rnn.pad_packed_sequence(tp, bf, -1.0, total)
                f_pad, f_len = f_rnn.pad_packed_sequence(fp, bf, -1.0, total)
                np.testing.assert_array_equal(f_pad.numpy(), t_pad.numpy())
                assert f_len.tolist() == t_len.tolist()
    seqs = [rng.standard_normal((n, 2)) for n in (3, 5, 1)]
    t_seqs, f_seqs = [torch.from_numpy(s) for s in seqs], [fathom.from_numpy(s) for s in seqs]
    for bf in (False, True):
        for side in ("left", "right"):
            np.testing.assert_array_equal(
                f_rnn.pad_sequence(f_seqs, bf, 9.0, side).numpy(),
                t_rnn.pad_sequence(t_seqs, bf, 9.0, side).numpy())
    tp = t_rnn.pack_sequence(t_seqs, enforce_sorted=False)
    fp = f_rnn.pack_sequence(f_seqs, enforce_sorted=False)
    np.testing.assert_array_equal(fp.data.numpy(), tp.data.numpy())
    for f, t in zip(f_rnn.unpack_sequence(fp), t_rnn.unpack_sequence(tp)):
        np.testing.assert_array_equal(f.numpy(), t.numpy())


def test_pack_pad_round_trip_gradient():
    """Packing and padding are gathers: the gradient reaches exactly the real steps."""
    from fathom.nn.utils import rnn as f_rnn
    x = fathom.randn(4, 3, 2, requires_grad=True)
    packed = f_rnn.pack_padded_sequence(x, [1, 4, 2], enforce_sorted=False)
    padded, lengths = f_rnn.pad_packed_sequence(packed)
    padded.sum().backward()
    running = np.arange(4)[:, None] < np.array([1, 4, 2])[None, :]
    np.testing.assert_array_equal(x.grad.numpy(), np.broadcast_to(running[:, :, None],
                                                                  (4, 3, 2)).astype(np.float32))
    assert lengths.tolist() == [1, 4, 2]


@pytest.mark.parametrize("call, error, words", [
    (lambda r: r.pack_padded_sequence(fathom.zeros(3, 2, 1), [1, 3]), ValueError,
     "must be sorted in decreasing order"),
    (lambda r: r.pack_padded_sequence(fathom.zeros(3, 2, 1), [3, 0]), ValueError,
     "greater than 0"),
    (lambda r: r.pack_padded_sequence(fathom.zeros(3, 2, 1), [3, 2, 1]), ValueError,
     "len\\(lengths\\)"),
    (lambda r: r.pad_packed_sequence(r.pack_sequence([fathom.zeros(3), fathom.zeros(2)]),
                                     total_length=2), ValueError, "total_length=2"),
    (lambda r: r.pad_sequence([fathom.zeros(3, 2), fathom.zeros(2, 3)]), ValueError,
     r"\(3, 2\).*\(2, 3\)"),
    (lambda r: nn.LSTM(2, 3)(r.pack_sequence([fathom.zeros(3, 4)])), ValueError,
     "Expected 2, got 4"),
])
def test_packed_errors(call, error, words):
    from fathom.nn.utils import rnn as f_rnn
    with pytest.raises(error, match=words):
        call(f_rnn)


def test_docstring_examples():
    import doctest

    import fathom.nn.rnn as layers
    import fathom.nn.utils.rnn as utils
    for mod in (layers, utils):
        glob = {"fathom": fathom, "nn": nn, **{k: getattr(utils, k) for k in utils.__all__}}
        result = doctest.testmod(mod, extraglobs=glob)
        assert result.attempted and not result.failed, mod.__name__
