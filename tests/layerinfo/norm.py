"""Layer cases: BatchNorm, InstanceNorm, LayerNorm, GroupNorm, RMSNorm, LocalResponseNorm.

In train mode the driver also compares the buffers after the forward: the running
statistics and num_batches_tracked that the batch updated.
"""
from . import LayerCase, np

C = LayerCase


def normal32(*shape):
    """Error inputs run against a float32 module (no .double()): match its dtype."""
    return lambda rng: rng.standard_normal(shape).astype(np.float32)


def shifted(*shape):
    """Non-zero mean and non-unit variance, so running statistics move visibly."""
    return lambda rng: rng.standard_normal(shape) * 2.5 + 1.5


def _batch_norm_cases():
    bn2_dims = (normal32(2, 3, 4), None, ["BatchNorm2d(3, eps=1e-05",
                                         "expected 4D input (got 3D input)", "(2, 3, 4)"])
    return [
        C("BatchNorm1d", lambda nn: nn.BatchNorm1d(4), shifted(8, 4),
          errors=[(normal32(2, 4, 3, 3), None, ["BatchNorm1d(4", "expected 2D or 3D input "
                                                "(got 4D input)", "(2, 4, 3, 3)"]),
                  (normal32(8, 5), None, ["BatchNorm1d(4", "(8, 5)"])]),
        C("BatchNorm1d-3d", lambda nn: nn.BatchNorm1d(3), shifted(4, 3, 5)),
        C("BatchNorm1d-momentum-None", lambda nn: nn.BatchNorm1d(4, momentum=None),
          shifted(6, 4)),
        C("BatchNorm1d-affine-False", lambda nn: nn.BatchNorm1d(4, affine=False), shifted(6, 4)),
        C("BatchNorm1d-no-stats", lambda nn: nn.BatchNorm1d(4, track_running_stats=False),
          shifted(6, 4, 3)),
        C("BatchNorm1d-bias-False", lambda nn: nn.BatchNorm1d(4, bias=False), shifted(6, 4)),
        C("BatchNorm2d", lambda nn: nn.BatchNorm2d(3), shifted(4, 3, 5, 4),
          errors=[bn2_dims, (normal32(2, 5, 3, 3), None, ["BatchNorm2d(3", "(2, 5, 3, 3)"])]),
        C("BatchNorm2d-momentum-eps", lambda nn: nn.BatchNorm2d(3, eps=1e-3, momentum=0.3),
          shifted(4, 3, 5, 4)),
        C("BatchNorm2d-momentum-None", lambda nn: nn.BatchNorm2d(3, momentum=None),
          shifted(2, 3, 4, 4)),
        C("BatchNorm2d-affine-False", lambda nn: nn.BatchNorm2d(3, affine=False),
          shifted(2, 3, 4, 4)),
        C("BatchNorm2d-no-stats", lambda nn: nn.BatchNorm2d(3, track_running_stats=False),
          shifted(2, 3, 4, 4)),
        C("BatchNorm2d-bare", lambda nn: nn.BatchNorm2d(3, affine=False,
                                                        track_running_stats=False),
          shifted(2, 3, 4, 4)),
        C("BatchNorm3d", lambda nn: nn.BatchNorm3d(2), shifted(2, 2, 3, 4, 3),
          errors=[(normal32(2, 2, 3, 4), None, ["BatchNorm3d(2", "expected 5D input"])]),
    ]


