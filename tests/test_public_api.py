"""The import paths DESIGN.md pins, and what `import fathom` pulls in (its time is a
benchmark row, not a test: nothing here asserts on wall-clock time)."""
import subprocess
import sys

import pytest

import fathom
import fathom.autograd

# DESIGN.md, "Public API surface", the `fathom` row (copied by hand: the contract).
FATHOM_NAMES = """
Tensor tensor
zeros ones full empty arange linspace eye zeros_like ones_like full_like empty_like
rand randn randint randperm manual_seed
exp log log1p expm1 sqrt rsqrt abs sign sin cos tanh sigmoid relu softmax log_softmax clamp
where maximum minimum pow matmul mm bmm outer einsum
sum mean max min amax amin argmax argmin var std norm logsumexp prod cumsum all any
cat stack split chunk reshape view flatten squeeze unsqueeze transpose permute expand repeat
flip roll tril triu gather scatter index_select masked_fill
no_grad enable_grad set_grad_enabled is_grad_enabled
float32 float64 float16 int64 int32 bool uint8
device save load
""".split()

# the `fathom.autograd` row
AUTOGRAD_NAMES = "Function grad backward gradcheck gradgradcheck detect_anomaly".split()

@pytest.mark.parametrize("name", FATHOM_NAMES)
def test_fathom_name_exists(name):
    assert hasattr(fathom, name), f"fathom.{name} is part of DESIGN.md's API and is missing"


@pytest.mark.parametrize("name", AUTOGRAD_NAMES)
def test_autograd_name_exists(name):
    assert hasattr(fathom.autograd, name)


def test_names_have_the_right_kinds():
    assert isinstance(fathom.float32, fathom.dtype) and repr(fathom.float32) == "fathom.float32"
    assert fathom.bool is not bool and fathom.bool.np.kind == "b"
    assert isinstance(fathom.tensor([1.0]), fathom.Tensor)
    assert issubclass(fathom.autograd.Function, object) and callable(fathom.autograd.grad)
    assert fathom.device("cpu") == "cpu"
    for ctx, grad_on in ((fathom.no_grad(), False), (fathom.enable_grad(), True),
                         (fathom.autograd.detect_anomaly(), True)):
        with ctx:
            assert fathom.is_grad_enabled() is grad_on


def test_import_pulls_in_nothing_heavy():
    code = ("import sys, fathom; heavy = [m for m in ('torch', 'scipy', 'pandas', "
            "'matplotlib', 'cupy', 'safetensors', 'tqdm', 'sklearn', 'tensorboardX') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]", f"import fathom imported {out}"


def test_subpackages_load_on_first_use():
    code = ("import sys, fathom; assert 'fathom.vision' not in sys.modules; "
            "fathom.utils.data.DataLoader, fathom.vision.models, fathom.metrics.accuracy; "
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        fathom.nope
