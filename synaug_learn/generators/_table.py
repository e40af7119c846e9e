"""TableFormat: how a user's table stores its columns, and the encoding a tabular model sees.

A table is a 2-D NumPy array or a pandas DataFrame. Each column gets a kind:

``"numeric"``
    Floats and integers with more than two distinct values. Encoded by a
    quantile transform to a standard normal (or standardised); decoded
    values stay inside the observed range, and integer columns (an integer
    dtype, or a float column holding only whole numbers) are rounded.
``"categorical"``
    pandas ``category``, ``object``, ``string`` and ``bool`` columns, and any
    numeric column with at most two distinct values (a flag). Encoded one-hot
    as ``{-1, +1}`` vectors; decoded by argmax, so a decoded value is always
    one of the levels seen in ``fit``.

Decoding gives back the input's container: the same DataFrame columns, names,
dtypes and categories, or an array of the input's dtype.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["TableFormat"]


def is_frame(X):
    """Whether ``X`` is a pandas DataFrame (checked by its attributes; pandas is not imported)."""
    return hasattr(X, "columns") and hasattr(X, "dtypes") and hasattr(X, "iloc")


def column_kind(values, dtype, table=True):
    """``"categorical"``, ``"integer"`` or ``"numeric"``: the kind of one column of ``X``.

    Categorical: a dtype that does not hold numbers (bool, pandas ``category``,
    ``object``, ``string``, dates), or -- in a table -- a numeric column with at
    most two distinct values (a flag, e.g. a bool column that arrived as
    0.0 / 1.0). Integer: a numeric column holding only whole numbers (any
    integer dtype). With ``table=False`` (the pixels of images) the dtype
    alone decides. The one rule for :class:`TableFormat` (whose numeric
    columns are the integer and numeric ones) and ``JitterGenerator``.
    """
    dtype = dtype if hasattr(dtype, "kind") else np.dtype(dtype)
    if dtype.kind not in "iufc" or str(dtype) == "category":
        return "categorical"
    if not table:
        return "integer" if dtype.kind in "iu" else "numeric"
    values = np.asarray(values).astype(np.float64)
    if len(np.unique(values)) <= 2:
        return "categorical"
    return "integer" if np.all(values == np.round(values)) else "numeric"


@dataclass
class TableFormat:
    """A table's columns and the encoding between it and a float matrix.

    Build one with :meth:`from_table`, then :meth:`encode` rows to floats and
    :meth:`decode` floats back to rows in the user's container.

    Examples
    --------
    >>> import numpy as np
    >>> from synaug_learn.generators._table import TableFormat
    >>> X = np.array([[1.5, 0, 3], [2.5, 1, 7], [0.5, 1, 5]])
    >>> fmt = TableFormat.from_table(X)
    >>> [c["kind"] for c in fmt.columns], fmt.n_encoded
    (['numeric', 'categorical', 'numeric'], 4)
    >>> np.allclose(fmt.decode(fmt.encode(X)), X)  # numeric columns: up to rounding
    True
    """

    columns: list  # one dict per column: name, kind, dtype, levels, integer, low, high
    frame: bool = False
    dtype: str | None = None  # the array's dtype when not a frame
    normalization: str = "quantile"
    transformer: object = field(default=None, repr=False)

    @classmethod
    def from_table(cls, X, normalization="quantile", random_state=None, param_name="X"):
        """Describe ``X`` (2-D array or DataFrame) and fit the numeric normalisation."""
        frame = is_frame(X)
        if not frame:
            X = np.asarray(X)
            if X.ndim != 2:
                raise ValueError(
                    f"{param_name} must be a 2-D table (n_samples, n_features); got "
                    f"{X.ndim}-D with shape {X.shape}."
                )
        if X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(f"{param_name} is empty (shape={X.shape}).")
        columns = []
        for j in range(X.shape[1]):
            values, dtype, name = cls._column(X, j, frame)
            kind = column_kind(values, dtype)
            col = {"name": name, "kind": "categorical" if kind == "categorical" else "numeric",
                   "dtype": str(dtype)}
            if kind == "categorical":
                col["levels"] = _levels(X.iloc[:, j] if frame else values, dtype)
                col["ordered"] = bool(getattr(dtype, "ordered", False) or False)
            else:
                v = values.astype(np.float64)
                if not np.isfinite(v).all():
                    raise ValueError(
                        f"{param_name} column {name!r} contains NaN or infinity; impute it first."
                    )
                col.update(integer=kind == "integer", low=float(v.min()), high=float(v.max()))
            columns.append(col)
        fmt = cls(columns, frame=frame, dtype=None if frame else str(X.dtype),
                  normalization=normalization)
        fmt._fit_transformer(X, random_state)
        return fmt

    @staticmethod
    def _column(X, j, frame):
        if frame:
            series = X.iloc[:, j]
            if series.isna().any():
                raise ValueError(f"X column {X.columns[j]!r} has missing values; impute it first.")
            dtype = series.dtype
            values = series.to_numpy()
            if str(dtype) in ("category", "string", "str", "object"):
                values = values.astype(object)
            name = X.columns[j]
            return values, dtype, name.item() if isinstance(name, np.generic) else name
        return X[:, j], X.dtype, j

    # ------------------------------------------------------------------ encoding
    @property
    def numeric(self):
        """Indices of the numeric columns."""
        return [j for j, c in enumerate(self.columns) if c["kind"] == "numeric"]

    @property
    def n_encoded(self):
        """Width of the encoded float matrix."""
        return sum(1 if c["kind"] == "numeric" else len(c["levels"]) for c in self.columns)

    def _raw_numeric(self, X):
        if not self.numeric:
            return np.empty((X.shape[0], 0))
        if self.frame:
            return X.iloc[:, self.numeric].to_numpy(dtype=np.float64)
        return np.asarray(X)[:, self.numeric].astype(np.float64)

    def _fit_transformer(self, X, random_state):
        from sklearn.preprocessing import QuantileTransformer, StandardScaler

        num = self._raw_numeric(X)
        if num.shape[1] == 0:
            return
        if self.normalization == "quantile":
            self.transformer = QuantileTransformer(
                output_distribution="normal", n_quantiles=max(2, min(1000, len(num))),
                subsample=10**9, random_state=random_state,
            ).fit(num)
        else:
            self.transformer = StandardScaler().fit(num)

    def encode(self, X) -> np.ndarray:
        """Rows of the user's table -> float32 matrix of width :attr:`n_encoded`."""
        num = self._raw_numeric(X)
        num = self.transformer.transform(num) if num.shape[1] else num
        parts, k = [], 0
        for j, col in enumerate(self.columns):
            if col["kind"] == "numeric":
                parts.append(num[:, k: k + 1])
                k += 1
                continue
            values = X.iloc[:, j].to_numpy() if self.frame else np.asarray(X)[:, j]
            index = {lvl: i for i, lvl in enumerate(col["levels"])}
            codes = np.array([index[_plain(v)] for v in values])
            parts.append(np.eye(len(col["levels"]))[codes] * 2.0 - 1.0)
        return np.concatenate(parts, axis=1).astype(np.float32)

    def decode(self, Z):
        """Float matrix of width :attr:`n_encoded` -> rows in the user's container and dtypes."""
        Z = np.asarray(Z, dtype=np.float64)
        slices = self._slices()
        num = np.empty((len(Z), 0))
        if self.numeric and len(Z):
            num = self.transformer.inverse_transform(
                np.concatenate([Z[:, slices[j]] for j in self.numeric], axis=1))
        out, k = [], 0
        for col, sl in zip(self.columns, slices):
            if col["kind"] == "numeric":
                v = np.clip(num[:, k], col["low"], col["high"]) if len(Z) else np.empty(0)
                out.append(np.rint(v) if col["integer"] else v)
                k += 1
            else:
                codes = Z[:, sl].argmax(axis=1)
                out.append(np.array(col["levels"], dtype=object)[codes])
        return self._assemble(out, len(Z))

    def _slices(self):
        slices, start = [], 0
        for col in self.columns:
            width = 1 if col["kind"] == "numeric" else len(col["levels"])
            slices.append(slice(start, start + width))
            start += width
        return slices

    def _assemble(self, out, n):
        if not self.frame:
            dtype = np.dtype(self.dtype)
            if not out:
                return np.empty((n, 0), dtype=dtype)
            return np.stack([np.asarray(o).astype(dtype) for o in out], axis=1).reshape(n, -1)
        import pandas as pd

        data = {}
        for col, values in zip(self.columns, out):
            data[col["name"]] = _restore_column(values, col, pd)
        return pd.DataFrame(data, columns=[c["name"] for c in self.columns])

    # ------------------------------------------------------------------ persistence
    def to_json(self):
        """A JSON-able description (the numeric transformer's arrays go in :meth:`arrays`)."""
        return {"columns": self.columns, "frame": self.frame, "dtype": self.dtype,
                "normalization": self.normalization}

    def arrays(self):
        """The fitted normalisation's arrays, by name (for safetensors)."""
        t = self.transformer
        if t is None:
            return {}
        if self.normalization == "quantile":
            return {"quantiles": t.quantiles_, "references": t.references_}
        return {"mean": t.mean_, "scale": t.scale_}

    @classmethod
    def from_json(cls, meta, arrays):
        """Rebuild a format written by :meth:`to_json` and :meth:`arrays`."""
        from sklearn.preprocessing import QuantileTransformer, StandardScaler

        fmt = cls(meta["columns"], frame=meta["frame"], dtype=meta["dtype"],
                  normalization=meta["normalization"])
        if arrays and fmt.normalization == "quantile":
            q = QuantileTransformer(output_distribution="normal",
                                    n_quantiles=len(arrays["references"]))
            q.quantiles_, q.references_ = arrays["quantiles"], arrays["references"]
            q.n_quantiles_ = len(arrays["references"])
            q.n_features_in_ = arrays["quantiles"].shape[1]
            fmt.transformer = q
        elif arrays:
            s = StandardScaler()
            s.mean_, s.scale_ = arrays["mean"], arrays["scale"]
            s.var_ = s.scale_**2
            s.n_features_in_ = len(s.mean_)
            fmt.transformer = s
        return fmt


def _plain(value):
    """numpy scalars -> Python scalars, so levels compare and serialise as JSON."""
    return value.item() if isinstance(value, np.generic) else value


def _levels(values, dtype):
    cats = getattr(getattr(values, "cat", None), "categories", None)
    if cats is not None:  # a pandas categorical keeps all its categories, used or not
        return [_plain(c) for c in cats]
    levels = {_plain(v) for v in np.asarray(values).tolist()}
    return sorted(levels, key=lambda v: (repr(type(v)), v))


def _restore_column(values, col, pd):
    dtype = col["dtype"]
    if col["kind"] == "categorical" and dtype == "category":
        return pd.Categorical(list(values), categories=col["levels"], ordered=col["ordered"])
    if col["kind"] == "categorical" and dtype in ("object", "str", "string"):
        return pd.array(list(values), dtype=dtype) if dtype != "object" else \
            np.array(list(values), dtype=object)
    return np.asarray(list(values) if values.dtype == object else values).astype(dtype)
