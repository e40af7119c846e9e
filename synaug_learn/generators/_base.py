"""The generator contract and the image-format helpers every generator shares.

A generator is a scikit-learn estimator with three methods:

``fit(X, y, groups=None)``
    In-domain models train here; pretrained ones only record the data's
    format and classes (cheap).
``generate(n_per_stratum, random_state=None)``
    ``{(label, group_or_None): n}`` -> ``(X_new, y_new, groups_new)``, with
    ``X_new`` in the fitted input's per-sample shape and dtype and
    ``groups_new`` ``None`` when the generator was fitted without groups.
``generate_seeded(stratum, seeds)`` (optional, provided by ``BaseGenerator``)
    One sample per seed for one stratum. Row ``i`` of a stratum always gets
    ``derive_seed(random_state, stratum, i)``, so any row can be regenerated
    alone, a partly written bank shard can be extended, and work split over
    Ray workers gives the same rows as one process.
``fingerprint()``
    A stable hash of everything that determines the output (class, params,
    weights, training data), used to content-address the synthetic bank.

``generate`` must be a pure function of ``(fitted state, n_per_stratum,
random_state)`` so that the bank can regenerate any shard alone.
"""

from __future__ import annotations

import hashlib
import json
import numbers
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

__all__ = [
    "BaseGenerator",
    "ImageFormat",
    "check_generator",
    "derive_seed",
    "hash_array",
    "stratum_key",
]


def derive_seed(random_state, *keys) -> int:
    """Derive a 32-bit seed from a base ``random_state`` and any hashable keys.

    The same base and keys always give the same seed, whatever else was
    generated before: this is what makes a bank shard reproducible alone.
    ``random_state`` may be ``None`` (a fresh random base), an int or a
    ``RandomState`` (one integer is drawn from it).
    """
    if random_state is None or isinstance(random_state, np.random.RandomState):
        base = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    elif isinstance(random_state, numbers.Integral):
        base = int(random_state)
    else:
        raise TypeError(
            f"random_state must be None, an int or a numpy RandomState; got {random_state!r}."
        )
    text = json.dumps([base, *[_jsonable(k) for k in keys]], sort_keys=True)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def _jsonable(value):
    """Turn numpy scalars, tuples and None into a stable JSON-able form."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value


def stratum_key(stratum) -> str:
    """A short, stable, filename-safe key for a ``(label, group)`` stratum."""
    text = json.dumps(_jsonable(tuple(stratum)))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def hash_array(*arrays) -> str:
    """SHA-256 of arrays' dtype, shape and bytes (``None`` entries allowed)."""
    h = hashlib.sha256()
    for a in arrays:
        if a is None:
            h.update(b"none")
            continue
        a = np.ascontiguousarray(a)
        h.update(str(a.dtype).encode())
        h.update(str(a.shape).encode())
        if a.dtype == object:
            h.update(json.dumps([_jsonable(v) for v in a.ravel().tolist()]).encode())
        else:
            h.update(a.tobytes())
    return h.hexdigest()


def check_generator(generator, param_name="generator"):
    """Check that ``generator`` follows the contract; raise ``TypeError`` naming the parameter.

    Parameters
    ----------
    generator : object
        The object to check: it needs ``fit`` and ``generate`` methods.
    param_name : str, default="generator"
        Name of the parameter in the error message.

    Returns
    -------
    generator : object
        ``generator`` itself.

    Raises
    ------
    TypeError
        If ``generator`` lacks ``fit`` or ``generate``.

    Examples
    --------
    >>> from synaug_learn.generators import JitterGenerator, check_generator
    >>> check_generator(JitterGenerator())
    JitterGenerator()
    >>> check_generator("a folder name")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: generator must implement fit(X, y, groups=None) and generate(...); ...
    """
    missing = [m for m in ("fit", "generate") if not callable(getattr(generator, m, None))]
    if missing:
        raise TypeError(
            f"{param_name} must implement fit(X, y, groups=None) and "
            f"generate(n_per_stratum, random_state=None); {generator!r} lacks "
            f"{', '.join(missing)}."
        )
    return generator


