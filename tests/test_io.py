"""fathom.io: safetensors files (validated before reading, written atomically) and
fathom.save / fathom.load of nested structures, never through pickle."""
import io
import json
import math
import os
import pickle
import zipfile
from collections import OrderedDict, defaultdict

import numpy as np
import pytest
import safetensors.numpy

import fathom
import fathom.io as fio
from fathom import nn, optim
from fathom.io import FileFormatError

ALL_DTYPES = [fathom.float16, fathom.float32, fathom.float64, fathom.int64, fathom.int32,
              fathom.int16, fathom.int8, fathom.uint8, fathom.bool]


def _same(a, b):
    """Exact equality of type, dtype, shape and bits, recursively."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, fathom.Tensor):
        assert a.dtype is b.dtype and a.shape == b.shape
        assert a.numpy(force=True).tobytes() == b.numpy(force=True).tobytes()
    elif isinstance(a, np.generic):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    elif isinstance(a, dict):
        assert list(a) == list(b) and [type(k) for k in a] == [type(k) for k in b]
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, float):
        assert a == b and math.copysign(1, a) == math.copysign(1, b) or (a != a and b != b)
    else:
        assert a == b


def _roundtrip(obj, tmp_path, **kw):
    path = tmp_path / "obj.safetensors"
    fathom.save(obj, path)
    return fathom.load(path, **kw)


# --- structures -----------------------------------------------------------------------------

def test_roundtrip_keeps_types_and_bits(tmp_path):
    x = fathom.randn(3, 4)
    obj = {
        "none": None, "t": True, "f": False, "int": 3, "big": 2 ** 80, "neg": -7,
        "float": 0.1, "negzero": -0.0, "inf": float("inf"), "ninf": float("-inf"),
        "nan": float("nan"), "tiny": 5e-324, "str": "héllo \u2603 \ud800", "empty": "",
        "list": [1, [2, (3, 4)], ()], "tuple": (1, "a", None), "emptyd": {},
        0: "int key", "0": "str key", -5: [],
        "od": OrderedDict([("b", 1), ("a", 2)]),
        "np32": np.float32(1.5), "npi": np.int64(-3), "npb": np.bool_(True),
        "tensor": x, "zero_d": fathom.tensor(2.5), "empty_t": fathom.zeros(0, 3),
        "noncontig": x.T, "sliced": x[:, ::2], "nan_bits": fathom.tensor([float("nan"), -0.0]),
    }
    back = _roundtrip(obj, tmp_path)
    obj["noncontig"] = obj["noncontig"].contiguous()
    obj["sliced"] = obj["sliced"].contiguous()
    _same(obj, back)


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_every_dtype_roundtrips(tmp_path, dtype):
    data = fathom.randn(4, 5) * 50
    t = data.to(dtype)
    back = _roundtrip({"t": t, "s": t[1, 2], "e": t[:0]}, tmp_path)
    for k in ("t", "s", "e"):
        assert back[k].dtype is dtype
    _same({"t": t, "s": t[1, 2].contiguous(), "e": t[:0].contiguous()}, back)


def test_numpy_arrays_come_back_as_tensors(tmp_path):
    a = np.arange(6, dtype=np.int16).reshape(2, 3)
    back = _roundtrip({"a": a, "f": np.asfortranarray(a)}, tmp_path)
    assert isinstance(back["a"], fathom.Tensor) and back["a"].dtype is fathom.int16
    np.testing.assert_array_equal(back["a"].numpy(), a)
    np.testing.assert_array_equal(back["f"].numpy(), a)


def test_shared_tensors_are_stored_once_and_stay_shared(tmp_path):
    w = fathom.randn(100)
    path = tmp_path / "s.safetensors"
    fathom.save({"a": w, "b": [w, w]}, path)
    assert list(safetensors.numpy.load_file(path)) == ["a"]
    back = fathom.load(path)
    assert back["a"] is back["b"][0] is back["b"][1]


def test_parameters_and_requires_grad_are_kept(tmp_path):
    p = nn.Parameter(fathom.randn(3))
    q = fathom.randn(2, requires_grad=True)
    y = q * 2  # a non-leaf: its data is saved, as a leaf that requires grad
    back = _roundtrip([p, q, y, fathom.ones(1)], tmp_path)
    assert type(back[0]) is nn.Parameter and back[0].requires_grad
    assert back[1].requires_grad and back[1].is_leaf and type(back[1]) is fathom.Tensor
    assert back[2].requires_grad and back[2].is_leaf
    assert not back[3].requires_grad


def test_file_objects_and_pathlike(tmp_path):
    obj = {"w": fathom.randn(2, 2), "n": 1}
    buf = io.BytesIO()
    fathom.save(obj, buf)
    buf.seek(0)
    _same(obj, fathom.load(buf))
    with open(tmp_path / "f.safetensors", "wb") as f:
        fathom.save(obj, f)
    with open(tmp_path / "f.safetensors", "rb") as f:
        _same(obj, fathom.load(f))
    fathom.save(obj, str(tmp_path / "g.safetensors"))
    _same(obj, fathom.load(str(tmp_path / "g.safetensors")))


def test_non_seekable_stream(tmp_path):
    buf = io.BytesIO()
    fathom.save({"w": fathom.arange(4)}, buf)

    class Pipe:
        def __init__(self, data):
            self.data = data

        def read(self, n=-1):
            out, self.data = self.data, b""
            return out

    assert fathom.load(Pipe(buf.getvalue()))["w"].tolist() == [0, 1, 2, 3]


def test_names_in_the_file_are_paths(tmp_path):
    path = tmp_path / "p.safetensors"
    fathom.save({"model": {"fc.weight": fathom.ones(2)}, "opt": {"state": {0: {
        "exp_avg": fathom.zeros(2)}}}, "a/b": fathom.ones(1), "a": {"b": fathom.zeros(1)}},
        path)
    names = set(safetensors.numpy.load_file(path))
    assert {"model/fc.weight", "opt/state/0/exp_avg", "a/b"} <= names and len(names) == 4
    back = fathom.load(path)
    assert back["a/b"].item() == 1 and back["a"]["b"].item() == 0


def test_map_location(tmp_path):
    back = _roundtrip({"w": fathom.ones(2)}, tmp_path, map_location="cpu")
    assert back["w"].device == fathom.device("cpu")
    back = fathom.load(tmp_path / "obj.safetensors", map_location=fathom.device("cpu"))
    assert back["w"].device == "cpu"
    with pytest.raises(TypeError, match="map_location"):
        fathom.load(tmp_path / "obj.safetensors", map_location=3)


def test_map_location_overrides_the_saved_device(tmp_path):
    """A file saved from a GPU records the device; map_location='cpu' brings it back."""
    path = tmp_path / "gpu.safetensors"
    root = {"dict": [["w", {"tensor": "w", "device": "cuda:0"}]]}
    fio.save_file({"w": fathom.ones(2)}, path,
                  {"fathom.structure": json.dumps({"version": 1, "root": root})})
    assert fathom.load(path, map_location="cpu")["w"].device == "cpu"


@pytest.mark.parametrize("obj, what", [
    ({"model": {"x": {1, 2}}}, r"obj\['model'\]\['x'\]: cannot save a set"),
    ({"m": nn.Linear(2, 2)}, r"obj\['m'\]: cannot save a Linear \(a Module\).*state_dict"),
    ([len], r"obj\[0\]: cannot save a function"),
    ({"f": lambda x: x}, r"obj\['f'\]: cannot save a function"),
    ({"o": object()}, r"obj\['o'\]: cannot save an object"),
    ({(1, 2): 3}, r"obj: cannot save a dict key of type tuple"),
    ({True: 3}, r"obj: cannot save a dict key of type bool"),
    ({"c": np.zeros(2, np.complex64)}, r"obj\['c'\]: cannot save dtype complex64"),
    ({"u": np.zeros(2, np.uint16)}, r"obj\['u'\]: cannot save dtype uint16"),
    ({"d": fathom.float32}, r"obj\['d'\]: cannot save a dtype"),
    ({"s": {"x": fathom.ones(1)}.keys()}, r"obj\['s'\]: cannot save a dict_keys"),
    (defaultdict(int), r"obj: cannot save a defaultdict.*plain dict"),
])
def test_unsupported_objects_name_their_place(tmp_path, obj, what):
    with pytest.raises(TypeError, match=what):
        fathom.save(obj, tmp_path / "bad.safetensors")
    assert os.listdir(tmp_path) == []


def test_cycles_are_refused(tmp_path):
    a = [1]
    a.append({"again": a})
    with pytest.raises(TypeError, match=r"obj\[1\]\['again'\]: cannot save a structure that "
                                        r"contains itself"):
        fathom.save(a, tmp_path / "c.safetensors")


# --- a real checkpoint ----------------------------------------------------------------------

def _setup(seed):
    fathom.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.3),
                          nn.Linear(16, 3))
    opt = optim.Adam(model.parameters(), lr=0.01, amsgrad=True)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    return model, opt, sched


def _train(model, opt, sched, steps):
    for _ in range(steps):  # inputs and dropout masks draw from the global RNG
        x, y = fathom.randn(8, 6), fathom.randint(0, 3, (8,))
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        sched.step()


def test_checkpoint_resumes_bit_identically(tmp_path):
    model, opt, sched = _setup(0)
    _train(model, opt, sched, 3)
    path = tmp_path / "ckpt.safetensors"
    fathom.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                 "scheduler": sched.state_dict(), "rng": fathom.get_rng_state(),
                 "epoch": 3}, path)
    _train(model, opt, sched, 4)
    expected = model.state_dict()

    model2, opt2, sched2 = _setup(1)  # different weights and RNG
    ckpt = fathom.load(path)
    assert ckpt["epoch"] == 3 and isinstance(ckpt["optimizer"]["state"], dict)
    assert list(ckpt["optimizer"]["state"]) == [0, 1, 2, 3, 4, 5]
    assert isinstance(ckpt["optimizer"]["param_groups"][0]["betas"], tuple)
    _same(sched.state_dict()["base_lrs"], ckpt["scheduler"]["base_lrs"])
    model2.load_state_dict(ckpt["model"])
    opt2.load_state_dict(ckpt["optimizer"])
    sched2.load_state_dict(ckpt["scheduler"])
    fathom.set_rng_state(ckpt["rng"])
    _train(model2, opt2, sched2, 4)
    _same(expected, model2.state_dict())
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    _same(opt.state_dict(), opt2.state_dict())


# --- flat files and interoperability --------------------------------------------------------

def test_save_file_load_file_read_metadata(tmp_path):
    path = tmp_path / "flat.safetensors"
    tensors = {"w": fathom.randn(3, 2), "b": np.arange(3, dtype=np.int32)}
    fio.save_file(tensors, path, metadata={"format": "pt", "note": "x"})
    back = fio.load_file(path)
    assert set(back) == {"w", "b"} and back["b"].dtype is fathom.int32
    assert fio.read_metadata(path) == {"format": "pt", "note": "x"}
    # fathom.load reads plain safetensors files as a dict of tensors
    assert set(fathom.load(path)) == {"w", "b"}
    with pytest.raises(TypeError, match="names must be strings"):
        fio.save_file({1: fathom.ones(1)}, path)
    with pytest.raises(TypeError, match="metadata must be a dict of str to str"):
        fio.save_file({"a": fathom.ones(1)}, path, metadata={"a": 1})
    with pytest.raises(TypeError, match=r"tensor 'a': expected a Tensor or a NumPy array"):
        fio.save_file({"a": [1.0]}, path)


def test_safetensors_library_reads_fathom_files_and_back(tmp_path):
    path = tmp_path / "x.safetensors"
    tensors = {str(d): (fathom.randn(3, 4) * 9).to(d) for d in ALL_DTYPES}
    tensors["scalar"] = fathom.tensor(1.5)
    fio.save_file(tensors, path, {"k": "v"})
    theirs = safetensors.numpy.load_file(path)
    for k, t in tensors.items():
        np.testing.assert_array_equal(theirs[k], t.numpy())
        assert theirs[k].dtype == t.numpy().dtype
    with safetensors.safe_open(path, framework="np") as f:
        assert f.metadata() == {"k": "v"}
    safetensors.numpy.save_file({k: v.numpy() for k, v in tensors.items()},
                                tmp_path / "y.safetensors")
    mine = fio.load_file(tmp_path / "y.safetensors")
    for k, t in tensors.items():
        _same(t, mine[k])


def test_torch_interop(tmp_path, torch):
    from safetensors.torch import load_file as torch_load, save_file as torch_save

    src = {
        "f16": torch.randn(3, 2).half(), "f32": torch.randn(4), "f64": torch.randn(2, 2).double(),
        "i64": torch.arange(5), "i32": torch.arange(5, dtype=torch.int32),
        "i16": torch.arange(5, dtype=torch.int16), "i8": torch.arange(-3, 3, dtype=torch.int8),
        "u8": torch.arange(5, dtype=torch.uint8), "bool": torch.tensor([True, False]),
        "bf16": torch.randn(7).bfloat16(), "scalar": torch.tensor(3.0),
    }
    torch_save(src, tmp_path / "t.safetensors")
    mine = fio.load_file(tmp_path / "t.safetensors")
    for k, t in src.items():
        want = t.float() if k == "bf16" else t  # bf16 widens exactly to float32
        np.testing.assert_array_equal(mine[k].numpy(), want.numpy())
        assert mine[k].shape == tuple(t.shape)
    assert mine["bf16"].dtype is fathom.float32

    model = nn.Linear(3, 2)
    fathom.save({"model": model.state_dict(), "epoch": 1}, tmp_path / "m.safetensors")
    theirs = torch_load(tmp_path / "m.safetensors")
    assert set(theirs) == {"model/weight", "model/bias"}
    tm = torch.nn.Linear(3, 2)
    tm.load_state_dict({k.split("/")[1]: v for k, v in theirs.items()})
    np.testing.assert_array_equal(tm.weight.detach().numpy(), model.weight.detach().numpy())
    x = np.random.randn(4, 3).astype(np.float32)
    np.testing.assert_allclose(tm(torch.from_numpy(x)).detach().numpy(),
                               model(fathom.from_numpy(x)).detach().numpy(), rtol=1e-6)


# --- atomic writes --------------------------------------------------------------------------

def test_crash_before_rename_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    fathom.save({"v": 1}, path)
    old = path.read_bytes()

    def crash(*a):
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk on fire"):
        fathom.save({"v": 2, "w": fathom.randn(1000)}, path)
    assert path.read_bytes() == old and os.listdir(tmp_path) == ["ckpt.safetensors"]


def test_crash_mid_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    fio.save_file({"w": fathom.ones(3)}, path)
    old = path.read_bytes()

    def half_write(arrays, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"\x10\x00\x00\x00\x00\x00\x00\x00{")
        raise KeyboardInterrupt

    monkeypatch.setattr(safetensors.numpy, "save_file", half_write)
    with pytest.raises(KeyboardInterrupt):
        fio.save_file({"w": fathom.zeros(3)}, path)
    assert path.read_bytes() == old and os.listdir(tmp_path) == ["ckpt.safetensors"]


def test_write_into_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        fathom.save({"v": 1}, tmp_path / "nope" / "x.safetensors")
    assert os.listdir(tmp_path) == []


# --- malformed files ------------------------------------------------------------------------

def _craft(path, header, data=b"", n=None):
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    n = len(raw) if n is None else n
    path.write_bytes(n.to_bytes(8, "little") + raw + data)
    return path


def _f32(key="w", shape=(2,), offsets=(0, 8)):
    return {key: {"dtype": "F32", "shape": list(shape), "data_offsets": list(offsets)}}


LOADERS = {"load_file": fio.load_file, "read_metadata": fio.read_metadata,
           "fathom.load": fathom.load}

MALFORMED = {
    # name: (header, data, header-length override, message)
    "too_short": (b"", b"", None, "truncated: 5 bytes, too short for the 8-byte header"),
    "empty_header": (b"", b"", None, "header is not valid JSON"),
    "header_longer_than_file": (b"{}", b"", 1000, r"header length 1000 is larger than the "
                                                   r"file \(10 bytes"),
    "not_json": (b"{not json}", b"", None, "header is not valid JSON"),
    "not_utf8": (b'{"\xff": 1}', b"", None, r"header is not valid UTF-8 \(byte 2"),
    "not_an_object": (b"[1, 2]", b"", None, "header must be a JSON object, got list"),
    "nan_constant": (b'{"__metadata__": {"a": NaN}}', b"", None, "header is not valid JSON"),
    "duplicate_key": (b'{"a": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}, '
                      b'"a": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}}', b"",
                      None, "header has the key 'a' twice"),
    "metadata_not_object": ({"__metadata__": [1]}, b"", None,
                            "__metadata__ must be a JSON object, got list"),
    "metadata_not_str": ({"__metadata__": {"epoch": 3}}, b"", None,
                         r"__metadata__\['epoch'\] must be a string, got int"),
    "entry_not_object": ({"w": [1]}, b"", None, "tensor 'w': entry must be a JSON object"),
    "missing_field": ({"w": {"dtype": "F32", "shape": [2]}}, b"", None,
                      "tensor 'w': missing field 'data_offsets'"),
    "unknown_dtype": ({"w": {"dtype": "F128", "shape": [1], "data_offsets": [0, 16]}},
                      bytes(16), None, "tensor 'w': unknown dtype 'F128'"),
    "unsupported_dtype": ({"w": {"dtype": "U32", "shape": [1], "data_offsets": [0, 4]}},
                          bytes(4), None, "tensor 'w': a dtype Fathom does not support 'U32'"),
    "negative_shape": (_f32(shape=(-2,)), bytes(8), None,
                       r"tensor 'w': shape must be a list of non-negative integers, got \[-2\]"),
    "float_shape": (_f32(shape=(2.0,)), bytes(8), None, r"shape must be .* got \[2.0\]"),
    "bool_shape": (_f32(shape=(True, 2)), bytes(8), None, r"shape must be .* got \[true, 2\]"),
    "shape_not_list": ({"w": {"dtype": "F32", "shape": 2, "data_offsets": [0, 8]}}, bytes(8),
                       None, "shape must be a list"),
    "negative_offset": (_f32(offsets=(-8, 0)), bytes(8), None,
                        r"data_offsets must be two non-negative integers \[begin, end\], "
                        r"got \[-8, 0\]"),
    "three_offsets": (_f32(offsets=(0, 4, 8)), bytes(8), None, "data_offsets must be two"),
    "reversed_offsets": (_f32(offsets=(8, 0)), bytes(8), None,
                         r"data_offsets \[8, 0\] end before they begin"),
    "size_mismatch": (_f32("fc.weight", (10, 128), (0, 5000)), bytes(5000), None,
                      r"tensor 'fc.weight': shape \[10, 128\] of F32 needs 5120 bytes, offsets "
                      r"give 5000"),
    "overlap": ({**_f32("a", (2,), (0, 8)), **_f32("b", (2,), (4, 12))}, bytes(12), None,
                r"tensor 'b' at data_offsets \[4, 12\] overlaps tensor 'a' at \[0, 8\]"),
    "gap": ({**_f32("a", (1,), (0, 4)), **_f32("b", (1,), (8, 12))}, bytes(12), None,
            r"gap of 4 bytes in the tensor data before tensor 'b'"),
    "gap_at_start": (_f32("a", (1,), (4, 8)), bytes(8), None, "gap of 4 bytes"),
    "out_of_range": (_f32("a", (2 ** 40,), (0, 2 ** 42)), bytes(16), None,
                     r"truncated: tensor 'a' ends at byte 4398046511104 of the data, but the "
                     r"file holds only 16 bytes"),
    "truncated": (_f32("a", (4,), (0, 16)), bytes(10), None, r"truncated: .*6 bytes missing"),
    "trailing_bytes": (_f32("a", (2,), (0, 8)), bytes(11), None,
                       r"3 trailing bytes after the last tensor"),
    "bad_bool": ({"m": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}}, b"\x01\x07",
                 None, "tensor 'm': BOOL data holds bytes other than 0 and 1"),
}
READS_DATA = {"bad_bool"}  # found while reading the data, which read_metadata skips


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_files_are_rejected(tmp_path, case, loader):
    header, data, n, message = MALFORMED[case]
    path = _craft(tmp_path / "model.safetensors", header, data, n)
    if case == "too_short":
        path.write_bytes(b"\x00" * 5)
    if case in READS_DATA and loader == "read_metadata":
        LOADERS[loader](path)
        return
    with pytest.raises(FileFormatError, match=message) as e:
        LOADERS[loader](path)
    assert str(e.value).startswith(str(path) + ": ")
    assert isinstance(e.value, ValueError)


def test_tiny_file(tmp_path):
    path = tmp_path / "tiny.safetensors"
    path.write_bytes(b"\x01\x02")
    with pytest.raises(FileFormatError, match=r"tiny.safetensors: truncated: 2 bytes, too "
                                              r"short for the 8-byte header length"):
        fio.load_file(path)


def test_cut_files_are_rejected_at_every_length(tmp_path):
    path = tmp_path / "full.safetensors"
    fathom.save({"w": fathom.randn(5), "n": 1}, path)
    raw = path.read_bytes()
    cut = tmp_path / "cut.safetensors"
    for k in list(range(0, len(raw), 7)) + [len(raw) - 1]:
        cut.write_bytes(raw[:k])
        with pytest.raises(FileFormatError, match="truncated|larger than the file|not valid"):
            fathom.load(cut)


def test_header_cap_is_checked_before_reading(tmp_path):
    path = tmp_path / "huge.safetensors"
    n = fio.safetensors_file.MAX_HEADER + 1
    with open(path, "wb") as f:  # a sparse file: big, but costs no disk
        f.write(n.to_bytes(8, "little"))
        f.truncate(n + 16)
    with pytest.raises(FileFormatError, match=f"header length {n} exceeds the 100000000-byte"):
        fio.read_metadata(path)


def test_file_objects_get_the_same_checks():
    buf = io.BytesIO(b"\xff" * 8 + b"{}")
    buf.name = "stream.safetensors"
    with pytest.raises(FileFormatError, match="^stream.safetensors: header length"):
        fio.load_file(buf)


class _Armed:
    """Unpickling this creates `marker`: proof that a loader ran code from the file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_is_rejected_without_running_it(tmp_path):
    armed = pickle.dumps({"w": _Armed(tmp_path / "armed")}, protocol=4)
    pickle.loads(armed)  # the trap is real: plain unpickling springs it
    assert (tmp_path / "armed").exists()

    marker = tmp_path / "ran"
    for protocol in (2, 3, 4, 5):
        path = tmp_path / f"p{protocol}.pt"
        path.write_bytes(pickle.dumps({"w": _Armed(marker)}, protocol=protocol))
        for load in LOADERS.values():
            with pytest.raises(FileFormatError, match=f"p{protocol}.pt: this is a Python "
                                                      f"pickle \\(protocol {protocol}\\).*never "
                                                      f"unpickles"):
                load(path)
    assert not marker.exists()


