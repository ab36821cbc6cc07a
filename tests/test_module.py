"""nn.Module, Parameter and the containers: PyTorch's registration and state rules."""
from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import fathom
from fathom import nn


def _tiny(nn_ns, lib):
    """The same small architecture in either framework, from raw parameters only."""
    class Block(nn_ns.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn_ns.Parameter(lib.ones(3, 2))
            self.bias = nn_ns.Parameter(lib.zeros(3))
            self.register_buffer("running", lib.zeros(3))
            self.register_buffer("scratch", lib.zeros(1), persistent=False)

        def forward(self, x):
            return x @ self.weight.T + self.bias

    class Net(nn_ns.Module):
        def __init__(self):
            super().__init__()
            self.first = Block()
            self.blocks = nn_ns.ModuleList([Block(), Block()])
            self.heads = nn_ns.ModuleDict({"a": Block()})
            self.seq = nn_ns.Sequential(Block())
            self.scale = nn_ns.Parameter(lib.ones(1))
            self.plist = nn_ns.ParameterList([nn_ns.Parameter(lib.ones(2))])
            self.pdict = nn_ns.ParameterDict({"k": nn_ns.Parameter(lib.ones(4))})

        def forward(self, x):
            return self.first(x) * self.scale
    return Net()


class _Picklable(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = nn.Module()
        self.inner.w = nn.Parameter(fathom.tensor([1.0, 2.0]))
        self.register_buffer("stat", fathom.zeros(2))


def test_names_and_state_dict_keys_match_torch(torch):
    t, f = _tiny(torch.nn, torch), _tiny(nn, fathom)
    assert list(f.state_dict()) == list(t.state_dict())
    assert [n for n, _ in f.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in f.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [n for n, _ in f.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in f.named_children()] == [n for n, _ in t.named_children()]
    assert repr(f) == repr(t).replace("torch.", "fathom.")


def test_registration_order_and_kinds():
    m = nn.Module()
    m.b = nn.Parameter(fathom.zeros(1))
    m.a = nn.Parameter(fathom.zeros(2))
    m.register_buffer("stat", fathom.zeros(3))
    m.child = nn.Module()
    m.plain = 5
    assert [n for n, _ in m.named_parameters()] == ["b", "a"]
    assert list(m._buffers) == ["stat"] and list(m._modules) == ["child"]
    assert m.plain == 5 and "plain" not in m.state_dict()
    del m.a
    assert [n for n, _ in m.named_parameters()] == ["b"]
    with pytest.raises(AttributeError, match="no attribute 'a'"):
        m.a


def test_shared_parameters_listed_once():
    m = nn.Module()
    m.one, m.two = nn.Module(), nn.Module()
    p = nn.Parameter(fathom.zeros(2))
    m.one.w = p
    m.two.w = p
    assert [n for n, _ in m.named_parameters()] == ["one.w"]
    assert [n for n, _ in m.named_parameters(remove_duplicate=False)] == ["one.w", "two.w"]
    assert list(m.state_dict()) == ["one.w", "two.w"]


@pytest.mark.parametrize("value,kind", [(nn.Parameter(fathom.zeros(1)), "parameter"),
                                         (nn.Module(), "module"), (fathom.zeros(1), "tensor")])
def test_assign_before_init_names_the_attribute(value, kind):
    class Bad(nn.Module):
        def __init__(self):
            self.thing = value
            super().__init__()
    with pytest.raises(AttributeError, match=f"cannot assign {kind} 'thing' before "
                                             r"Module.__init__\(\) call"):
        Bad()


def test_wrong_type_into_parameter_or_buffer_slot():
    m = nn.Module()
    m.w = nn.Parameter(fathom.zeros(2))
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'w'"):
        m.w = fathom.zeros(2)
    m.w = None
    assert m.w is None and list(m.named_parameters()) == []
    m.register_buffer("b", fathom.zeros(1))
    with pytest.raises(TypeError, match="buffer 'b'"):
        m.b = 3
    with pytest.raises(KeyError, match="contain"):
        m.register_buffer("a.b", fathom.zeros(1))
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("w", fathom.zeros(1))


def test_train_eval_recursive_and_requires_grad_freezes():
    net = _tiny(nn, fathom)
    assert all(m.training for m in net.modules())
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.first.requires_grad_(False)
    assert [n for n, p in net.named_parameters() if not p.requires_grad] == \
        ["first.weight", "first.bias"]
    out = net(fathom.ones(4, 2))
    out.sum().backward()
    assert net.first.weight.grad is None and net.scale.grad is not None


def test_zero_grad():
    net = _tiny(nn, fathom)
    net(fathom.ones(4, 2)).sum().backward()
    net.zero_grad(set_to_none=False)
    assert np.all(net.scale.grad.numpy() == 0)
    net.zero_grad()
    assert net.scale.grad is None


def test_state_dict_shares_memory_and_round_trips():
    net = _tiny(nn, fathom)
    sd = net.state_dict()
    assert not sd["scale"].requires_grad
    sd["scale"].data[...] = 7  # shares memory, as in PyTorch
    assert net.scale.item() == 7
    other = _tiny(nn, fathom)
    other.load_state_dict(copy.deepcopy(net.state_dict()))
    np.testing.assert_array_equal(other.scale.detach().numpy(), [7])


def test_load_state_dict_reports_everything_and_changes_nothing():
    net = _tiny(nn, fathom)
    sd = dict(net.state_dict())
    sd.pop("first.bias")
    sd["extra"] = fathom.zeros(1)
    sd["first.weight"] = fathom.full((2, 2), 9.0)
    sd["scale"] = fathom.full((1,), 5.0)
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(sd)
    msg = str(info.value)
    assert 'Missing key(s) in state_dict: "first.bias"' in msg
    assert 'Unexpected key(s) in state_dict: "extra"' in msg
    assert "size mismatch for first.weight" in msg and "(2, 2)" in msg and "(3, 2)" in msg
    assert net.scale.item() == 1  # nothing loaded
    sd["first.weight"] = fathom.ones(3, 2)
    result = net.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["first.bias"] and result.unexpected_keys == ["extra"]
    assert net.scale.item() == 5


def test_load_state_dict_from_torch_and_numpy(torch):
    t, f = _tiny(torch.nn, torch), _tiny(nn, fathom)
    with torch.no_grad():
        t.first.weight.copy_(torch.arange(6.0).reshape(3, 2))
    f.load_state_dict(t.state_dict())
    weight = f.first.weight.detach().numpy()
    np.testing.assert_array_equal(weight, np.arange(6.0).reshape(3, 2))
    f.load_state_dict({k: v.numpy() * 2 for k, v in f.state_dict().items()})
    np.testing.assert_array_equal(weight, 2 * np.arange(6.0).reshape(3, 2))  # in place
    x = np.ones((4, 2), np.float32)
    t.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in f.state_dict().items()})
    np.testing.assert_allclose(f(fathom.from_numpy(x)).detach().numpy(),
                               t(torch.from_numpy(x)).detach().numpy())


def test_to_dtype_keeps_parameter_identity():
    net = _tiny(nn, fathom)
    before = list(net.parameters())
    net.register_buffer("count", fathom.zeros(1, dtype=fathom.int64))
    net.double()
    assert [id(p) for p in net.parameters()] == [id(p) for p in before]
    assert all(p.dtype == fathom.float64 for p in net.parameters())
    assert net.count.dtype == fathom.int64  # integer buffers keep their dtype
    assert net.first.running.dtype == fathom.float64
    net.to(fathom.float32)
    assert net.scale.dtype == fathom.float32
    with pytest.raises(TypeError, match="floating point"):
        net.to(fathom.int64)


def test_apply_visits_children_first():
    net = _tiny(nn, fathom)
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net" and seen[0] == "Block"


def test_forward_hooks():
    m = nn.Module()
    m.forward = lambda x: x * 2
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] + 1,))
    h2 = m.register_forward_hook(lambda mod, args, out: out + 100)
    m.register_forward_hook(lambda mod, args, out: calls.append("first"), prepend=True)
    assert m(fathom.tensor(1.0)).item() == 104
    assert calls == ["first"]
    h1.remove()
    h2.remove()
    assert m(fathom.tensor(1.0)).item() == 2
    m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"scale": 3}), with_kwargs=True)
    m.forward = lambda x, scale=1: x * scale
    assert m(fathom.tensor(1.0)).item() == 3


