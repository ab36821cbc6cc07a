"""Layer cases: convolution, transposed convolution, pooling and padding layers."""
from . import LayerCase, np, normal

C = LayerCase


def normal32(*shape):
    """Error inputs run against a float32 module (no .double()): match its dtype."""
    return lambda rng: rng.standard_normal(shape).astype(np.float32)


def _conv_cases():
    x4 = normal(2, 3, 8, 7)
    x3 = normal(2, 4, 11)
    bad_ch = (normal32(2, 3, 8, 8), None, ["Conv2d(1, 4", "1 channels", "(2, 3, 8, 8)"])
    return [
        C("Conv2d", lambda nn: nn.Conv2d(3, 4, 3), x4,
          errors=[(normal32(2, 5, 8, 8), None, ["Conv2d(3, 4", "3 channels", "(2, 5, 8, 8)"]),
                  (normal(3, 8), None, ["Conv2d(3, 4", "(3, 8)"])]),
        C("Conv2d-in1", lambda nn: nn.Conv2d(1, 4, 5), normal(2, 1, 9, 9), errors=[bad_ch]),
        C("Conv2d-stride-pad", lambda nn: nn.Conv2d(3, 5, (3, 2), stride=(2, 1), padding=(1, 2)),
          x4),
        C("Conv2d-dilation", lambda nn: nn.Conv2d(3, 4, 3, dilation=2, padding=1), x4),
        C("Conv2d-groups", lambda nn: nn.Conv2d(4, 6, 3, groups=2, bias=False),
          normal(2, 4, 6, 6)),
        C("Conv2d-depthwise", lambda nn: nn.Conv2d(3, 6, 3, groups=3, padding=1), x4),
        C("Conv2d-same", lambda nn: nn.Conv2d(3, 4, (4, 3), padding="same", dilation=(1, 2)), x4),
        C("Conv2d-valid", lambda nn: nn.Conv2d(3, 4, 2, padding="valid"), x4),
        C("Conv2d-reflect", lambda nn: nn.Conv2d(3, 4, 3, padding=(1, 2), padding_mode="reflect"),
          x4),
        C("Conv2d-replicate", lambda nn: nn.Conv2d(3, 4, 3, stride=2, padding=2,
                                                   padding_mode="replicate"), x4),
        C("Conv2d-circular", lambda nn: nn.Conv2d(3, 4, 3, padding=1, padding_mode="circular"),
          x4),
        C("Conv2d-same-circular", lambda nn: nn.Conv2d(3, 4, 4, padding="same",
                                                       padding_mode="circular"), x4),
        C("Conv2d-1x1", lambda nn: nn.Conv2d(3, 8, 1), x4),
        C("Conv2d-unbatched", lambda nn: nn.Conv2d(3, 4, 3, padding=1), normal(3, 6, 5)),
        C("Conv1d", lambda nn: nn.Conv1d(4, 6, 3), x3,
          errors=[(normal32(2, 3, 11), None, ["Conv1d(4, 6", "4 channels", "(2, 3, 11)"])]),
        C("Conv1d-stride-dil-groups", lambda nn: nn.Conv1d(4, 6, 3, stride=2, dilation=2,
                                                           groups=2, padding=2), x3),
        C("Conv1d-same", lambda nn: nn.Conv1d(4, 3, 4, padding="same", bias=False), x3),
        C("Conv1d-reflect", lambda nn: nn.Conv1d(4, 5, 3, padding=2, padding_mode="reflect"), x3),
        C("Conv1d-circular", lambda nn: nn.Conv1d(4, 5, 3, padding=1, padding_mode="circular"),
          x3),
        C("Conv1d-unbatched", lambda nn: nn.Conv1d(4, 5, 3), normal(4, 9)),
        C("ConvTranspose2d", lambda nn: nn.ConvTranspose2d(3, 4, 3), x4,
          errors=[(normal32(2, 4, 5, 5), None, ["ConvTranspose2d(3, 4", "3 channels",
                                              "(2, 4, 5, 5)"])]),
        C("ConvTranspose2d-stride-outpad", lambda nn: nn.ConvTranspose2d(
            3, 4, 3, stride=2, padding=1, output_padding=1), x4),
        C("ConvTranspose2d-groups-dil", lambda nn: nn.ConvTranspose2d(
            4, 6, (2, 3), stride=(1, 2), groups=2, dilation=(2, 1), bias=False),
          normal(2, 4, 5, 4)),
        C("ConvTranspose2d-output_size", lambda nn: nn.ConvTranspose2d(3, 4, 3, stride=2),
          x4, kwargs=lambda rng: {"output_size": [18, 16]},
          errors=[(normal32(2, 3, 8, 7), {"output_size": [25, 16]},
                   ["ConvTranspose2d(3, 4", "output size of [25, 16]", "[17, 15] to [18, 16]"])]),
        C("ConvTranspose2d-output_size-full", lambda nn: nn.ConvTranspose2d(3, 4, 3, stride=3),
          x4, kwargs=lambda rng: {"output_size": (2, 4, 25, 22)}),
        C("ConvTranspose2d-unbatched", lambda nn: nn.ConvTranspose2d(3, 4, 2, stride=2),
          normal(3, 4, 5)),
        C("ConvTranspose1d", lambda nn: nn.ConvTranspose1d(4, 5, 3, stride=3, padding=1,
                                                           output_padding=2), x3),
        C("ConvTranspose1d-groups", lambda nn: nn.ConvTranspose1d(4, 6, 2, groups=2, dilation=3),
          x3),
        C("ConvTranspose1d-output_size", lambda nn: nn.ConvTranspose1d(4, 5, 3, stride=2), x3,
          kwargs=lambda rng: {"output_size": [24]}),
        C("ConvTranspose1d-unbatched", lambda nn: nn.ConvTranspose1d(4, 5, 3), normal(4, 6)),
    ]


