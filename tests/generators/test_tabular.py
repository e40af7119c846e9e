"""TabularDiffusionGenerator: shapes, dtypes, class means, categories, seeds, save/load, errors."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from synaug_learn.generators import TabularDiffusionGenerator
from synaug_learn.generators._table import TableFormat

# Small models and budgets keep the file fast; the defaults are measured in benchmarks/tabular.py.
SMALL = {"hidden_dims": (64, 64), "batch_size": 128, "num_inference_steps": 20}
FAST = {**SMALL, "max_steps": 60, "min_steps": 0}


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """One torch thread: the models are tiny, and threads spin on a busy machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def table():
    """Two classes with different means, an int, a bool, a categorical and a string column."""
    rng = np.random.RandomState(0)
    n0, n1 = 300, 60
    y = np.r_[np.zeros(n0, int), np.ones(n1, int)]
    X = pd.DataFrame({
        "x": np.r_[rng.normal(0.0, 1.0, n0), rng.normal(4.0, 1.0, n1)],
        "count": np.r_[rng.poisson(2, n0), rng.poisson(9, n1)].astype(np.int32),
        "flag": np.r_[rng.rand(n0) < 0.2, rng.rand(n1) < 0.8],
        "colour": pd.Categorical(np.r_[rng.choice(["red", "green"], n0, p=[0.9, 0.1]),
                                       rng.choice(["red", "green"], n1, p=[0.1, 0.9])],
                                 categories=["red", "green", "blue"]),
        "city": np.r_[rng.choice(["a", "b", "c"], n0),
                      rng.choice(["a", "b", "c"], n1)].astype(object),
    })
    return X, y


@pytest.fixture(scope="module")
def fitted(table):
    X, y = table
    return TabularDiffusionGenerator(**SMALL, max_steps=400, random_state=0).fit(X, y)


def test_dataframe_comes_back_with_names_dtypes_and_categories(table, fitted):
    X, _ = table
    X_new, y_new, g_new = fitted.generate({(0, None): 30, (1, None): 20}, random_state=0)
    assert isinstance(X_new, pd.DataFrame) and list(X_new.columns) == list(X.columns)
    assert X_new.dtypes.to_dict() == X.dtypes.to_dict()
    assert list(X_new["colour"].cat.categories) == ["red", "green", "blue"]
    assert set(X_new["city"]) <= {"a", "b", "c"} and set(X_new["colour"]) <= {"red", "green"}
    assert X_new["count"].between(X["count"].min(), X["count"].max()).all()
    assert y_new.tolist() == [0] * 30 + [1] * 20 and g_new is None


def test_class_conditional_means_and_rates_follow_the_real_ones(table, fitted):
    X, y = table
    X_new, y_new, _ = fitted.generate({(0, None): 300, (1, None): 300}, random_state=1)
    for c in (0, 1):
        real, syn = X[y == c], X_new[y_new == c]
        assert abs(syn["x"].mean() - real["x"].mean()) < 0.5, c
        assert abs(syn["count"].mean() - real["count"].mean()) < 1.5, c
        assert abs(syn["flag"].mean() - real["flag"].mean()) < 0.2, c
        green = (syn["colour"] == "green").mean()
        assert abs(green - (real["colour"] == "green").mean()) < 0.2, c
    # the classes stay apart: the minority's mean is the minority's, not the data's
    assert X_new["x"][y_new == 1].mean() > 3.0 and X_new["x"][y_new == 0].mean() < 1.0


