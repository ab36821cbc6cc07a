"""Layer cases: RNN, LSTM, GRU and the cells RNNCell, LSTMCell, GRUCell.

Sequence input (L=5, N=3, H_in=4) unless named otherwise, hidden size 6; every
layer with 1 and 2 layers, bidirectional, batch_first, bias=False, given initial
states, unbatched input, and LSTM with proj_size; dropout between layers is random
in training (checked for shapes only there) and off in eval.
"""
from . import LayerCase, normal

L, N, IN, H = 5, 3, 4, 6


def seq(*shape):
    return normal(*shape)


def with_states(x_shape, *state_shapes):
    """inputs(rng) -> (x, h0) or, with two state shapes, (x, (h0, c0))."""
    def make(rng):
        x = rng.standard_normal(x_shape)
        states = tuple(rng.standard_normal(s) for s in state_shapes)
        return (x, states[0]) if len(states) == 1 else (x, states)
    return make


def _layer_cases(name, extra=None):
    """The shared configurations of one layer class; extra: constructor kwargs for all."""
    extra = extra or {}
    lstm = name == "LSTM"
    tag = name if not extra else name + "-" + "-".join(f"{k}_{v}" for k, v in extra.items())

    def make(**kw):
        return lambda nn: getattr(nn, name)(IN, H, **extra, **kw)

    def states(x_shape, n, batch=N):
        shape = (n, batch, H) if batch else (n, H)
        return with_states(x_shape, shape, shape) if lstm else with_states(x_shape, shape)

    desc = f"{name}({IN}, {H}"
    return [
        LayerCase(tag, make(), seq(L, N, IN), errors=[
            (seq(L, N, 7), None, [desc, "input.size(-1) must be equal to input_size",
                                  "Expected 4, got 7"]),
            (seq(2, L, N, IN), None, [desc, "Expected input to be 2D or 3D, got 4D"]),
            (seq(0, N, IN), None, [desc, "sequence length to be larger than 0", "(0, 3, 4)"]),
            (states((L, N, IN), 1, batch=2), None,
             [desc, f"Expected hidden{'[0]' if lstm else ''} size (1, 3, 6), got [1, 2, 6]"]),
            (states((L, N, IN), 1, batch=None), None,
             [desc, "For batched 3-D input", "should also be 3-D"]),
            # the error test builds the model in float32 and feeds float64
            (seq(L, N, IN), None, [desc, "dtype", "float64", "float32"]),
        ] if not extra else []),
        LayerCase(f"{tag}-2layers", make(num_layers=2), seq(L, N, IN)),
        LayerCase(f"{tag}-bidirectional", make(bidirectional=True), seq(L, N, IN)),
        LayerCase(f"{tag}-2layers-bidirectional", make(num_layers=2, bidirectional=True),
                  seq(L, N, IN), errors=[
                      (states((L, N, IN), 2), None, [desc, "num_layers=2", "bidirectional=True",
                                                     "size (4, 3, 6), got [2, 3, 6]"])]),
        LayerCase(f"{tag}-batch_first", make(batch_first=True), seq(N, L, IN), errors=[
            (states((N, L, IN), 1, batch=L), None, [desc, "batch_first=True",
                                                    "size (1, 3, 6), got [1, 5, 6]"])]),
        LayerCase(f"{tag}-no-bias", make(bias=False), seq(L, N, IN)),
        LayerCase(f"{tag}-h0", make(), states((L, N, IN), 1)),
        LayerCase(f"{tag}-2layers-bidirectional-h0", make(num_layers=2, bidirectional=True),
                  states((L, N, IN), 4)),
        LayerCase(f"{tag}-batch_first-2layers-h0", make(batch_first=True, num_layers=2),
                  states((N, L, IN), 2)),
        LayerCase(f"{tag}-unbatched", make(), seq(L, IN)),
        LayerCase(f"{tag}-unbatched-bidirectional-h0", make(bidirectional=True),
                  states((L, IN), 2, batch=None), errors=[
                      (states((L, IN), 2), None, ["For unbatched 2-D input",
                                                  "should also be 2-D"])]),
        LayerCase(f"{tag}-unbatched-batch_first", make(batch_first=True, num_layers=2),
                  seq(L, IN)),
        LayerCase(f"{tag}-dropout", make(num_layers=2, dropout=0.4), seq(L, N, IN),
                  stochastic_train=True),
        LayerCase(f"{tag}-one-step", make(num_layers=2), seq(1, N, IN)),
    ]


