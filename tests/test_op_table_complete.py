"""The op table covers every public op: a missing entry fails here, by name."""
import fathom
import fathom.nn.functional as F
from opinfo import all_opinfos

# DESIGN.md's `fathom` row (math, reductions, shape) and the engine issue's functional list.
FATHOM_OPS = """
exp log log1p expm1 sqrt rsqrt abs sign sin cos tanh sigmoid relu softmax log_softmax clamp
where maximum minimum pow matmul mm bmm outer einsum
sum mean max min amax amin argmax argmin var std norm logsumexp prod cumsum all any
cat stack split chunk reshape view flatten squeeze unsqueeze transpose permute expand repeat
flip roll tril triu gather scatter index_select masked_fill
add sub mul div neg
""".split()

FUNCTIONAL_OPS = """
linear conv1d conv2d conv_transpose2d max_pool2d avg_pool2d adaptive_avg_pool2d
relu leaky_relu elu gelu silu softplus hardtanh sigmoid tanh step
softmax log_softmax cross_entropy nll_loss mse_loss l1_loss smooth_l1_loss huber_loss
binary_cross_entropy binary_cross_entropy_with_logits kl_div dropout batch_norm layer_norm
group_norm embedding one_hot pad normalize cosine_similarity scaled_dot_product_attention
""".split()


def _covered():
    names = set()
    for info in all_opinfos():
        for n in (info.name, *info.aliases):
            names.add(n)
            names.add(n.rsplit(".", 1)[-1])  # "nn.functional.conv2d" covers "conv2d"
    return names


def test_every_public_op_exists():
    missing = [n for n in FATHOM_OPS if not hasattr(fathom, n)]
    missing += [f"nn.functional.{n}" for n in FUNCTIONAL_OPS if not hasattr(F, n)]
    assert not missing, f"public ops not implemented: {missing}"


def test_every_public_op_is_in_the_table():
    covered = _covered()
    missing = [n for n in FATHOM_OPS + FUNCTIONAL_OPS if n not in covered]
    assert not missing, f"public ops with no op-table entry: {missing}"