def test_numpy_int_and_bool_arrays_keep_their_dtype():
    rng = np.random.RandomState(0)
    y = np.r_[np.zeros(40, int), np.ones(20, int)]
    X_int = rng.randint(-5, 50, size=(60, 3))
    gen = TabularDiffusionGenerator(**FAST, random_state=0).fit(X_int, y)
    X_new, _, _ = gen.generate({(1, None): 25}, random_state=0)
    assert X_new.dtype == X_int.dtype and X_new.shape == (25, 3)
    assert (X_new >= X_int.min(0)).all() and (X_new <= X_int.max(0)).all()
    X_bool = np.c_[np.r_[rng.rand(40) < 0.1, rng.rand(20) < 0.9], rng.rand(60) < 0.5]
    gen = TabularDiffusionGenerator(**SMALL, max_steps=250, random_state=0).fit(X_bool, y)
    X_new, _, _ = gen.generate({(1, None): 200}, random_state=0)
    assert X_new.dtype == bool
    assert 0.6 < X_new[:, 0].mean() <= 1.0  # the minority's rate (0.9), not the data's (0.37)


def test_float_columns_of_whole_numbers_and_flags_stay_valid():
    rng = np.random.RandomState(0)
    X = np.c_[rng.normal(size=80), rng.randint(0, 7, 80).astype(float), rng.rand(80) < 0.5]
    fmt = TableFormat.from_table(X)
    assert [c["kind"] for c in fmt.columns] == ["numeric", "numeric", "categorical"]
    gen = TabularDiffusionGenerator(**FAST, random_state=0).fit(X, np.r_[[0] * 60, [1] * 20])
    X_new, _, _ = gen.generate({(1, None): 50}, random_state=0)
    assert np.all(X_new[:, 1] == np.round(X_new[:, 1])) and set(X_new[:, 2]) <= {0.0, 1.0}


def test_same_seed_same_rows_rows_independent_of_batch_and_global_torch_state(table):
    import torch

    X, y = table
    torch.manual_seed(123)
    a = TabularDiffusionGenerator(**FAST, random_state=3).fit(X, y)
    torch.manual_seed(999)
    b = TabularDiffusionGenerator(**FAST, random_state=3).fit(X, y)
    assert a.fingerprint() == b.fingerprint()
    X1, _, _ = a.generate({(1, None): 12}, random_state=5)
    X2, _, _ = b.generate({(1, None): 12}, random_state=5)
    pd.testing.assert_frame_equal(X1, X2)
    X3, _, _ = a.generate({(1, None): 12}, random_state=6)
    assert not X1["x"].equals(X3["x"])
    # a row depends on its seed only: the first 4 of 12 are the 4 asked alone
    X4, _, _ = a.generate({(1, None): 4}, random_state=5)
    np.testing.assert_allclose(X4["x"], X1["x"][:4], rtol=1e-5)
    c = TabularDiffusionGenerator(**FAST, random_state=4).fit(X, y)
    assert c.fingerprint() != a.fingerprint()


def test_groups_condition_the_rows():
    rng = np.random.RandomState(0)
    y = np.r_[np.zeros(100, int), np.ones(100, int)]
    groups = np.tile(["g1", "g2"], 100)
    X = np.c_[y * 3.0 + (groups == "g2") * 6.0 + rng.normal(0, 0.5, 200)]
    gen = TabularDiffusionGenerator(**SMALL, max_steps=250, random_state=0).fit(X, y, groups=groups)
    X_new, y_new, g_new = gen.generate({(1, "g1"): 100, (1, "g2"): 100}, random_state=0)
    assert g_new.tolist() == ["g1"] * 100 + ["g2"] * 100
    assert abs(X_new[:100, 0].mean() - 3.0) < 1.0 and abs(X_new[100:, 0].mean() - 9.0) < 1.0
    with pytest.raises(ValueError, match="group 'g3'"):
        gen.generate({(1, "g3"): 1})


def test_save_load_round_trip_gives_the_same_rows(table, fitted, tmp_path):
    path = fitted.save_pretrained(tmp_path / "gen")
    assert sorted(p.name for p in path.iterdir()) == ["model.safetensors", "synaug_tabular.json"]
    loaded = TabularDiffusionGenerator.from_pretrained(path)
    X1, y1, _ = fitted.generate({(1, None): 10, (0, None): 5}, random_state=2)
    X2, y2, _ = loaded.generate({(1, None): 10, (0, None): 5}, random_state=2)
    pd.testing.assert_frame_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert loaded.fingerprint() == fitted.fingerprint()
    assert clone(loaded).get_params() == fitted.get_params()