@dataclass(frozen=True)
class ImageFormat:
    """How a user's array stores images, and the conversions to and from NCHW float.

    Layouts: ``"flat"`` (n, d) with ``d = H*W*C``; ``"hw"`` (n, H, W);
    ``"hwc"`` (n, H, W, C); ``"chw"`` (n, C, H, W). Values are mapped from
    ``[low, high]`` (0..255 for uint8, the data's own min/max for floats) to
    ``[-1, 1]`` and back. Build one with :meth:`from_array`.

    Parameters
    ----------
    sample_shape : tuple
        Shape of one sample as stored.
    dtype : numpy.dtype
        The stored dtype.
    layout : {"flat", "hw", "hwc", "chw"}
        How the samples are stored.
    channels, height, width : int
        Channels and size of the images.
    low, high : float
        The value range that is mapped to ``[-1, 1]``.

    Examples
    --------
    >>> import numpy as np
    >>> from synaug_learn.generators import ImageFormat
    >>> X = np.zeros((5, 28, 28, 3), dtype=np.uint8)
    >>> fmt = ImageFormat.from_array(X)
    >>> fmt.layout, fmt.channels, fmt.height, fmt.width
    ('hwc', 3, 28, 28)
    >>> x = fmt.to_nchw(X)
    >>> x.shape, float(x.min())
    ((5, 3, 28, 28), -1.0)
    >>> fmt.from_nchw(x).shape == X.shape
    True
    """

    sample_shape: tuple
    dtype: np.dtype
    layout: str
    channels: int
    height: int
    width: int
    low: float
    high: float

    @classmethod
    def from_array(cls, X, image_shape=None, param_name="X"):
        """Infer the format of ``X``.

        ``image_shape`` (``(H, W)`` or ``(H, W, C)``) is needed for 2-D input
        unless each row is a square grey image (e.g. digits' 64 = 8x8).
        4-D input is channels-last when its last axis has 1, 3 or 4 entries,
        else channels-first when its second axis has.
        """
        X = np.asarray(X)
        if X.ndim == 2:
            d = X.shape[1]
            if image_shape is None:
                side = int(round(np.sqrt(d)))
                if side * side != d:
                    raise ValueError(
                        f"{param_name} is 2-D with {d} features, which is not a square image; "
                        "pass image_shape=(H, W) or (H, W, C) to the generator."
                    )
                image_shape = (side, side)
            image_shape = tuple(int(s) for s in image_shape)
            if len(image_shape) not in (2, 3) or int(np.prod(image_shape)) != d:
                raise ValueError(
                    f"image_shape={image_shape!r} does not match {param_name}'s {d} features."
                )
            h, w = image_shape[:2]
            c = image_shape[2] if len(image_shape) == 3 else 1
            layout = "flat"
        elif X.ndim == 3:
            layout, (h, w), c = "hw", X.shape[1:], 1
        elif X.ndim == 4:
            if X.shape[-1] in (1, 3, 4):
                layout, (h, w, c) = "hwc", X.shape[1:]
            elif X.shape[1] in (1, 3, 4):
                layout, (c, h, w) = "chw", X.shape[1:]
            else:
                raise ValueError(
                    f"{param_name} has shape {X.shape}: neither its last nor its second axis "
                    "holds 1, 3 or 4 channels."
                )
        else:
            raise ValueError(
                f"{param_name} must be 2-D (n, features), 3-D (n, H, W) or 4-D (n, H, W, C) / "
                f"(n, C, H, W); got {X.ndim}-D with shape {X.shape}."
            )
        if X.dtype == np.uint8:
            low, high = 0.0, 255.0
        else:
            low, high = float(np.min(X)), float(np.max(X))
            if high <= low:
                high = low + 1.0
        return cls(tuple(X.shape[1:]), X.dtype, layout, int(c), int(h), int(w), low, high)

    def to_nchw(self, X) -> np.ndarray:
        """Convert user-format images to float32 NCHW in [-1, 1]."""
        X = np.asarray(X)
        n = X.shape[0]
        if self.layout == "flat":
            x = X.reshape(n, self.height, self.width, self.channels).transpose(0, 3, 1, 2)
        elif self.layout == "hw":
            x = X[:, None]
        elif self.layout == "hwc":
            x = X.transpose(0, 3, 1, 2)
        else:
            x = X
        x = x.astype(np.float32)
        return (x - self.low) / (self.high - self.low) * 2.0 - 1.0

    def from_nchw(self, x) -> np.ndarray:
        """Convert float NCHW images in [-1, 1] back to the user's shape and dtype."""
        x = np.clip(np.asarray(x, dtype=np.float32), -1.0, 1.0)
        x = (x + 1.0) / 2.0 * (self.high - self.low) + self.low
        n = x.shape[0]
        if self.layout == "flat":
            x = x.transpose(0, 2, 3, 1).reshape(n, -1)
        elif self.layout == "hw":
            x = x[:, 0]
        elif self.layout == "hwc":
            x = x.transpose(0, 2, 3, 1)
        if np.issubdtype(self.dtype, np.integer):
            info = np.iinfo(self.dtype)
            x = np.clip(np.rint(x), info.min, info.max)
        return x.astype(self.dtype)


