"""Shared tiny data for the nets tests: scikit-learn's 8x8 digits."""

import numpy as np
import pytest
from sklearn.datasets import load_digits


@pytest.fixture(scope="session")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:400].astype(np.float64), y[:400]


@pytest.fixture(scope="session")
def digits_test():
    X, y = load_digits(return_X_y=True)
    return X[1200:].astype(np.float64), y[1200:]