def test_deepcopy_and_pickle():
    net = _tiny(nn, fathom)
    clone = copy.deepcopy(net)
    assert isinstance(clone.scale, nn.Parameter) and clone.scale is not net.scale
    clone.scale.data[...] = 3
    assert net.scale.item() == 1
    picklable = _Picklable()
    again = pickle.loads(pickle.dumps(picklable))
    assert list(again.state_dict()) == list(picklable.state_dict()) == ["stat", "inner.w"]
    assert isinstance(again.inner.w, nn.Parameter)
    np.testing.assert_array_equal(again.inner.w.detach().numpy(), [1.0, 2.0])


def test_get_submodule_and_parameter():
    net = _tiny(nn, fathom)
    assert net.get_submodule("blocks.1") is net.blocks[1]
    assert net.get_parameter("heads.a.bias") is net.heads["a"].bias
    with pytest.raises(AttributeError, match="no submodule 'nope'"):
        net.get_submodule("blocks.nope")


def test_missing_forward():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


def test_parameter():
    t = fathom.ones(2)
    p = nn.Parameter(t)
    assert p.requires_grad and p.is_leaf and isinstance(p, fathom.Tensor)
    p.data[0] = 5  # shares memory with t, as in PyTorch
    assert t[0].item() == 5
    assert repr(p).startswith("Parameter containing:\ntensor([5., 1.]")
    assert type(p * 2) is fathom.Tensor
    assert not nn.Parameter(fathom.ones(1), requires_grad=False).requires_grad
    with pytest.raises(TypeError, match="expected a Tensor"):
        nn.Parameter([1.0])


