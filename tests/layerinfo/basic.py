"""Layer cases: Identity, Linear, Bilinear, Flatten, Unflatten, Embedding, EmbeddingBag and
the dropout layers (train mode with p > 0 is random: shapes only, stochastic_train)."""
import numpy as np

from . import LayerCase, ints, normal


def fixed(*arrays):
    """Inputs that do not depend on the rng (exact index arrays)."""
    return lambda rng: tuple(np.asarray(a) for a in arrays) if len(arrays) > 1 \
        else np.asarray(arrays[0])


LINEAR_MSG = ("Linear(in_features=400, out_features=120, bias=True): expected input with last "
              "dimension 400, got shape (64, 2304)")

CASES = [
    LayerCase("identity", lambda nn: nn.Identity(54, unused_argument=0.1), normal(3, 4)),

    # --- Linear -----------------------------------------------------------------------
    LayerCase("linear", lambda nn: nn.Linear(5, 4), normal(4, 5),
              errors=[(normal(64, 2304), None, [
                  "Linear(in_features=5, out_features=4, bias=True): expected input with last "
                  "dimension 5, got shape (64, 2304)"])]),
    LayerCase("linear_paper_sizes", lambda nn: nn.Linear(400, 120), normal(8, 400),
              rtol=1e-6, errors=[(normal(64, 2304), None, [LINEAR_MSG])]),
    LayerCase("linear_nobias", lambda nn: nn.Linear(5, 4, bias=False), normal(4, 5),
              errors=[(normal(4, 6), None, ["bias=False", "last dimension 5", "(4, 6)"]),
                      (normal(5, 1), None, ["last dimension 5", "(5, 1)"])]),
    LayerCase("linear_1d", lambda nn: nn.Linear(5, 4), normal(5),
              errors=[(normal(3), None, ["Linear(in_features=5", "got shape (3,)"])]),
    LayerCase("linear_3d", lambda nn: nn.Linear(5, 4), normal(2, 4, 5),
              errors=[(normal(2, 5, 4), None, ["last dimension 5", "(2, 5, 4)"])]),
    LayerCase("linear_4d", lambda nn: nn.Linear(6, 5), normal(2, 3, 4, 6)),
    LayerCase("linear_one_out", lambda nn: nn.Linear(7, 1), normal(10, 7),
              check_init=False),  # a 1-element random bias: the driver compares it exactly
    LayerCase("linear_wide", lambda nn: nn.Linear(64, 80), normal(16, 64)),

    # --- Bilinear ---------------------------------------------------------------------
    LayerCase("bilinear", lambda nn: nn.Bilinear(3, 4, 5), lambda rng: (
        rng.standard_normal((5, 3)), rng.standard_normal((5, 4))),
        errors=[(lambda rng: (rng.standard_normal((5, 6)), rng.standard_normal((5, 4))), None,
                 ["Bilinear(in1_features=3, in2_features=4, out_features=5, bias=True)",
                  "(5, 6)", "(5, 4)"]),
                (lambda rng: (rng.standard_normal((5, 3)), rng.standard_normal((6, 4))), None,
                 ["Bilinear(", "same leading dims", "(5, 3)", "(6, 4)"])]),
    LayerCase("bilinear_nobias", lambda nn: nn.Bilinear(3, 4, 5, bias=False), lambda rng: (
        rng.standard_normal((5, 3)), rng.standard_normal((5, 4)))),
    LayerCase("bilinear_3d", lambda nn: nn.Bilinear(3, 3, 4), lambda rng: (
        rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 5, 3)))),
    LayerCase("bilinear_1d", lambda nn: nn.Bilinear(3, 4, 5), lambda rng: (
        rng.standard_normal(3), rng.standard_normal(4))),

    # --- Flatten / Unflatten ----------------------------------------------------------
    LayerCase("flatten", lambda nn: nn.Flatten(), normal(2, 3, 4, 5)),
    LayerCase("flatten_all", lambda nn: nn.Flatten(0, -1), normal(2, 3, 4)),
    LayerCase("flatten_middle", lambda nn: nn.Flatten(1, 2), normal(2, 3, 4, 5)),
    LayerCase("flatten_negative", lambda nn: nn.Flatten(-3, -2), normal(2, 3, 4, 5)),
    LayerCase("flatten_2d", lambda nn: nn.Flatten(), normal(6, 5)),
    LayerCase("unflatten", lambda nn: nn.Unflatten(1, (3, 4)), normal(2, 12, 5)),
    LayerCase("unflatten_last_list", lambda nn: nn.Unflatten(-1, [2, -1]), normal(3, 8)),

    # --- Embedding --------------------------------------------------------------------
    LayerCase("embedding", lambda nn: nn.Embedding(10, 3), ints(10, 4, 5),
              errors=[(fixed([[1, 12], [3, 4]]), None,
                       ["Embedding(10, 3)", "num_embeddings=10", "index 12"]),
                      (fixed([2, -1]), None, ["Embedding(10, 3)", "num_embeddings=10",
                                              "index -1"]),
                      (normal(2, 3), None, ["Embedding(10, 3)", "integers"])]),
    LayerCase("embedding_1d", lambda nn: nn.Embedding(20, 4), fixed([3, 3, 7, 0, 19])),
    LayerCase("embedding_scalar", lambda nn: nn.Embedding(6, 4), fixed(2)),
    LayerCase("embedding_large", lambda nn: nn.Embedding(100, 16), ints(100, 8, 12)),
    LayerCase("embedding_padding", lambda nn: nn.Embedding(10, 3, padding_idx=0),
              fixed([[0, 2, 0, 5], [1, 0, 9, 2]])),
    LayerCase("embedding_padding_negative", lambda nn: nn.Embedding(10, 3, padding_idx=-1),
              fixed([[9, 2, 9], [1, 0, 9]])),
    LayerCase("embedding_max_norm", lambda nn: nn.Embedding(10, 4, max_norm=1.0),
              fixed([[1, 2, 2, 5], [7, 1, 0, 3]])),
    LayerCase("embedding_max_norm_l1", lambda nn: nn.Embedding(10, 4, max_norm=1.5, norm_type=1.0),
              fixed([[1, 2, 4], [7, 1, 3]])),
    LayerCase("embedding_scale_grad", lambda nn: nn.Embedding(8, 3, scale_grad_by_freq=True),
              fixed([[1, 1, 1, 4], [4, 2, 1, 7]])),
    LayerCase("embedding_all_options", lambda nn: nn.Embedding(
        8, 3, padding_idx=2, max_norm=2.0, norm_type=3.0, scale_grad_by_freq=True),
        fixed([[1, 2, 2, 4], [4, 2, 1, 7]])),

    # --- EmbeddingBag -----------------------------------------------------------------
    LayerCase("embedding_bag_mean_2d", lambda nn: nn.EmbeddingBag(10, 3), ints(10, 4, 5)),
    LayerCase("embedding_bag_sum_2d", lambda nn: nn.EmbeddingBag(10, 3, mode="sum"),
              ints(10, 4, 5)),
    LayerCase("embedding_bag_max_2d", lambda nn: nn.EmbeddingBag(10, 3, mode="max"),
              fixed([[1, 2, 3], [4, 4, 0], [9, 8, 7]])),
    LayerCase("embedding_bag_offsets", lambda nn: nn.EmbeddingBag(10, 3, mode="sum"),
              fixed([1, 2, 4, 5, 4, 3, 2, 9], [0, 2, 2, 5])),
    LayerCase("embedding_bag_offsets_mean", lambda nn: nn.EmbeddingBag(10, 3),
              fixed([1, 2, 4, 5, 4, 3, 2, 9], [0, 2, 2, 5])),
    LayerCase("embedding_bag_offsets_max", lambda nn: nn.EmbeddingBag(10, 3, mode="max"),
              fixed([1, 2, 4, 5, 4, 3, 2, 9], [0, 2, 2, 5])),
    LayerCase("embedding_bag_last_offset", lambda nn: nn.EmbeddingBag(
        10, 3, mode="sum", include_last_offset=True), fixed([1, 2, 4, 5, 4, 3], [0, 2, 3, 6])),
    LayerCase("embedding_bag_per_sample_weights", lambda nn: nn.EmbeddingBag(10, 3, mode="sum"),
              lambda rng: (np.array([1, 2, 4, 5, 4, 3]), np.array([0, 2, 4]),
                           rng.standard_normal(6))),
    LayerCase("embedding_bag_per_sample_weights_2d", lambda nn: nn.EmbeddingBag(
        10, 3, mode="sum", padding_idx=2), lambda rng: (np.array([[1, 2, 4], [5, 4, 3]]),
                                                        None, rng.standard_normal((2, 3)))),
    LayerCase("embedding_bag_padding", lambda nn: nn.EmbeddingBag(10, 3, padding_idx=0),
              fixed([[0, 2, 3], [0, 0, 5], [1, 2, 0]])),
    LayerCase("embedding_bag_max_norm", lambda nn: nn.EmbeddingBag(10, 4, max_norm=1.0,
                                                                   mode="sum"),
              fixed([[1, 2, 3], [3, 5, 7]])),

    # --- Dropout (train mode random: shapes and dtypes only; eval exact) ---------------
    LayerCase("dropout", lambda nn: nn.Dropout(0.3), normal(4, 5), stochastic_train=True),
    LayerCase("dropout_p0", lambda nn: nn.Dropout(0.0), normal(4, 5)),
    LayerCase("dropout_default", lambda nn: nn.Dropout(), normal(2, 3, 4), stochastic_train=True),
    LayerCase("dropout_inplace", lambda nn: nn.Sequential(nn.Linear(5, 4),
                                                          nn.Dropout(0.2, inplace=True)),
              normal(3, 5), stochastic_train=True),
    LayerCase("dropout1d", lambda nn: nn.Dropout1d(0.4), normal(2, 3, 5), stochastic_train=True,
              errors=[(normal(2, 3, 4, 5), None, ["Dropout1d(p=0.4, inplace=False)",
                                                  "(2, 3, 4, 5)"])]),
    LayerCase("dropout1d_unbatched", lambda nn: nn.Dropout1d(0.4), normal(3, 5),
              stochastic_train=True),
    LayerCase("dropout1d_p0", lambda nn: nn.Dropout1d(0.0), normal(2, 3, 5)),
    LayerCase("dropout2d", lambda nn: nn.Dropout2d(0.5), normal(2, 3, 4, 4),
              stochastic_train=True),
    LayerCase("dropout2d_p0", lambda nn: nn.Dropout2d(p=0.0), normal(2, 3, 4, 4)),
    LayerCase("dropout3d", lambda nn: nn.Dropout3d(0.25), normal(2, 3, 2, 3, 2),
              stochastic_train=True),
    LayerCase("dropout3d_unbatched", lambda nn: nn.Dropout3d(0.25), normal(3, 2, 3, 2),
              stochastic_train=True),
    LayerCase("alpha_dropout", lambda nn: nn.AlphaDropout(0.2), normal(4, 5),
              stochastic_train=True),
    LayerCase("alpha_dropout_p0", lambda nn: nn.AlphaDropout(0.0), normal(4, 5)),
    LayerCase("feature_alpha_dropout", lambda nn: nn.FeatureAlphaDropout(0.2), normal(2, 3, 4),
              stochastic_train=True),
    LayerCase("feature_alpha_dropout_inplace_flag",
              lambda nn: nn.FeatureAlphaDropout(0.0, inplace=True), normal(2, 3, 4)),
]