def _instance_norm_cases():
    return [
        C("InstanceNorm1d", lambda nn: nn.InstanceNorm1d(3), shifted(2, 3, 6),
          errors=[(normal32(2, 3, 4, 4), None, ["InstanceNorm1d(3", "expected 2D or 3D input",
                                                "(2, 3, 4, 4)"])]),
        C("InstanceNorm1d-unbatched", lambda nn: nn.InstanceNorm1d(3, affine=True),
          shifted(3, 6)),
        C("InstanceNorm1d-stats", lambda nn: nn.InstanceNorm1d(3, track_running_stats=True,
                                                               momentum=0.2), shifted(2, 3, 6)),
        C("InstanceNorm2d", lambda nn: nn.InstanceNorm2d(3), shifted(2, 3, 4, 5),
          errors=[(normal32(2, 3), None, ["InstanceNorm2d(3", "expected 3D or 4D input "
                                          "(got 2D input)", "(2, 3)"])]),
        C("InstanceNorm2d-affine", lambda nn: nn.InstanceNorm2d(4, affine=True),
          shifted(2, 4, 3, 3),
          errors=[(normal32(2, 5, 3, 3), None, ["InstanceNorm2d(4", "num_features (4)",
                                                "but got: 5"])]),
        C("InstanceNorm2d-stats-affine", lambda nn: nn.InstanceNorm2d(
            4, affine=True, track_running_stats=True), shifted(2, 4, 3, 5)),
        C("InstanceNorm2d-unbatched", lambda nn: nn.InstanceNorm2d(3), shifted(3, 4, 4)),
        C("InstanceNorm3d", lambda nn: nn.InstanceNorm3d(2, affine=True), shifted(2, 2, 3, 2, 3)),
    ]


def _other_norm_cases():
    return [
        C("LayerNorm", lambda nn: nn.LayerNorm(6), shifted(3, 4, 6),
          errors=[(normal32(3, 5), None, ["LayerNorm((6,), eps=1e-05", "(3, 5)"])]),
        C("LayerNorm-2d", lambda nn: nn.LayerNorm([4, 5], eps=1e-3), shifted(2, 3, 4, 5),
          errors=[(normal32(2, 5, 4), None, ["LayerNorm((4, 5)", "(2, 5, 4)"])]),
        C("LayerNorm-no-affine", lambda nn: nn.LayerNorm(5, elementwise_affine=False),
          shifted(4, 5)),
        C("LayerNorm-bias-False", lambda nn: nn.LayerNorm((3, 4), bias=False), shifted(2, 3, 4)),
        C("LayerNorm-1d-input", lambda nn: nn.LayerNorm(7), shifted(7)),
        C("GroupNorm", lambda nn: nn.GroupNorm(2, 4), shifted(3, 4, 5),
          errors=[(normal32(3, 6, 5), None, ["GroupNorm(2, 4", "(3, 6, 5)"])]),
        C("GroupNorm-4d", lambda nn: nn.GroupNorm(3, 6, eps=1e-4), shifted(2, 6, 3, 4)),
        C("GroupNorm-one-group", lambda nn: nn.GroupNorm(1, 4), shifted(2, 4, 3, 3)),
        C("GroupNorm-per-channel", lambda nn: nn.GroupNorm(4, 4, affine=False),
          shifted(2, 4, 5)),
        C("GroupNorm-2d-input", lambda nn: nn.GroupNorm(2, 6, bias=False), shifted(5, 6)),
        C("RMSNorm", lambda nn: nn.RMSNorm(6), shifted(3, 4, 6),
          errors=[(normal32(3, 5), None, ["RMSNorm((6,)", "(3, 5)"])]),
        C("RMSNorm-2d-eps", lambda nn: nn.RMSNorm([4, 5], eps=1e-3), shifted(2, 4, 5)),
        C("RMSNorm-no-affine", lambda nn: nn.RMSNorm(5, elementwise_affine=False), shifted(4, 5)),
        C("LocalResponseNorm", lambda nn: nn.LocalResponseNorm(3), shifted(2, 5, 4, 3),
          errors=[(normal32(4, 5), None, ["LocalResponseNorm(3", "(4, 5)"])]),
        C("LocalResponseNorm-3d", lambda nn: nn.LocalResponseNorm(2, alpha=0.1, beta=0.5, k=2.0),
          shifted(2, 6, 5)),
        C("LocalResponseNorm-5d", lambda nn: nn.LocalResponseNorm(4, alpha=0.05),
          shifted(2, 5, 2, 3, 2)),
    ]


CASES = _batch_norm_cases() + _instance_norm_cases() + _other_norm_cases()
