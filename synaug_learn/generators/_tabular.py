"""TabularDiffusionGenerator: class- (and group-) conditional diffusion for tables (TabDDPM)."""

from __future__ import annotations

import json
import math
import numbers
from pathlib import Path

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ..utils import check_column, check_is_fitted, derive_seed, hash_array
from ._base import BaseGenerator
from ._sampling import seeded_noise
from ._table import TableFormat, is_frame

__all__ = ["TabularDiffusionGenerator"]

FORMAT_VERSION = 1
CONFIG_NAME = "synaug_tabular.json"
WEIGHTS_NAME = "model.safetensors"


def _denoiser(n_features, n_classes, n_groups, hidden_dims, dropout):
    """TabDDPM's MLP: ``proj(x_t) + emb(t) + emb(class) [+ emb(group)]`` -> MLP -> noise."""
    from diffusers.models.embeddings import Timesteps
    from torch import nn

    class Denoiser(nn.Module):
        def __init__(self):
            super().__init__()
            dim = hidden_dims[0]
            self.proj = nn.Linear(n_features, dim)
            self.time_proj = Timesteps(dim, flip_sin_to_cos=True, downscale_freq_shift=0)
            self.time_emb = nn.Sequential(nn.Linear(dim, dim), nn.SiLU())
            self.class_emb = nn.Embedding(n_classes, dim)
            self.group_emb = nn.Embedding(n_groups, dim) if n_groups else None
            layers, width = [], dim
            for h in hidden_dims:
                layers += [nn.Linear(width, h), nn.SiLU(), nn.Dropout(dropout)]
                width = h
            self.mlp = nn.Sequential(*layers, nn.Linear(width, n_features))

        def forward(self, x, t, labels, groups=None):
            h = self.proj(x) + self.time_emb(self.time_proj(t)) + self.class_emb(labels)
            if self.group_emb is not None:
                h = h + self.group_emb(groups)
            return self.mlp(h)

    return Denoiser()


