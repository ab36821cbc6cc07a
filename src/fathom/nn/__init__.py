"""fathom.nn: layers come with the nn/optim issue; the functional forms live here now."""
from . import functional  # noqa: F401
