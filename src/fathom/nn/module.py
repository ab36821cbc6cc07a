"""Module: the base class of every layer, with PyTorch's registration and state rules.

Registration is assignment: a `Parameter` or a `Module` assigned to an attribute is
filed in `_parameters` or `_modules`; buffers go through `register_buffer`. Names
are dotted paths in registration order (`features.0.weight`), the same keys a
PyTorch model of the same architecture has, so state dicts move between the two.
"""
from __future__ import annotations

import itertools
from collections import OrderedDict, namedtuple

from .. import backend
from .. import dtypes as _dt
from ..autograd.grad_mode import no_grad
from ..errors import fmt_shape
from ..tensor import Tensor, _make, _to_args
from .parameter import Parameter

_np = backend.np

_IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class RemovableHandle:
    """Returned by the hook registrations; `remove()` unregisters the hook."""

    _ids = itertools.count()

    def __init__(self, hooks: dict):
        self.id = next(RemovableHandle._ids)
        self._hooks = hooks

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _as_array(value, op, key):
    """A state-dict value (Tensor, NumPy array, PyTorch tensor, number) as a host or device
    array."""
    if isinstance(value, Tensor):
        return value.data
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch.Tensor
        return value.detach().cpu().numpy()
    try:
        return _np.asarray(value)
    except Exception as e:  # noqa: BLE001 - reported with the key that failed
        raise TypeError(f"{op}: value for key '{key}' is a {type(value).__name__}, "
                        "not a tensor or array") from e


