"""JitterGenerator keeps every column valid: bools, integers and categories, arrays and frames."""

import numpy as np
import pandas as pd
import pytest

from synaug_learn import SynAugSampler
from synaug_learn.generators import JitterGenerator


@pytest.fixture
def frame():
    """60 rows of class 0 (flag True half the time), 12 of class 1 (flag never True)."""
    rng = np.random.RandomState(0)
    n0, n1 = 60, 12
    X = pd.DataFrame({
        "height": rng.randn(n0 + n1),
        "age": rng.randint(18, 70, n0 + n1),
        "flag": np.r_[rng.rand(n0) < 0.5, np.zeros(n1, bool)],
        "colour": pd.Categorical(np.r_[rng.choice(["red", "blue"], n0), ["green"] * n1]),
        "city": np.r_[rng.choice(["Oslo", "Rome"], n0), rng.choice(["Lima", "Pune"], n1)],
    })
    return X, np.r_[[0] * n0, [1] * n1]


def test_dataframe_keeps_names_dtypes_and_valid_values(frame):
    X, y = frame
    gen = JitterGenerator().fit(X, y)
    assert gen.column_kinds_ == ["numeric", "integer", "categorical", "categorical",
                                 "categorical"]
    X_new, y_new, _ = gen.generate({(0, None): 200, (1, None): 200}, random_state=0)
    assert isinstance(X_new, pd.DataFrame)
    assert list(X_new.columns) == list(X.columns)
    assert X_new.dtypes.tolist() == X.dtypes.tolist()
    cls1, cls0 = X_new[y_new == 1], X_new[y_new == 0]
    assert not cls1["flag"].any()  # 0 % True in class 1 stays 0 %
    assert 0.3 < cls0["flag"].mean() < 0.7  # about the real 50 %
    assert X_new["age"].between(X["age"].min(), X["age"].max()).all()
    assert set(cls1["colour"]) == {"green"} and set(cls0["colour"]) <= {"red", "blue"}
    assert set(cls1["city"]) <= {"Lima", "Pune"} and set(cls0["city"]) <= {"Oslo", "Rome"}


def test_numpy_bool_and_int_columns_stay_valid():
    rng = np.random.RandomState(1)
    y = np.r_[[0] * 50, [1] * 10]
    flags = np.r_[rng.rand(50) < 0.5, np.zeros(10, bool)]
    ints = rng.randint(-3, 9, 60)
    X = np.c_[rng.randn(60), ints, flags].astype(np.float64)
    gen = JitterGenerator().fit(X, y)
    assert gen.column_kinds_ == ["numeric", "integer", "categorical"]
    X_new, _, _ = gen.generate({(1, None): 100}, random_state=0)
    assert (X_new[:, 2] == 0).all()
    assert (X_new[:, 1] == np.round(X_new[:, 1])).all()
    assert X_new[:, 1].min() >= -3 and X_new[:, 1].max() <= 8
    X_bool = flags.reshape(-1, 1)
    X_new, _, _ = JitterGenerator().fit(X_bool, y).generate({(1, None): 30}, random_state=0)
    assert X_new.dtype == bool and not X_new.any()


def test_sampler_on_a_dataframe_keeps_bool_rate_and_ints(frame):
    X, y = frame
    X = X[["height", "age", "flag"]]
    X_res, y_res = SynAugSampler(generator=JitterGenerator(), report=False,
                                 random_state=0).fit_resample(X, y)
    assert X_res.dtypes.tolist() == X.dtypes.tolist()
    new = X_res.iloc[len(X):]
    assert len(new) == 48 and not new["flag"].any()
    assert new["age"].between(18, 69).all()
    # ints are rounded, not truncated: the generated ages match a rounding of the floats
    gen_rows = SynAugSampler(generator=JitterGenerator(), report=False,
                             random_state=0).fit_resample(X.astype(float), y)[0].iloc[len(X):]
    np.testing.assert_array_equal(gen_rows["age"].to_numpy(), new["age"].to_numpy())


def test_complex_input_is_refused():
    X = np.array([[1 + 1j], [2 + 0j], [3 + 0j]])
    with pytest.raises(ValueError, match="X is complex"):
        JitterGenerator().fit(X, [0, 1, 1])
