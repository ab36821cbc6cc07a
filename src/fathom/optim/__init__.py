"""fathom.optim: PyTorch's optimizers (one per file, each update rule written once),
learning-rate schedulers and weight averaging."""
from . import lr_scheduler, swa_utils  # noqa: F401
from .optimizer import Optimizer
from .sgd import *  # noqa: F403
from .adam import *  # noqa: F403
from .adamw import *  # noqa: F403
from .adamax import *  # noqa: F403
from .adagrad import *  # noqa: F403
from .rmsprop import *  # noqa: F403
from .adadelta import *  # noqa: F403
from .lbfgs import *  # noqa: F403