def test_zip_is_rejected_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "model.pt"
    with zipfile.ZipFile(path, "w") as z:  # torch.save's layout: archive/data.pkl
        z.writestr("archive/data.pkl", pickle.dumps(_Armed(marker), protocol=2))
    for load in LOADERS.values():
        with pytest.raises(FileFormatError, match="model.pt: this is a ZIP archive"):
            load(path)
    assert not marker.exists()


def test_torch_save_file_is_rejected_without_running_it(tmp_path, torch):
    marker = tmp_path / "ran"
    path = tmp_path / "ckpt.pt"
    torch.save({"w": torch.ones(2), "x": _Armed(marker)}, path)
    assert not marker.exists()
    with pytest.raises(FileFormatError, match=r"ckpt.pt: this is a ZIP archive \(the format of "
                                              r"torch.save"):
        fathom.load(path)
    path_legacy = tmp_path / "legacy.pt"
    torch.save({"w": torch.ones(2), "x": _Armed(marker)}, path_legacy,
               _use_new_zipfile_serialization=False)
    with pytest.raises(FileFormatError, match="legacy.pt: this is a Python pickle"):
        fathom.load(path_legacy)
    assert not marker.exists()


@pytest.mark.parametrize("magic, kind", [(b"\x89HDF\r\n\x1a\n" + bytes(64), "HDF5"),
                                         (b"\x93NUMPY\x01\x00" + bytes(64), "NumPy .npy")])