def _pool_cases():
    x4 = normal(2, 3, 9, 8)
    x3 = normal(2, 3, 11)
    return [
        C("MaxPool2d", lambda nn: nn.MaxPool2d(2), x4,
          errors=[(normal32(2, 3, 4, 5, 6), None, ["MaxPool2d(kernel_size=2", "(2, 3, 4, 5, 6)"])]),
        C("MaxPool2d-stride-pad", lambda nn: nn.MaxPool2d(3, stride=2, padding=1), x4),
        C("MaxPool2d-dilation", lambda nn: nn.MaxPool2d((2, 3), stride=1, dilation=(2, 1)), x4),
        C("MaxPool2d-ceil", lambda nn: nn.MaxPool2d(3, stride=2, ceil_mode=True), x4),
        C("MaxPool2d-indices", lambda nn: nn.MaxPool2d(3, stride=2, padding=1,
                                                       return_indices=True), x4),
        C("MaxPool2d-unbatched", lambda nn: nn.MaxPool2d(2, stride=1), normal(3, 5, 4)),
        C("MaxPool1d", lambda nn: nn.MaxPool1d(3), x3),
        C("MaxPool1d-all", lambda nn: nn.MaxPool1d(3, stride=2, padding=1, dilation=2,
                                                   ceil_mode=True, return_indices=True), x3),
        C("MaxPool1d-unbatched", lambda nn: nn.MaxPool1d(2), normal(3, 8)),
        C("AvgPool2d", lambda nn: nn.AvgPool2d(2), x4),
        C("AvgPool2d-pad-exclude", lambda nn: nn.AvgPool2d(3, stride=2, padding=1,
                                                           count_include_pad=False), x4),
        C("AvgPool2d-pad-include", lambda nn: nn.AvgPool2d((3, 2), stride=(2, 1),
                                                           padding=(1, 1)), x4),
        C("AvgPool2d-ceil", lambda nn: nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True,
                                                    count_include_pad=False), x4),
        C("AvgPool2d-divisor", lambda nn: nn.AvgPool2d(2, divisor_override=3), x4),
        C("AvgPool2d-unbatched", lambda nn: nn.AvgPool2d(2), normal(3, 4, 6)),
        C("AvgPool1d", lambda nn: nn.AvgPool1d(3, stride=2, padding=1), x3),
        C("AvgPool1d-ceil-exclude", lambda nn: nn.AvgPool1d(4, stride=3, padding=2,
                                                            ceil_mode=True,
                                                            count_include_pad=False), x3),
        C("LPPool2d", lambda nn: nn.LPPool2d(2, 2), x4),
        C("LPPool2d-p3-stride", lambda nn: nn.LPPool2d(3, (3, 2), stride=(2, 1)),
          lambda rng: rng.uniform(0.5, 2.0, (2, 3, 9, 8))),
        C("LPPool2d-ceil", lambda nn: nn.LPPool2d(1.5, 3, stride=2, ceil_mode=True),
          lambda rng: rng.uniform(0.5, 2.0, (2, 3, 8, 8))),
        C("LPPool2d-inf", lambda nn: nn.LPPool2d(float("inf"), 2), x4),
        C("LPPool1d", lambda nn: nn.LPPool1d(2, 3, stride=2), x3),
        C("AdaptiveAvgPool2d", lambda nn: nn.AdaptiveAvgPool2d((4, 3)), x4),
        C("AdaptiveAvgPool2d-1", lambda nn: nn.AdaptiveAvgPool2d(1), x4),
        C("AdaptiveAvgPool2d-None", lambda nn: nn.AdaptiveAvgPool2d((None, 5)), x4),
        C("AdaptiveAvgPool2d-unbatched", lambda nn: nn.AdaptiveAvgPool2d(2), normal(3, 5, 5)),
        C("AdaptiveAvgPool1d", lambda nn: nn.AdaptiveAvgPool1d(4), x3),
        C("AdaptiveMaxPool2d", lambda nn: nn.AdaptiveMaxPool2d((4, 3)), x4),
        C("AdaptiveMaxPool2d-indices", lambda nn: nn.AdaptiveMaxPool2d(3, return_indices=True),
          x4),
        C("AdaptiveMaxPool2d-unbatched", lambda nn: nn.AdaptiveMaxPool2d((2, None)),
          normal(3, 5, 4)),
        C("AdaptiveMaxPool1d", lambda nn: nn.AdaptiveMaxPool1d(4), x3,
          errors=[(normal32(2, 3, 4, 5), None, ["AdaptiveMaxPool1d(output_size=4)",
                                              "(2, 3, 4, 5)"])]),
        C("AdaptiveMaxPool1d-indices", lambda nn: nn.AdaptiveMaxPool1d(3, return_indices=True),
          x3),
        C("AdaptiveMaxPool1d-unbatched", lambda nn: nn.AdaptiveMaxPool1d(5), normal(3, 11)),
    ]


