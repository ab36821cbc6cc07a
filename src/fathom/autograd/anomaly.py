"""detect_anomaly: find the op whose backward first produced NaN or Inf."""
from __future__ import annotations

from .grad_mode import state


class detect_anomaly:
    """Inside, forward ops keep their traceback and backward raises at the first NaN/Inf
    gradient, naming the op and where it was created. Slow: for debugging only."""

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan

    def __enter__(self):
        self._prev = state.anomaly
        state.anomaly = self.check_nan

    def __exit__(self, *exc):
        state.anomaly = self._prev
        return False


class set_detect_anomaly(detect_anomaly):
    def __init__(self, mode: bool):
        super().__init__(mode)
        self._prev = state.anomaly
        state.anomaly = mode

    def __enter__(self):
        pass