def test_sequential_container(torch):
    f = nn.Sequential(nn.Module(), nn.Module(), nn.Module())
    assert len(f) == 3 and isinstance(f[1:], nn.Sequential) and len(f[1:]) == 2
    assert f[-1] is list(f)[2]
    del f[0]
    assert list(f._modules) == ["0", "1"]
    f.append(nn.Module())
    f.insert(0, nn.Module())
    assert list(f._modules) == ["0", "1", "2", "3"]
    with pytest.raises(IndexError, match="out of range"):
        f[10]
    from collections import OrderedDict
    named = nn.Sequential(OrderedDict([("a", nn.Module()), ("b", nn.Module())]))
    assert list(named._modules) == ["a", "b"]
    identity = nn.Sequential()
    x = fathom.ones(2)
    assert identity(x) is x


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Module()])
    ml += [nn.Module()]
    ml.insert(0, nn.Module())
    assert len(ml) == 3 and list(ml._modules) == ["0", "1", "2"]
    ml.pop(0)
    assert len(ml) == 2
    md = nn.ModuleDict({"x": nn.Module()})
    md["y"] = nn.Module()
    assert list(md.keys()) == ["x", "y"] and "x" in md
    pl = nn.ParameterList([fathom.ones(1)])
    assert isinstance(pl[0], nn.Parameter)


def test_docs_page_lists_every_module():
    """docs/nn.md is the module list users read: a new layer must be added there."""
    import inspect
    import pathlib
    import re
    text = (pathlib.Path(__file__).parents[1] / "docs" / "nn.md").read_text()
    listed = set(re.findall(r"`(\w+)`", text))
    for families in re.findall(r"`(\w+?)(\d)d/(\d)d(?:/(\d)d)?`", text):
        stem, *dims = families
        listed.update(stem + d + "d" for d in dims if d)
    public = {n for n, obj in vars(nn).items() if inspect.isclass(obj) and
              issubclass(obj, nn.Module) and not n.startswith("_") and n not in
              ("RNNBase", "RNNCellBase")}
    assert not sorted(public - listed), "add these to docs/nn.md"