def test_numpy_save_load_round_trip(tmp_path):
    rng = np.random.RandomState(0)
    X = np.c_[rng.normal(size=50), rng.randint(0, 2, 50)].astype(np.float32)
    gen = TabularDiffusionGenerator(**FAST, normalization="standard", random_state=0)
    gen.fit(X, np.array(["a"] * 40 + ["b"] * 10))
    loaded = TabularDiffusionGenerator.from_pretrained(gen.save_pretrained(tmp_path / "g"))
    X1, y1, _ = gen.generate({("b", None): 7}, random_state=0)
    X2, y2, _ = loaded.generate({("b", None): 7}, random_state=0)
    assert X2.dtype == np.float32 and y2.tolist() == ["b"] * 7
    np.testing.assert_array_equal(X1, X2)


def test_generate_seeded_matches_generate(fitted):
    from synaug_learn.generators._base import derive_seed

    X, _, _ = fitted.generate({(1, None): 3}, random_state=7)
    base = derive_seed(7)
    seeds = [derive_seed(base, (1, None), i) for i in range(3)]
    pd.testing.assert_frame_equal(fitted.generate_seeded((1, None), seeds), X)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"normalization": "minmax"}, "normalization"),
        ({"hidden_dims": (64, 0)}, r"hidden_dims.*\(64, 0\)"),
        ({"max_steps": 0}, "max_steps"),
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_bad_parameters_name_themselves(params, match):
    X, y = np.zeros((6, 2)), [0, 0, 0, 1, 1, 1]
    with pytest.raises(ValueError, match=match):
        TabularDiffusionGenerator(**params).fit(X, y)


@pytest.mark.parametrize(
    "X, y, groups, match",
    [
        (np.zeros((5, 2, 2)), [0, 0, 0, 1, 1], None, "2-D table.*3-D"),
        (np.zeros((5, 2)), [0, 0, 1, 1], None, "y must be 1-D.*5"),
        (np.zeros((4, 2)), [0, 0, 1, 1], [1, 2], "groups must be 1-D"),
        (np.array([[0.0, np.nan], [1, 1], [2, 2]]), [0, 1, 1], None, "column 1.*NaN"),
        (pd.DataFrame({"a": [1.0, None, 2.0]}), [0, 1, 1], None, "'a' has missing"),
    ],
)
def test_bad_input_is_a_clear_error(X, y, groups, match):
    with pytest.raises(ValueError, match=match):
        TabularDiffusionGenerator(**FAST).fit(X, y, groups=groups)


def test_bad_requests(fitted):
    with pytest.raises(NotFittedError):
        TabularDiffusionGenerator().generate({(0, None): 1})
    with pytest.raises(ValueError, match="label 7"):
        fitted.generate({(7, None): 1})
    with pytest.raises(ValueError, match=r"must be >= 0; got -1"):
        fitted.generate({(0, None): -1})
    X, y, _ = fitted.generate({(0, None): 0})
    assert len(X) == 0 and list(X.columns) == ["x", "count", "flag", "colour", "city"]
    with pytest.raises(ValueError, match="holds no saved TabularDiffusionGenerator"):
        TabularDiffusionGenerator.from_pretrained("/nonexistent/folder")


def test_budget_scales_with_rows_and_is_capped():
    gen = TabularDiffusionGenerator(n_epochs=10, min_steps=50, max_steps=400, batch_size=100)
    assert gen._budget_steps(30) == 50  # floor
    assert gen._budget_steps(1000) == 100  # 10 batches x 10 epochs
    assert gen._budget_steps(100_000) == 400  # cap