class TabularDiffusionGenerator(BaseGenerator):
    """Generate table rows of a class (or class x group cell) with a diffusion model.

    A TabDDPM-style model trained on the data being resampled: numeric
    columns are quantile-transformed to a standard normal (or standardised)
    and diffused with Gaussian noise; categorical columns (pandas
    ``category`` / ``object`` / ``bool`` columns and numeric columns with at
    most two distinct values) are one-hot encoded as ``{-1, +1}`` vectors,
    diffused the same way and decoded by argmax. This is the documented
    alternative to TabDDPM's multinomial diffusion: simpler, and every
    decoded value is a level seen in ``fit``. An MLP denoiser predicts the
    noise from the noisy row, the time step and learnt class (and group)
    embeddings; rows are drawn with a deterministic DDIM sampler, so each row
    depends only on its own seed.

    The output keeps the input's container: a DataFrame comes back with its
    column names, dtypes and categories; an array with its dtype. Numeric
    values stay inside the observed range; integer columns (and float columns
    holding only whole numbers) are rounded.

    Training takes ``ceil(n_rows / batch_size) * n_epochs`` optimiser steps,
    clipped to ``[min_steps, max_steps]``: 1,000 steps for up to 1,280 rows,
    about 5-10 s on one CPU core. Small classes need the steps: on a table
    with 15 minority rows, 200 steps gave samples that trained a worse
    classifier than SMOTE's, 1,000 steps a better one.

    Parameters
    ----------
    normalization : {"quantile", "standard"}, default="quantile"
        How numeric columns are mapped before diffusion.
    hidden_dims : tuple of int, default=(128, 128)
        Widths of the denoiser's hidden layers.
    dropout : float, default=0.0
        Dropout in the denoiser.
    n_epochs : int, default=200
        Passes over the data (before clipping to ``[min_steps, max_steps]``).
    min_steps : int, default=1000
        Fewest optimiser steps, whatever the data's size (``max_steps`` wins).
    max_steps : int, default=2000
        Most optimiser steps (the cap of the training budget).
    batch_size : int, default=256
        Rows per optimiser step (at most the number of rows).
    learning_rate : float, default=2e-3
        AdamW's learning rate, decayed linearly to 0.
    class_balanced : bool, default=True
        Draw each batch's rows stratum-balanced, so small classes get as many
        updates as large ones.
    num_train_timesteps : int, default=1000
        Diffusion steps of the (cosine) noise schedule.
    num_inference_steps : int, default=50
        DDIM steps when sampling.
    generation_batch_size : int, default=4096
        Rows denoised at once.
    random_state : int, RandomState instance or None, default=None
        Seeds the normalisation, the weights and the training batches.
    verbose : int, default=0
        A training progress bar when > 0.

    Attributes
    ----------
    classes_ : ndarray
        Labels seen in ``fit``.
    strata_ : list of tuple
        ``(label, group_or_None)`` cells seen in ``fit``.
    table_format_ : TableFormat
        The columns' kinds, levels, ranges and the numeric normalisation.
    model_ : torch.nn.Module
        The trained denoiser.
    n_train_steps_ : int
        Optimiser steps taken.
    train_loss_ : float
        Mean loss over the last 10% of the steps.

    Examples
    --------
    >>> import numpy as np
    >>> from synaug_learn.generators import TabularDiffusionGenerator
    >>> rng = np.random.RandomState(0)
    >>> X = np.c_[rng.normal(size=60), rng.randint(0, 5, size=60)]
    >>> y = np.r_[np.zeros(50, int), np.ones(10, int)]
    >>> gen = TabularDiffusionGenerator(max_steps=50, random_state=0).fit(X, y)
    >>> X_new, y_new, _ = gen.generate({(1, None): 4}, random_state=0)
    >>> X_new.shape, y_new.tolist(), bool(np.all(X_new[:, 1] == np.round(X_new[:, 1])))
    ((4, 2), [1, 1, 1, 1], True)
    """

    _parameter_constraints: dict = {
        "normalization": [StrOptions({"quantile", "standard"})],
        "hidden_dims": [tuple, list],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "n_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "min_steps": [Interval(numbers.Integral, 0, None, closed="left")],
        "max_steps": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "class_balanced": ["boolean"],
        "num_train_timesteps": [Interval(numbers.Integral, 2, None, closed="left")],
        "num_inference_steps": [Interval(numbers.Integral, 1, None, closed="left")],
        "generation_batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        normalization="quantile",
        hidden_dims=(128, 128),
        dropout=0.0,
        n_epochs=200,
        min_steps=1000,
        max_steps=2000,
        batch_size=256,
        learning_rate=2e-3,
        class_balanced=True,
        num_train_timesteps=1000,
        num_inference_steps=50,
        generation_batch_size=4096,
        random_state=None,
        verbose=0,
    ):
        self.normalization = normalization
        self.hidden_dims = hidden_dims
        self.dropout = dropout
        self.n_epochs = n_epochs
        self.min_steps = min_steps
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.class_balanced = class_balanced
        self.num_train_timesteps = num_train_timesteps
        self.num_inference_steps = num_inference_steps
        self.generation_batch_size = generation_batch_size
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ validation
    def _check_params(self):
        self._validate_params()
        dims = tuple(self.hidden_dims)
        if not dims or not all(isinstance(h, numbers.Integral) and h > 0 for h in dims):
            raise ValueError(
                f"hidden_dims must be a non-empty tuple of positive ints; got {self.hidden_dims!r}."
            )

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y, groups=None):
        """Train the diffusion model on the table ``X``, labels ``y`` and optional ``groups``.

        Parameters
        ----------
        X : ndarray or pandas.DataFrame of shape (n_samples, n_features)
            The table, without missing values.
        y : array-like of shape (n_samples,)
            Class labels.
        groups : array-like of shape (n_samples,), default=None
            Group of each row; the model is then conditioned on class and group.

        Returns
        -------
        self : TabularDiffusionGenerator
        """
        self._check_params()
        if not is_frame(X):
            X = np.asarray(X)
            if X.dtype == object:
                raise TypeError(
                    "X is an object array; pass a pandas DataFrame for mixed column types."
                )
        if getattr(X, "ndim", 2) != 2:
            raise ValueError(
                f"X must be a 2-D table (n_samples, n_features); got {X.ndim}-D with shape "
                f"{X.shape}; use ConditionalDiffusionGenerator for images."
            )
        y = check_column(y, X.shape[0], "y")
        groups = None if groups is None else check_column(groups, X.shape[0], "groups")
        base = derive_seed(self.random_state)
        fmt = TableFormat.from_table(X, self.normalization, random_state=base % 2**31)
        self.table_format_ = fmt
        self._set_strata(y, groups)
        self.groups_ = np.unique(groups) if self.has_groups_ else None
        self.n_features_in_ = X.shape[1]
        self.sample_shape_ = (X.shape[1],)
        self.dtype_ = None if fmt.frame else np.asarray(X).dtype
        if fmt.frame:
            self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        Z = fmt.encode(X)
        self.data_hash_ = hash_array(Z, y, groups)
        self._train(Z, y, groups, base)
        return self

    def _codes(self, y, groups):
        labels = np.searchsorted(self.classes_, y)
        if not self.has_groups_:
            return labels, None
        return labels, np.searchsorted(self.groups_, groups)

    def _budget_steps(self, n_rows):
        steps = math.ceil(n_rows / min(self.batch_size, n_rows)) * self.n_epochs
        return int(min(max(steps, self.min_steps), self.max_steps))

    def _train(self, Z, y, groups, seed):
        import torch

        # The seed alone decides the model; the caller's global torch state is left as it was.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self._train_seeded(Z, y, groups, seed)

    def _train_seeded(self, Z, y, groups, seed):
        import torch
        from diffusers import DDPMScheduler
        from tqdm.auto import tqdm

        rng = np.random.default_rng(seed)
        labels, gcodes = self._codes(y, groups)
        n_groups = len(self.groups_) if self.has_groups_ else 0
        model = _denoiser(Z.shape[1], len(self.classes_), n_groups, tuple(self.hidden_dims),
                          self.dropout)
        scheduler = DDPMScheduler(num_train_timesteps=self.num_train_timesteps,
                                  beta_schedule="squaredcos_cap_v2")
        steps = self._budget_steps(len(Z))
        batch = min(self.batch_size, len(Z))
        opt = torch.optim.AdamW(model.parameters(), lr=self.learning_rate, weight_decay=1e-4)
        decay = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 - s / steps)
        pick = self._batch_sampler(labels, gcodes, rng)
        Zt = torch.from_numpy(Z)
        lt = torch.from_numpy(labels).long()
        gt = None if gcodes is None else torch.from_numpy(gcodes).long()
        losses = []
        model.train()
        for _ in tqdm(range(steps), disable=not self.verbose, desc="tabular diffusion"):
            idx = torch.from_numpy(pick(batch))
            x0 = Zt[idx]
            noise = torch.randn_like(x0)
            t = torch.randint(0, self.num_train_timesteps, (len(idx),))
            xt = scheduler.add_noise(x0, noise, t)
            pred = model(xt, t, lt[idx], None if gt is None else gt[idx])
            loss = torch.nn.functional.mse_loss(pred, noise)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            decay.step()
            losses.append(float(loss.detach()))
        model.eval()
        self.model_ = model
        self.n_train_steps_ = steps
        self.train_loss_ = float(np.mean(losses[-max(1, steps // 10):]))
        self._weights_hash = None

    def _batch_sampler(self, labels, gcodes, rng):
        """A function ``n -> row indices``: uniform, or balanced over the strata."""
        n = len(labels)
        if not self.class_balanced:
            return lambda k: rng.integers(0, n, size=k)
        keys = labels if gcodes is None else labels * (gcodes.max() + 1) + gcodes
        order = np.argsort(keys, kind="stable")  # rows grouped by stratum
        _, start, size = np.unique(keys[order], return_index=True, return_counts=True)

        def pick(k):
            cells = rng.integers(0, len(size), size=k)
            return order[start[cells] + (rng.random(k) * size[cells]).astype(np.int64)]

        return pick

    # ------------------------------------------------------------------ sampling
    def _check_fitted(self):
        check_is_fitted(self, "model_")

    def _check_group(self, group):
        if self.has_groups_ and group not in set(self.groups_.tolist()):
            raise ValueError(
                f"n_per_stratum names group {group!r}, which the generator was not fitted on "
                f"(groups: {self.groups_.tolist()!r})."
            )

    def _sample_encoded(self, stratum, seeds):
        """Encoded rows (float matrix) of ``stratum``, one per seed (DDIM, eta=0)."""
        import torch
        from diffusers import DDIMScheduler

        label, group = stratum
        self._check_group(group)
        scheduler = DDIMScheduler(num_train_timesteps=self.num_train_timesteps,
                                  beta_schedule="squaredcos_cap_v2", clip_sample=False)
        scheduler.set_timesteps(self.num_inference_steps)
        d = self.table_format_.n_encoded
        out = []
        for start in range(0, len(seeds), self.generation_batch_size):
            chunk = seeds[start: start + self.generation_batch_size]
            x = seeded_noise(d, chunk)
            lab, grp = self._codes(np.full(len(chunk), label, dtype=self.classes_.dtype),
                                   np.full(len(chunk), group) if self.has_groups_ else None)
            lab = torch.from_numpy(np.asarray(lab)).long()
            grp = None if grp is None else torch.from_numpy(np.asarray(grp)).long()
            with torch.inference_mode():
                for t in scheduler.timesteps:
                    eps = self.model_(x, t.expand(len(chunk)), lab, grp)
                    x = scheduler.step(eps, t, x, eta=0.0).prev_sample
            out.append(x.numpy())
        return np.concatenate(out)

    def _generate_jobs(self, jobs):
        # Rows are sampled encoded, stratum after stratum, and decoded once: one table back.
        Z_parts = [self._sample_encoded(stratum, seeds) for stratum, seeds in jobs if seeds]
        Z = np.concatenate(Z_parts) if Z_parts else np.empty((0, self.table_format_.n_encoded))
        return self.table_format_.decode(Z)

    def generate_seeded(self, stratum, seeds):
        """Generate one row of ``stratum`` per seed, in the fitted container and dtypes."""
        self._check_fitted()
        return self._generate_jobs([(self._check_stratum(tuple(stratum)), [int(s) for s in seeds])])

    def generate(self, n_per_stratum, random_state=None):
        """Generate ``n`` rows for each ``(label, group)`` stratum.

        As :meth:`BaseGenerator.generate`; ``X_new`` is in the fitted table's
        container (ndarray or DataFrame), with its column names and dtypes.
        """
        X_new, y_new, groups_new = super().generate(n_per_stratum, random_state)
        if self.has_groups_ and not len(groups_new):  # empty: the fitted groups' dtype
            groups_new = np.empty(0, dtype=self.groups_.dtype)
        return X_new, y_new, groups_new

    # ------------------------------------------------------------------ persistence
    def save_pretrained(self, path):
        """Write the weights and the normalisation (safetensors) and the metadata (json)."""
        from safetensors.numpy import save_file

        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        tensors = {f"model.{k}": v.detach().cpu().numpy()
                   for k, v in self.model_.state_dict().items()}
        tensors.update({f"format.{k}": np.ascontiguousarray(v, dtype=np.float64)
                        for k, v in self.table_format_.arrays().items()})
        save_file(tensors, str(path / WEIGHTS_NAME))
        meta = {
            "format_version": FORMAT_VERSION,
            "table_format": self.table_format_.to_json(),
            "classes": _json_list(self.classes_),
            "groups": None if not self.has_groups_ else _json_list(self.groups_),
            "strata": [_json_list(s) for s in self.strata_],
            "dtype": None if self.dtype_ is None else str(self.dtype_),
            "n_train_steps": int(self.n_train_steps_),
            "train_loss": self.train_loss_,
            "training_data_sha256": self.data_hash_,
            "params": {k: list(v) if isinstance(v, tuple) else v
                       for k, v in self.get_params(deep=False).items()
                       if k != "random_state" or not hasattr(v, "randint")},
        }
        (path / CONFIG_NAME).write_text(json.dumps(meta, indent=2))
        return path

    @classmethod
    def from_pretrained(cls, path):
        """Load a generator written by :meth:`save_pretrained`, fitted and ready to generate."""
        from safetensors.numpy import load_file

        path = Path(path)
        if not (path / CONFIG_NAME).is_file() or not (path / WEIGHTS_NAME).is_file():
            raise ValueError(
                f"path={str(path)!r} holds no saved TabularDiffusionGenerator "
                f"({CONFIG_NAME} and {WEIGHTS_NAME} from save_pretrained)."
            )
        meta = json.loads((path / CONFIG_NAME).read_text())
        tensors = load_file(str(path / WEIGHTS_NAME))
        params = dict(meta["params"])
        params["hidden_dims"] = tuple(params["hidden_dims"])
        gen = cls(**params)
        fmt = TableFormat.from_json(
            meta["table_format"],
            {k[len("format."):]: v for k, v in tensors.items() if k.startswith("format.")},
        )
        gen.table_format_ = fmt
        gen.classes_ = np.asarray(meta["classes"])
        gen.has_groups_ = meta["groups"] is not None
        gen.groups_ = np.asarray(meta["groups"]) if gen.has_groups_ else None
        gen.strata_ = [tuple(s) for s in meta["strata"]]
        gen.n_features_in_ = len(fmt.columns)
        gen.sample_shape_ = (len(fmt.columns),)
        gen.dtype_ = None if meta["dtype"] is None else np.dtype(meta["dtype"])
        gen.data_hash_ = meta["training_data_sha256"]
        gen.n_train_steps_, gen.train_loss_ = meta["n_train_steps"], meta["train_loss"]
        model = _denoiser(fmt.n_encoded, len(gen.classes_),
                          len(gen.groups_) if gen.has_groups_ else 0,
                          tuple(params["hidden_dims"]), params["dropout"])
        import torch

        model.load_state_dict({k[len("model."):]: torch.from_numpy(v)
                               for k, v in tensors.items() if k.startswith("model.")})
        gen.model_ = model.eval()
        gen._weights_hash = None
        return gen

    # ------------------------------------------------------------------ identity
    def _state_hash(self):
        return self._module_hash("model_")

    def _fit_trains(self):
        return True

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_weights_hash", None)
        return state


def _json_list(values):
    return [v.item() if isinstance(v, np.generic) else v for v in values]
