import doctest
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import synaug_learn._report as report_module  # noqa: E402
from synaug_learn._report import SyntheticReport, synthetic_report  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    """Three disjoint real parts: train, held-out reference, and 'unseen' rows to act as a fill."""
    X, y = load_digits(return_X_y=True)
    X_tr, X_rest, y_tr, y_rest = train_test_split(X, y, test_size=0.6, stratify=y,
                                                  random_state=0)
    X_ho, X_un, y_ho, y_un = train_test_split(X_rest, y_rest, test_size=0.5, stratify=y_rest,
                                              random_state=0)
    return X_tr, y_tr, X_ho, y_ho, X_un, y_un


def quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


def row_of(report, label, group=None):
    (row,) = [r for r in report.rows if r["label"] == label and r["group"] == group]
    return row


def test_doctests():
    result = doctest.testmod(report_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_copies_have_novelty_near_zero_and_are_flagged(digits):
    X_tr, y_tr, X_ho, y_ho, X_un, y_un = digits
    rng = np.random.default_rng(0)
    copies = X_tr[y_tr == 7][:30] + rng.normal(0, 0.05, size=(30, 64))
    X_syn = np.concatenate([copies, X_un[y_un == 3]])
    y_syn = np.array([7] * 30 + [3] * int(np.sum(y_un == 3)))
    with pytest.warns(UserWarning, match=r"class 7 \(near-copy share 1\.00, novelty 0\.0\d\) "
                                         r"are near-copies of the training rows"):
        report = synthetic_report(X_tr, y_tr, X_syn, y_syn, X_heldout=X_ho, y_heldout=y_ho,
                                  random_state=0)
    seven, three = row_of(report, 7), row_of(report, 3)
    assert seven["novelty"] < 0.1 and seven["copying"]
    assert seven["reference"] == "heldout"
    assert report.copying_ == [(7, None)]
    assert 0.7 < three["novelty"] < 1.4 and not three["copying"]
    assert seven["n_generated"] == 30 and seven["n_real"] == int(np.sum(y_tr == 7))
    # classes without generated rows are listed with NaN metrics
    zero = row_of(report, 0)
    assert zero["n_generated"] == 0 and np.isnan(zero["novelty"]) and np.isnan(zero["fidelity"])
    assert len(report.rows) == 10


def test_unseen_real_rows_have_novelty_near_one(digits):
    X_tr, y_tr, X_ho, y_ho, X_un, y_un = digits
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is flagged
        with_heldout = synthetic_report(X_tr, y_tr, X_un, y_un, X_heldout=X_ho, y_heldout=y_ho,
                                        random_state=0)
        loo = synthetic_report(X_tr, y_tr, X_un, y_un, random_state=0)
    for report, reference in [(with_heldout, "heldout"), (loo, "loo")]:
        assert report.copying_ == []
        for row in report.rows:
            assert 0.7 < row["novelty"] < 1.4, row
            assert row["reference"] == reference
            assert 0.8 < row["diversity"] < 1.25, row
            assert row["fidelity"] > 0.8, row
        assert 0.9 < report.summary["novelty"] < 1.1


def test_fidelity_right_and_wrong_labels(digits):
    X_tr, y_tr, X_ho, y_ho, X_un, y_un = digits
    ones = X_un[y_un == 1]
    X_syn = np.concatenate([X_tr[y_tr == 4], ones])
    y_syn = np.array([4] * int(np.sum(y_tr == 4)) + [7] * len(ones))  # ones relabelled 7
    report = quiet(synthetic_report, X_tr, y_tr, X_syn, y_syn, random_state=0)
    assert row_of(report, 4)["fidelity"] > 0.95  # default LogisticRegression, C=1
    assert row_of(report, 7)["fidelity"] < 0.05


def test_given_classifier_is_applied_to_raw_rows(digits):
    X_tr, y_tr, _, _, X_un, y_un = digits

    class AlwaysFive:
        def predict(self, X):
            assert X.shape[1:] == (64,) and X.max() > 1  # raw digits pixels, not features
            return np.full(len(X), 5)

    report = synthetic_report(X_tr, y_tr, X_un, y_un, classifier=AlwaysFive(), random_state=0)
    assert row_of(report, 5)["fidelity"] == 1.0
    assert all(r["fidelity"] == 0.0 for r in report.rows if r["label"] != 5)


def test_diversity_of_one_repeated_image(digits):
    X_tr, y_tr, _, _, X_un, y_un = digits
    repeated = np.repeat(X_un[y_un == 2][:1], 40, axis=0)
    report = quiet(synthetic_report, X_tr, y_tr, repeated, [2] * 40, random_state=0)
    assert row_of(report, 2)["diversity"] == 0.0


def test_group_strata(digits):
    X_tr, y_tr, X_ho, y_ho, X_un, y_un = digits
    g_tr = np.where(np.arange(len(y_tr)) % 2 == 0, "a", "b")
    g_ho = np.where(np.arange(len(y_ho)) % 2 == 0, "a", "b")
    copy_rows = (y_tr == 3) & (g_tr == "a")
    X_syn = np.concatenate([X_tr[copy_rows] + 0.01, X_un[y_un == 3]])
    y_syn = np.full(len(X_syn), 3)
    g_syn = np.array(["a"] * int(copy_rows.sum()) + ["b"] * int(np.sum(y_un == 3)))
    with pytest.warns(UserWarning, match="class 3, group 'a' \\(near-copy share"):
        report = synthetic_report(X_tr, y_tr, X_syn, y_syn, groups_train=g_tr, groups_syn=g_syn,
                                  X_heldout=X_ho, y_heldout=y_ho, groups_heldout=g_ho,
                                  random_state=0)
    assert len(report.rows) == 20
    assert report.copying_ == [(3, "a")]
    assert row_of(report, 3, "a")["n_real"] == int(copy_rows.sum())
    assert 0.7 < row_of(report, 3, "b")["novelty"] < 1.4
    frame = report.to_frame()
    assert list(frame.columns[:2]) == ["label", "group"]
    assert "| group" in report.to_markdown()
    # without held-out groups, the class's held-out rows are the reference of each group
    report = quiet(synthetic_report, X_tr, y_tr, X_syn, y_syn, groups_train=g_tr,
                   groups_syn=g_syn, X_heldout=X_ho, y_heldout=y_ho, random_state=0)
    assert row_of(report, 3, "b")["reference"] == "heldout"
    assert report.copying_ == [(3, "a")]


def test_features_callable_and_transformer(digits):
    X_tr, y_tr, X_ho, y_ho, X_un, y_un = digits
    pca = PCA(n_components=10, random_state=0).fit(X_tr)
    r1 = synthetic_report(X_tr, y_tr, X_un, y_un, features=pca, random_state=0)
    r2 = synthetic_report(X_tr, y_tr, X_un, y_un, features=pca.transform, random_state=0)
    assert [r["novelty"] for r in r1.rows] == [r["novelty"] for r in r2.rows]
    assert all(0.6 < r["novelty"] < 1.6 for r in r1.rows)
    with pytest.raises(ValueError, match="features must map 200 rows to a 2-D array"):
        synthetic_report(X_tr[:200], y_tr[:200], X_un, y_un, features=lambda X: X[:, 0])
    with pytest.raises(TypeError, match="features must be None, a callable"):
        synthetic_report(X_tr, y_tr, X_un, y_un, features="pixels")


def test_images_uint8_nhwc(digits):
    X_tr, y_tr, _, _, X_un, y_un = digits
    to_img = lambda X: np.repeat((X.reshape(-1, 8, 8, 1) * 15).astype(np.uint8), 3, -1)  # noqa: E731
    report = quiet(synthetic_report, to_img(X_tr), y_tr, to_img(X_un), y_un, random_state=0)
    assert report.copying_ == []
    assert all(0.7 < r["novelty"] < 1.4 for r in report.rows)


def test_subsampling_and_determinism(digits):
    X_tr, y_tr, _, _, X_un, y_un = digits
    r1 = synthetic_report(X_tr, y_tr, X_un, y_un, max_samples=10, random_state=0)
    r2 = synthetic_report(X_tr, y_tr, X_un, y_un, max_samples=10, random_state=0)
    assert r1.rows == r2.rows
    assert row_of(r1, 0)["n_generated"] == int(np.sum(y_un == 0))  # counts are not subsampled
    fidelity = row_of(r1, 0)["fidelity"]
    assert round(fidelity * 10) == fidelity * 10  # evaluated on 10 rows


def test_report_object_outputs(digits, tmp_path):
    X_tr, y_tr, _, _, X_un, y_un = digits
    copies = X_tr[y_tr == 9][:20]
    X_syn = np.concatenate([X_un[y_un < 9], copies])
    y_syn = np.concatenate([y_un[y_un < 9], [9] * 20])
    report = quiet(synthetic_report, X_tr, y_tr, X_syn, y_syn, random_state=0)
    frame = report.to_frame()
    assert isinstance(frame, pd.DataFrame) and len(frame) == 10
    assert {"label", "n_real", "n_generated", "fidelity", "novelty", "diversity",
            "copying"} <= set(frame.columns)
    assert "group" not in frame.columns
    assert frame.loc[frame.label == 9, "copying"].item()
    text = str(report)
    lines = text.splitlines()
    assert len(lines) == 12 and len({len(line) for line in lines}) == 1  # aligned
    assert lines[-1].rstrip(" |").endswith("yes")
    assert text == report.to_markdown()
    summary = report.summary
    assert summary["n_strata"] == 10 and summary["n_copying"] == 1
    assert summary["n_generated"] == len(y_syn) and summary["n_real"] == len(y_tr)
    assert summary["novelty"] == pytest.approx(np.mean([r["novelty"] for r in report.rows]))
    assert "copying_=[(9, None)]" in repr(report)
    ax = report.plot()
    assert len(ax.patches) == 30  # three metrics per class
    assert [t.get_color() for t in ax.get_xticklabels()][-1] == "red"
    ax.figure.savefig(tmp_path / "report.png")
    assert (tmp_path / "report.png").read_bytes()[:4] == b"\x89PNG"
    plt.close("all")


def test_report_handles_no_generated_rows(digits):
    X_tr, y_tr, *_ = digits
    report = synthetic_report(X_tr, y_tr, np.empty((0, 64)), np.empty(0, dtype=int))
    assert report.copying_ == [] and report.summary["n_generated"] == 0
    assert np.isnan(report.summary["novelty"])
    assert "-" in str(report)


def test_tiny_stratum_borrows_the_common_scale():
    X_tr = np.array([[0.0, 0.0, 0.0, 1.0], [1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 1.0, 0.0]])
    y_tr = np.array([0, 0, 1])
    report = quiet(synthetic_report, X_tr, y_tr, X_tr[2:] + 0.1, [1], random_state=0)
    row = row_of(report, 1)
    # one training row, no held-out rows: judged on the other class's leave-one-out scale
    assert row["reference"] == "pooled" and row["near_copy_share"] == 1.0 and row["copying"]
    assert row["fidelity"] in (0.0, 1.0)


def test_bad_input_names_the_parameter(digits):
    X_tr, y_tr, X_ho, y_ho, X_un, y_un = digits
    with pytest.raises(ValueError, match="y_train must be 1-D with one entry per row of X_train"):
        synthetic_report(X_tr, y_tr[:-1], X_un, y_un)
    with pytest.raises(ValueError, match="y_syn must be 1-D with one entry per row of X_syn"):
        synthetic_report(X_tr, y_tr, X_un, y_un[:5])
    with pytest.raises(ValueError, match=r"y_syn holds labels that y_train does not: \[10\]"):
        synthetic_report(X_tr, y_tr, X_un[:2], [3, 10])
    with pytest.raises(ValueError, match="X_syn must have the sample shape of X_train"):
        synthetic_report(X_tr, y_tr, X_un[:, :10], y_un)
    with pytest.raises(ValueError, match="groups_syn is None"):
        synthetic_report(X_tr, y_tr, X_un, y_un, groups_train=np.zeros(len(y_tr)))
    with pytest.raises(ValueError, match="groups_train must be 1-D"):
        synthetic_report(X_tr, y_tr, X_un, y_un, groups_train=[0], groups_syn=np.zeros(len(y_un)))
    with pytest.raises(ValueError, match="y_heldout is None"):
        synthetic_report(X_tr, y_tr, X_un, y_un, X_heldout=X_ho)
    with pytest.raises(ValueError, match="X_heldout must have the sample shape"):
        synthetic_report(X_tr, y_tr, X_un, y_un, X_heldout=X_ho[:, :3], y_heldout=y_ho)
    with pytest.raises(ValueError, match="copy_threshold must be a number >= 0; got -1"):
        synthetic_report(X_tr, y_tr, X_un, y_un, copy_threshold=-1)
    with pytest.raises(ValueError, match="max_samples must be an int >= 2; got 1"):
        synthetic_report(X_tr, y_tr, X_un, y_un, max_samples=1)
    with pytest.raises(TypeError, match="classifier must be a fitted classifier"):
        synthetic_report(X_tr, y_tr, X_un, y_un, classifier=object())
    with pytest.raises(ValueError, match="X_train must hold at least one row"):
        synthetic_report(np.empty((0, 64)), [], X_un, y_un)


def test_report_constructor_from_rows():
    rows = [{"label": "cat", "group": None, "n_real": 3, "n_generated": 0, "fidelity": np.nan,
             "novelty": np.nan, "diversity": np.nan, "copying": False}]
    report = SyntheticReport(rows)
    assert report.copying_ == []
    assert "cat" in report.to_markdown()