class BaseGenerator(BaseEstimator):
    """Base class for generators (see the module docstring for the contract).

    Subclasses implement ``_fit(X, y, groups)`` and
    ``_generate_stratum(stratum, seeds) -> X_new`` (one sample per seed, in the
    user's format); this base validates the request, derives one seed per row
    (``derive_seed(random_state, stratum, i)``) and assembles labels and groups.

    Fitted attributes set here: ``classes_``, ``strata_`` (list of
    ``(label, group_or_None)``), ``has_groups_``, ``image_format_`` (or
    ``None`` for non-image input), ``n_features_in_``, ``data_hash_``.

    Examples
    --------
    A generator whose new rows are the mean row of their stratum:

    >>> import numpy as np
    >>> from synaug_learn.generators import BaseGenerator
    >>> class MeanGenerator(BaseGenerator):
    ...     def _fit(self, X, y, groups):
    ...         self.means_ = {c: X[y == c].mean(axis=0) for c in self.classes_}
    ...     def _generate_stratum(self, stratum, seeds):
    ...         return np.stack([self.means_[stratum[0]] for _ in seeds])
    >>> gen = MeanGenerator().fit(np.array([[0.0], [2.0], [5.0]]), [0, 0, 1])
    >>> X_new, y_new, groups_new = gen.generate({(0, None): 2}, random_state=0)
    >>> X_new.ravel().tolist(), y_new.tolist(), groups_new
    ([1.0, 1.0], [0, 0], None)
    """

    def fit(self, X, y, groups=None):
        """Fit the generator on ``X`` (images or rows), labels ``y`` and optional ``groups``."""
        X = np.asarray(X)
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        self.has_groups_ = groups is not None
        groups_arr = None if groups is None else np.asarray(groups)
        self.strata_ = sorted(
            set(zip(y.tolist(), groups_arr.tolist() if self.has_groups_ else [None] * len(y))),
            key=repr,
        )
        self.n_features_in_ = int(np.prod(X.shape[1:]))
        self.sample_shape_ = tuple(X.shape[1:])
        self.dtype_ = X.dtype
        self.data_hash_ = hash_array(X, y, groups_arr)
        self._fit(X, y, groups_arr)
        return self

    def _fit(self, X, y, groups):
        raise NotImplementedError

    def generate(self, n_per_stratum, random_state=None):
        """Generate ``n`` samples for each ``(label, group)`` stratum.

        Parameters
        ----------
        n_per_stratum : dict
            ``{(label, group_or_None): n}``; ``n`` may be 0.
        random_state : int, RandomState or None
            Base seed; row ``i`` of a stratum uses ``derive_seed(random_state, stratum, i)``.

        Returns
        -------
        X_new : ndarray of shape (sum(n),) + sample_shape, fitted dtype
        y_new : ndarray of shape (sum(n),)
        groups_new : ndarray of shape (sum(n),) or None
        """
        if not hasattr(self, "classes_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit first.")
        base = derive_seed(random_state)
        X_parts, y_parts, g_parts = [], [], []
        for stratum, n in n_per_stratum.items():
            label, group = self._check_stratum(stratum)
            n = int(n)
            if n < 0:
                raise ValueError(f"n_per_stratum[{stratum!r}] must be >= 0; got {n}.")
            if n == 0:
                continue
            seeds = [derive_seed(base, stratum, i) for i in range(n)]
            X_parts.append(self.generate_seeded((label, group), seeds))
            y_parts.append(np.full(n, label, dtype=self.classes_.dtype))
            g_parts.append(np.full(n, group, dtype=object if group is None else None))
        if not X_parts:
            X_out = np.empty((0, *self.sample_shape_), dtype=self.dtype_)
            y_out = np.empty((0,), dtype=self.classes_.dtype)
            return X_out, y_out, (np.empty((0,), dtype=object) if self.has_groups_ else None)
        groups_out = np.concatenate(g_parts) if self.has_groups_ else None
        return np.concatenate(X_parts), np.concatenate(y_parts), groups_out

    def _check_stratum(self, stratum):
        if not isinstance(stratum, tuple) or len(stratum) != 2:
            raise ValueError(
                f"n_per_stratum keys must be (label, group_or_None) tuples; got {stratum!r}."
            )
        label, group = stratum
        if label not in set(self.classes_.tolist()):
            raise ValueError(
                f"n_per_stratum names label {label!r}, which the generator was not fitted on "
                f"(classes_={self.classes_.tolist()!r})."
            )
        if self.has_groups_ and group is None:
            raise ValueError(
                f"the generator was fitted with groups, so stratum {stratum!r} needs a group."
            )
        return label, group

    def generate_seeded(self, stratum, seeds):
        """Generate one sample of ``stratum`` per seed, in the fitted format.

        The output for a seed does not depend on the other seeds in the call.
        """
        if not hasattr(self, "classes_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit first.")
        stratum = self._check_stratum(tuple(stratum))
        seeds = [int(s) for s in seeds]
        if not seeds:
            return np.empty((0, *self.sample_shape_), dtype=self.dtype_)
        X_new = np.asarray(self._generate_stratum(stratum, seeds))
        return X_new.reshape(len(seeds), *self.sample_shape_).astype(self.dtype_, copy=False)

    def _generate_stratum(self, stratum, seeds):
        raise NotImplementedError

    def fingerprint(self) -> str:
        """Stable hash of the class, the params and the fitted data."""
        params = {k: repr(v) for k, v in sorted(self.get_params(deep=False).items())}
        payload = json.dumps(
            [type(self).__module__, type(self).__qualname__, params,
             self._data_identity(), self._state_hash()],
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    def _fit_trains(self):
        """Whether ``fit`` trains a model (worth keeping fitted in a bank); False here."""
        return False

    def _data_identity(self):
        """What of the fitted data the output depends on: by default, all of it.

        Generators whose output depends only on the data's format and labels
        (a pretrained model that did not train on it) return a hash of those,
        so that cross-validation folds share their bank rows.
        """
        return getattr(self, "data_hash_", None)

    def _format_identity(self, *extra):
        """Hash of the fitted format, strata and ``extra``: a ``_data_identity`` for them."""
        fmt = getattr(self, "image_format_", None)
        payload = [repr(fmt), str(getattr(self, "dtype_", None)),
                   list(getattr(self, "sample_shape_", ())),
                   [_jsonable(s) for s in getattr(self, "strata_", [])],
                   [_jsonable(e) for e in extra]]
        return hashlib.sha256(json.dumps(payload, default=repr).encode()).hexdigest()

    def _state_hash(self):
        """Hash of learnt weights; generators with weights override this."""
        return None