class Module:
    """Base class for all layers and models.

    Subclasses call `super().__init__()` first, assign parameters and submodules as
    attributes, and define `forward`. Calling the module runs its forward pre-hooks,
    `forward` and its forward hooks.

        >>> class Net(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.fc = nn.Linear(4, 2)
        ...     def forward(self, x):
        ...         return self.fc(x).relu()
        >>> [name for name, _ in Net().named_parameters()]
        ['fc.weight', 'fc.bias']
    """

    training: bool
    _version = 1

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments")
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_forward_hooks_with_kwargs"] = set()
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_pre_hooks_with_kwargs"] = set()

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} is missing the required "
                                  "\"forward\" function")

    # --- calling ----------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        d = self.__dict__
        if not d["_forward_hooks"] and not d["_forward_pre_hooks"]:
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    def _call_with_hooks(self, args, kwargs):
        for hid, hook in list(self._forward_pre_hooks.items()):
            if hid in self._forward_pre_hooks_with_kwargs:
                res = hook(self, args, kwargs)
                if res is not None:
                    args, kwargs = res
            else:
                res = hook(self, args)
                if res is not None:
                    args = res if isinstance(res, tuple) else (res,)
        out = self.forward(*args, **kwargs)
        for hid, hook in list(self._forward_hooks.items()):
            if hid in self._forward_hooks_with_kwargs:
                res = hook(self, args, kwargs, out)
            else:
                res = hook(self, args, out)
            if res is not None:
                out = res
        return out

    def register_forward_pre_hook(self, hook, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """`hook(module, args) -> None | new args` runs before forward (with_kwargs:
        `hook(module, args, kwargs) -> None | (args, kwargs)`)."""
        return self._add_hook(self._forward_pre_hooks, self._forward_pre_hooks_with_kwargs,
                              hook, prepend, with_kwargs)

    def register_forward_hook(self, hook, *, prepend: bool = False,
                              with_kwargs: bool = False) -> RemovableHandle:
        """`hook(module, args, output) -> None | new output` runs after forward (with_kwargs:
        `hook(module, args, kwargs, output)`)."""
        return self._add_hook(self._forward_hooks, self._forward_hooks_with_kwargs,
                              hook, prepend, with_kwargs)

    @staticmethod
    def _add_hook(hooks, with_kwargs_set, hook, prepend, with_kwargs):
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        if with_kwargs:
            with_kwargs_set.add(handle.id)
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    # --- registration -----------------------------------------------------------------
    def __setattr__(self, name: str, value) -> None:
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError(f"cannot assign parameter '{name}' before "
                                     "Module.__init__() call")
            self._forget(name)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter "
                                f"'{name}' (fathom.nn.Parameter or None expected)")
            params[name] = None
        elif isinstance(value, Module):
            if params is None:
                raise AttributeError(f"cannot assign module '{name}' before "
                                     "Module.__init__() call")
            self._forget(name)
            d["_modules"][name] = value
        elif d.get("_modules") is not None and name in d["_modules"]:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module "
                                f"'{name}' (fathom.nn.Module or None expected)")
            d["_modules"][name] = None
        elif d.get("_buffers") is not None and name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                "(fathom.Tensor or None expected)")
            d["_buffers"][name] = value
        else:
            if params is None and isinstance(value, Tensor):
                raise AttributeError(f"cannot assign tensor '{name}' before "
                                     "Module.__init__() call")
            object.__setattr__(self, name, value)

    def _forget(self, name):
        d = self.__dict__
        d.pop(name, None)
        for store in ("_parameters", "_buffers", "_modules"):
            d[store].pop(name, None)
        d["_non_persistent_buffers_set"].discard(name)

    def __getattr__(self, name: str):
        # only called when normal lookup fails: parameters, buffers and submodules
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if name in d.get(store, ()):
                del d[store][name]
                d["_non_persistent_buffers_set"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        keys = list(super().__dir__())
        for store in ("_parameters", "_buffers", "_modules"):
            keys += list(self.__dict__.get(store, ()))
        return sorted(set(keys))

    def _check_name(self, kind, name):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {kind} '{name}' before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
        if name == "" or "." in name:
            raise KeyError(f"{kind} name can't be empty or contain \".\", got {name!r}")
        taken = [s for s in ("_parameters", "_buffers", "_modules")
                 if s != {"parameter": "_parameters", "buffer": "_buffers",
                          "module": "_modules"}[kind]]
        if (hasattr(self, name) and not any(name in self.__dict__[s] for s in
                                            ("_parameters", "_buffers", "_modules"))) or \
                any(name in self.__dict__[s] for s in taken):
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add `param` (a Parameter, or None for an absent optional one) under `name`."""
        self._check_name("parameter", name)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter "
                            f"'{name}' (fathom.nn.Parameter or None required)")
        if param is not None and param.grad_fn is not None:
            raise ValueError(f"cannot assign non-leaf Tensor to parameter '{name}'; use "
                             ".detach() to make it a leaf")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add state that is not a parameter (running statistics); `persistent=False` keeps
        it out of `state_dict`."""
        self._check_name("buffer", name)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer "
                            f"'{name}' (fathom.Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module under `name` (what assignment does)."""
        self._check_name("module", name)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        """The submodule at dotted path `target` ("" is self)."""
        mod = self
        for part in target.split(".") if target else ():
            if part not in mod._modules:
                raise AttributeError(f"{mod._get_name()} has no submodule '{part}' "
                                     f"(looking up '{target}')")
            mod = mod._modules[part]
        return mod

    def get_parameter(self, target: str) -> Parameter:
        path, _, name = target.rpartition(".")
        mod = self.get_submodule(path)
        if name not in mod._parameters:
            raise AttributeError(f"{mod._get_name()} has no parameter '{name}'")
        return mod._parameters[name]

    def get_buffer(self, target: str) -> Tensor:
        path, _, name = target.rpartition(".")
        mod = self.get_submodule(path)
        if name not in mod._buffers:
            raise AttributeError(f"{mod._get_name()} has no buffer '{name}'")
        return mod._buffers[name]

    # --- traversal --------------------------------------------------------------------
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """(dotted name, module) for self and every descendant, depth first."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if self in memo:
                return
            memo.add(self)
        yield prefix, self
        for name, mod in self._modules.items():
            if mod is None:
                continue
            yield from mod.named_modules(memo, prefix + ("." if prefix else "") + name,
                                         remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, mod in self._modules.items():
            if mod is not None and mod not in seen:
                seen.add(mod)
                yield name, mod

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, store, prefix, recurse, remove_duplicate):
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        seen = set()
        for mod_prefix, mod in mods:
            for name, v in getattr(mod, store).items():
                if v is None or (remove_duplicate and id(v) in seen):
                    continue
                seen.add(id(v))
                yield mod_prefix + ("." if mod_prefix else "") + name, v

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True):
        """(dotted name, Parameter) pairs in registration order; shared ones once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True):
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # --- modes ------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode here and in every descendant (dropout, batch norm)."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Switch gradient recording for every parameter (freeze with False)."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad = _make(backend.namespace(p.grad.data).zeros_like(p.grad.data),
                               None, 0, None)

    def apply(self, fn) -> Module:
        """Call `fn(module)` on every descendant (children first) and self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # --- dtype and device -------------------------------------------------------------
    def _apply_arrays(self, fn) -> Module:
        """Replace every parameter's, gradient's and buffer's array by `fn(array)`, keeping
        the Parameter objects (optimizers hold them)."""
        for m in self.modules():
            for p in m._parameters.values():
                if p is None:
                    continue
                new = fn(p.data)
                if new is not p.data:
                    p.data = new
                    p._vc[0] += 1
                if p.grad is not None:
                    p.grad.data = fn(p.grad.data)
            for name, b in m._buffers.items():
                if b is not None:
                    new = fn(b.data)
                    if new is not b.data:
                        b.data = new
                        b._vc[0] += 1
        return self

    def to(self, *args, **kwargs) -> Module:
        """`to(dtype)`, `to(device)`, `to(device, dtype)` or `to(tensor)`: floating-point
        parameters and buffers change dtype; all move device. Works in place."""
        dev, dtype = _to_args(args, kwargs)
        if dtype is not None:
            dtype = _dt.as_dtype(dtype)
            if not dtype.is_floating_point:
                raise TypeError(f"Module.to only accepts floating point dtypes, got {dtype}")
        if dev is not None:
            dev = backend.device(dev)

        def fn(arr):
            if dev is not None:
                arr = backend.to_device(arr, dev)
            if dtype is not None and arr.dtype.kind == "f" and arr.dtype != dtype.np:
                arr = arr.astype(dtype.np)
            return arr
        return self._apply_arrays(fn)

    def float(self) -> Module:
        return self.to(_dt.float32)

    def double(self) -> Module:
        return self.to(_dt.float64)

    def half(self) -> Module:
        return self.to(_dt.float16)

    def type(self, dst_type) -> Module:
        return self.to(dst_type)

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, device=None) -> Module:
        return self.to("cuda" if device is None else backend.device("cuda", device)
                       if isinstance(device, int) else device)

    # --- state ------------------------------------------------------------------------
    def state_dict(self, *args, destination=None, prefix: str = "", keep_vars: bool = False):
        """An OrderedDict from dotted names to parameters and persistent buffers.

        Values are detached tensors sharing memory with the module (as in PyTorch);
        `keep_vars=True` returns the Parameters themselves."""
        if args:  # PyTorch's deprecated positional order
            destination, prefix, keep_vars = (list(args) + [destination, prefix, keep_vars])[:3]
        if destination is None:
            destination = OrderedDict()
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars else b.detach()
        extra = self.get_extra_state() if type(self).get_extra_state is not \
            Module.get_extra_state else None
        if extra is not None:
            destination[prefix + "_extra_state"] = extra
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination=destination, prefix=prefix + name + ".",
                             keep_vars=keep_vars)
        return destination

    def get_extra_state(self):
        return None

    def set_extra_state(self, state) -> None:
        raise RuntimeError(f"{self._get_name()} received an _extra_state in load_state_dict "
                           "but does not define set_extra_state")

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Copy values into the parameters and buffers of the same dotted names.

        Values may be Fathom tensors, NumPy arrays or PyTorch tensors. Every problem is
        collected first and reported in one error (missing keys and unexpected keys when
        `strict`; shape mismatches always), and nothing is changed when there is one.
        Returns `(missing_keys, unexpected_keys)`."""
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}")
        targets = OrderedDict()
        extra_targets = {}
        for prefix, mod in self.named_modules():
            p = prefix + "." if prefix else ""
            for name, v in itertools.chain(mod._parameters.items(), mod._buffers.items()):
                if v is not None and name not in mod._non_persistent_buffers_set:
                    targets[p + name] = v
            if type(mod).set_extra_state is not Module.set_extra_state:
                extra_targets[p + "_extra_state"] = mod
        missing = [k for k in list(targets) + list(extra_targets) if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets and k not in extra_targets]
        mismatched, values = [], {}
        for key, t in targets.items():
            if key not in state_dict:
                continue
            arr = _as_array(state_dict[key], "load_state_dict", key)
            if tuple(arr.shape) != tuple(t.data.shape):
                mismatched.append(f"size mismatch for {key}: copying a param with shape "
                                  f"{fmt_shape(arr.shape)} from checkpoint, the shape in "
                                  f"current model is {fmt_shape(t.data.shape)}.")
            values[key] = arr
        errors = list(mismatched)
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: " +
                              ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " +
                              ", ".join(f'"{k}"' for k in missing) + ". ")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {self._get_name()}:\n\t" +
                               "\n\t".join(errors))
        with no_grad():
            for key, arr in values.items():
                t = targets[key]
                xp = backend.namespace(t.data)
                if assign:
                    t.data = xp.asarray(arr).astype(t.data.dtype, copy=True)
                else:
                    t.data[...] = xp.asarray(arr).astype(t.data.dtype, copy=False)
                t._vc[0] += 1
        for key, mod in extra_targets.items():
            if key in state_dict:
                mod.set_extra_state(state_dict[key])
        return _IncompatibleKeys(missing, unexpected)

    # --- printing ---------------------------------------------------------------------
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr (its constructor args)."""
        return ""

    def __repr__(self):
        lines = [line for line in self.extra_repr().split("\n") if line] if \
            self.extra_repr() else []
        for name, mod in self._modules.items():
            text = repr(mod).replace("\n", "\n  ")
            lines.append(f"({name}): {text}")
        main = self._get_name() + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                main += lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"

    def _describe(self) -> str:
        """One line naming this layer for error messages: `Linear(in_features=4, ...)`."""
        return f"{self._get_name()}({self.extra_repr()})"

    def _renamed(self, err, keep_op: bool = False):
        """`err` again (same class) with this layer's description in front, so an error
        from a functional op names the layer the user built. The op's own prefix
        (`conv2d: `) is dropped unless `keep_op`."""
        msg = str(err.args[0]) if len(err.args) == 1 else str(err)
        who = self._describe()
        if msg.startswith(who):
            return err
        op, sep, rest = msg.partition(": ")
        if sep and not keep_op and op.isidentifier() and op.islower():
            msg = rest
        try:
            new = type(err)(f"{who}: {msg}")
        except Exception:  # noqa: BLE001 - an exception class with another signature
            return err
        return new.with_traceback(err.__traceback__)

    # --- pickling (copy.deepcopy works through __dict__; make sure hooks survive) ------
    def __setstate__(self, state):
        self.__dict__.update(state)