def _projection_cases():
    """LSTM with proj_size=3: h has 3 features, c keeps hidden_size."""
    P = 3

    def make(**kw):
        return lambda nn: nn.LSTM(IN, H, proj_size=P, **kw)
    desc = f"LSTM({IN}, {H}, proj_size={P}"
    return [
        LayerCase("LSTM-proj", make(), seq(L, N, IN), errors=[
            (with_states((L, N, IN), (1, N, H), (1, N, H)), None,
             [desc, "Expected hidden[0] size (1, 3, 3), got [1, 3, 6]"]),
            (with_states((L, N, IN), (1, N, P), (1, N, P)), None,
             [desc, "Expected hidden[1] size (1, 3, 6), got [1, 3, 3]"])]),
        LayerCase("LSTM-proj-2layers-bidirectional-h0", make(num_layers=2, bidirectional=True),
                  with_states((L, N, IN), (4, N, P), (4, N, H))),
        LayerCase("LSTM-proj-batch_first-no-bias", make(batch_first=True, bias=False),
                  seq(N, L, IN)),
        LayerCase("LSTM-proj-unbatched-h0", make(), with_states((L, IN), (1, P), (1, H))),
        LayerCase("LSTM-proj-dropout", make(num_layers=2, dropout=0.4), seq(L, N, IN),
                  stochastic_train=True),
    ]


def _cell_cases(name, nonlinearity=None):
    lstm = name == "LSTMCell"
    kw = {} if nonlinearity is None else {"nonlinearity": nonlinearity}
    tag = name if nonlinearity is None else f"{name}-{nonlinearity}"

    def make(**more):
        return lambda nn: getattr(nn, name)(IN, H, **kw, **more)

    def hx(x_shape, h_shape):
        return with_states(x_shape, h_shape, h_shape) if lstm else with_states(x_shape, h_shape)

    desc = f"{name}({IN}, {H}"
    hname = "hx[0]" if lstm else "hidden"
    return [
        LayerCase(tag, make(), seq(N, IN), errors=[
            (seq(N, 7), None, [desc, "input_size", "got 7 expected 4"]),
            (seq(2, N, IN), None, [desc, "Expected input to be 1D or 2D, got 3D"]),
            (hx((N, IN), (N, 5)), None, [desc, hname, "hidden_size", "got 5, expected 6"]),
            (hx((N, IN), (2, H)), None, [desc, "Input batch size 3", f"{hname} batch size 2"]),
            (hx((N, IN), (1, N, H)), None, [desc, f"Expected {hname} to be 1D or 2D"]),
        ] if nonlinearity is None else []),
        LayerCase(f"{tag}-hx", make(), hx((N, IN), (N, H))),
        LayerCase(f"{tag}-no-bias-hx", make(bias=False), hx((N, IN), (N, H))),
        LayerCase(f"{tag}-unbatched", make(), seq(IN)),
        LayerCase(f"{tag}-unbatched-hx", make(), hx((IN,), (H,))),
    ]


CASES = (_layer_cases("RNN") + _layer_cases("RNN", {"nonlinearity": "relu"})
         + _layer_cases("LSTM") + _projection_cases() + _layer_cases("GRU")
         + _cell_cases("RNNCell") + _cell_cases("RNNCell", "relu")
         + _cell_cases("LSTMCell") + _cell_cases("GRUCell"))
