"""fathom.nn.utils: gradient clipping, parameter/vector conversion, penalties."""
from .clip_grad import (clip_grad_norm, clip_grad_norm_, clip_grad_value_,  # noqa: F401
                        clip_grads_with_norm_, get_total_norm)
from .convert_parameters import parameters_to_vector, vector_to_parameters  # noqa: F401
from .penalty import l1_penalty  # noqa: F401
from . import rnn  # noqa: F401 - PackedSequence and the pack/pad helpers