def test_other_formats_are_named(tmp_path, magic, kind):
    path = tmp_path / "other"
    path.write_bytes(magic)
    with pytest.raises(FileFormatError, match=f"this is an? {kind}"):
        fathom.load(path)


def _with_structure(tmp_path, structure, tensors=None):
    path = tmp_path / "s.safetensors"
    meta = structure if isinstance(structure, str) else json.dumps(structure)
    fio.save_file(tensors or {}, path, {"fathom.structure": meta})
    return path


@pytest.mark.parametrize("structure, tensors, message", [
    ("{oops", None, r"metadata 'fathom.structure' is not valid JSON"),
    ({"root": 1}, None, "expected an object with 'version' and 'root'"),
    ({"version": 99, "root": 1}, None, "format version 99 is newer"),
    ({"version": 1, "root": {"tensor": "w"}}, None,
     "at obj: refers to tensor 'w', which the file does not hold"),
    ({"version": 1, "root": {"dict": [["a", {"set": [1]}]]}}, None,
     r"at obj\['a'\]: unknown tag 'set'"),
    ({"version": 1, "root": {"dict": [[1.5, 2]]}}, None, r"bad dict item \[1.5, 2\]"),
    ({"version": 1, "root": {"float": "1e400"}}, None, "bad float '1e400'"),
    ({"version": 1, "root": [1, 2]}, None, r"unexpected JSON value \[1, 2\]"),
    ({"version": 1, "root": 1}, {"w": fathom.ones(1)},
     r"tensors \['w'\] are in the file but not in the structure"),
    ({"version": 1, "root": {"scalar": "w"}}, {"w": fathom.ones(2)},
     r"scalar tensor 'w' has shape \[2\]"),
    ({"version": 1, "root": {"tensor": "w", "device": "tpu"}}, {"w": fathom.ones(1)},
     "bad device 'tpu'"),
])
def test_malformed_structures_are_rejected(tmp_path, structure, tensors, message):
    path = _with_structure(tmp_path, structure, tensors)
    with pytest.raises(FileFormatError, match=message) as e:
        fathom.load(path)
    assert str(e.value).startswith(str(path))


