"""ONNX backend conformance: the node cases onnx builds in memory, run by fathom.onnx.Backend.

`onnx.backend.test.BackendTest` makes one test per node case (and device; only CPU runs).
Only the 'node' category is collected: the real-model categories need downloads. The
lists below skip what Fathom does not do, each with its reason; every other case must
pass, so a regression fails the suite. `python tools/onnx_conformance.py --check` reports
entries here that no longer fail (stale) and failures not listed.
"""
import warnings

import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnx.backend.test")

import onnx.backend.test  # noqa: E402

from fathom.onnx.backend import Backend  # noqa: E402

# Ops Fathom does not run: no native implementation and no ONNX function body made only
# of supported ops (pattern -> reason). Their "_expanded" cases run where they can.
UNSUPPORTED_OPS = {
    # other domains: ai.onnx.ml, ai.onnx.preview (training, FlexAttention)
    r"^test_ai_onnx_ml_": "ai.onnx.ml domain",
    r"^test_(adagrad|adam|momentum|nesterov_momentum)": "ai.onnx.preview.training domain",
    r"^test_flexattention": "ai.onnx.preview domain",
    # control flow and sequences/optionals: Fathom tensors only
    r"^test_(if|loop\d+|scan9?)_": "If/Loop/Scan: subgraphs are not supported",
    r"^test_range_.*_expanded": "the expanded Range uses Loop",
    r"^test_affine_grid_.*_expanded": "the expanded AffineGrid uses If",
    r"^test_linear_attention_": "LinearAttention's body uses Scan",
    r"^test_(sequence_|split_to_sequence_|optional_|identity_sequence|identity_opt)":
        "sequence and optional types",
    # strings
    r"^test_(string_|strnormalizer_|regex_|equal_string)": "string tensors",
    r"^test_tfidfvectorizer_": "TfIdfVectorizer: not implemented",
    # quantization and integer-only ops (Fathom has no uint16/32/64 or 4-bit types)
    r"^test_(dequantizelinear|quantizelinear|dynamicquantizelinear|qlinear|matmulinteger|"
    r"convinteger)": "quantized ops: not implemented",
    r"^test_bitshift_": "BitShift: not implemented (unsigned types)",
    r"^test_bitcast_": "BitCast: not implemented",
    # not implemented (no differentiable primitive, or not yet written)
    r"^test_det_": "Det: no primitive in fathom.ops",
    r"^test_(dft|stft|melweightmatrix)": "signal processing: not implemented",
    r"^test_(basic_)?deform_conv": "DeformConv: not implemented",
    r"^test_gridsample": "GridSample: not implemented",
    r"^test_affine_grid_(2d|3d)(_align_corners)?_cpu": "AffineGrid: not implemented",
    r"^test_roialign_": "RoiAlign: not implemented",
    r"^test_nonmaxsuppression_": "NonMaxSuppression: not implemented",
    r"^test_col2im": "Col2Im: not implemented",
    r"^test_tensorscatter": "TensorScatter: not implemented",
    r"^test_image_decoder": "ImageDecoder: not implemented",
    r"^test_bernoulli": "Bernoulli: random (RandomUniformLike), not implemented",
}

# Known failures of ops Fathom implements (pattern -> reason).
KNOWN_FAILURES = {
    # dtypes Fathom does not have (it has float16/32/64, int8/16/32/64, uint8, bool)
    r"uint(16|32|64)|_ui64_|^test_bitwise_not_3d_": "uint16/32/64 tensors",
    r"bfloat16|BFLOAT16|_bf16": "bfloat16 tensors",
    r"FLOAT8|float8|FLOAT4|INT4|INT2|_e8m0_": "float8, float4, int4 and int2 tensors",
    # 3-D convolution and pooling, dilated average pooling
    r"^test_(averagepool|maxpool|lppool)_3d_": "3-D pooling",
    r"^test_convtranspose_3d_": "3-D transposed convolution",
    r"^test_(averagepool|lppool)_2d_dilations_": "dilated average/Lp pooling",
    # semantics Fathom does not reproduce
    r"^test_training_dropout(_default)?(_mask)?_cpu": "Dropout in training mode: the "
        "random mask cannot match onnx's NumPy generator",
    r"^test_scatter(_elements|nd)_.*(max|min)": "Scatter reductions max/min: not implemented",
    r"^test_not_[234]d_": "opset 1 model (fathom.onnx reads opset 7 and later)",
}


def _backend_test():
    with warnings.catch_warnings():  # onnx's case builders warn about overflowing casts
        warnings.simplefilter("ignore")
        test = onnx.backend.test.BackendTest(Backend, __name__)
    test.include(r"^test_.*_cpu$")
    for pattern in list(UNSUPPORTED_OPS) + list(KNOWN_FAILURES):
        test.exclude(pattern)
    return test


# only the node category: the real-model categories would download models
OnnxBackendNodeModelTest = _backend_test().test_cases["OnnxBackendNodeModelTest"]