def _pad_cases():
    x4 = normal(2, 3, 5, 4)
    x3 = normal(2, 3, 5)
    return [
        C("ZeroPad2d", lambda nn: nn.ZeroPad2d(2), x4),
        C("ZeroPad2d-tuple", lambda nn: nn.ZeroPad2d((1, 0, 2, 3)), x4),
        C("ZeroPad2d-crop", lambda nn: nn.ZeroPad2d((-1, 1, 0, -2)), x4),
        C("ZeroPad1d", lambda nn: nn.ZeroPad1d((2, 1)), x3),
        C("ConstantPad1d", lambda nn: nn.ConstantPad1d(2, 3.5), x3),
        C("ConstantPad2d", lambda nn: nn.ConstantPad2d((1, 2, 0, 1), -1.0), normal(3, 5, 4)),
        C("ConstantPad3d", lambda nn: nn.ConstantPad3d((1, 0, 2, 1, 0, 1), 0.5),
          normal(2, 3, 4, 3)),
        C("ReflectionPad1d", lambda nn: nn.ReflectionPad1d((3, 1)), x3),
        C("ReflectionPad2d", lambda nn: nn.ReflectionPad2d((1, 2, 3, 0)), x4,
          errors=[(normal32(2, 3, 2, 2), None, ["ReflectionPad2d((1, 2, 3, 0))", "(2, 3, 2, 2)"]),
                  (normal(1, 2, 3, 5, 4), None, ["ReflectionPad2d", "(1, 2, 3, 5, 4)"])]),
        C("ReflectionPad2d-unbatched", lambda nn: nn.ReflectionPad2d(1), normal(3, 5, 4)),
        C("ReplicationPad1d", lambda nn: nn.ReplicationPad1d(3), x3),
        C("ReplicationPad2d", lambda nn: nn.ReplicationPad2d((2, 0, 1, 3)), x4),
        C("CircularPad1d", lambda nn: nn.CircularPad1d((2, 3)), x3,
          errors=[(normal32(5), None, ["CircularPad1d((2, 3))", "expected 2D or 3D input",
                                     "(got 1D input)"])]),
        C("CircularPad2d", lambda nn: nn.CircularPad2d(1), x4),
        C("ZeroPad3d", lambda nn: nn.ZeroPad3d((1, 0, 0, 2, 1, 1)), normal(2, 3, 4, 3)),
        C("ReflectionPad3d", lambda nn: nn.ReflectionPad3d(1), normal(1, 2, 3, 4, 3)),
        C("ReplicationPad3d", lambda nn: nn.ReplicationPad3d((1, 2, 0, 1, 2, 0)),
          normal(2, 3, 4, 3)),
        C("CircularPad3d", lambda nn: nn.CircularPad3d(1), normal(1, 2, 3, 4, 3)),
        C("CircularPad2d-unbatched", lambda nn: nn.CircularPad2d((0, 2, 1, 1)), normal(3, 5, 4)),
    ]


CASES = _conv_cases() + _pool_cases() + _pad_cases()