def test_deep_nesting_is_a_format_error(tmp_path):
    path = _with_structure(tmp_path, '{"version": 1, "root": ' + '{"list": [' * 50000 + "1"
                           + "]}" * 50000 + "}")
    with pytest.raises(FileFormatError, match="nested too deeply"):
        fathom.load(path)


def test_docstring_examples(tmp_path, monkeypatch):
    import doctest

    monkeypatch.chdir(tmp_path)  # the examples write files
    for mod in (fio, fio.structure, fio.safetensors_file):
        result = doctest.testmod(mod, extraglobs={"fathom": fathom})
        assert result.failed == 0 and result.attempted > 0, mod.__name__


def test_short_reads_of_raw_streams_are_completed(tmp_path):
    buf = io.BytesIO()
    fathom.save({"w": fathom.arange(1000)}, buf)

    class Dribble(io.RawIOBase):  # returns at most 100 bytes per read, like a socket
        def __init__(self, data):
            self.src = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, b):
            return self.src.readinto(memoryview(b)[:100])

    class SeekableDribble(Dribble):
        def seekable(self):
            return True

        def seek(self, pos, whence=0):
            return self.src.seek(pos, whence)

        def tell(self):
            return self.src.tell()

    class ReadOnly:  # read() only, no readinto
        def __init__(self, data):
            self.src = io.BytesIO(data)

        def seekable(self):
            return False

        def read(self, n=-1):
            return self.src.read(n)

    for cls in (Dribble, SeekableDribble, ReadOnly):
        assert fathom.load(cls(buf.getvalue()))["w"].tolist() == list(range(1000))
