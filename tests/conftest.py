import numpy as np
import pytest

import fathom


@pytest.fixture(autouse=True)
def _seed():
    fathom.manual_seed(0)
    np.random.seed(0)
    yield


@pytest.fixture
def torch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    return torch


@pytest.fixture
def rng():
    return np.random.default_rng(0)
