"""Fake generators shared by the sampler tests."""

import numpy as np

from synaug_learn.generators import JitterGenerator


class MustNotFit(JitterGenerator):
    def fit(self, X, y, groups=None):
        raise AssertionError("the generator was fitted before the input was validated")


class EditingJitter(JitterGenerator):
    """Edits by adding noise seeded by random_state; counts edited rows; can interrupt."""

    edited, explode_at = 0, None

    def edit(self, X, y, groups=None, *, strength=0.3, random_state=None):
        if type(self).edited == type(self).explode_at:
            raise KeyboardInterrupt
        type(self).edited += len(X)
        noise = np.random.RandomState(random_state).randint(0, 3, size=X.shape)
        return (X + noise * strength).astype(X.dtype)
