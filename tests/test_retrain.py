"""RetrainClassifier: head-only re-training on balanced original rows (cRT / DFR)."""

import doctest
import warnings

import numpy as np
import pytest
import sklearn
import torch
from imblearn.base import BaseSampler
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.pipeline import Pipeline
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    cross_validate,
    train_test_split,
)
from sklearn.preprocessing import FunctionTransformer, StandardScaler

import synaug_learn
from synaug_learn import _retrain
from synaug_learn._retrain import RetrainClassifier
from synaug_learn.nets import MixupNetClassifier


def long_tailed_digits(seed=0, imbalance_factor=10, n_max=100):
    """Digits, 60/40 split; class i keeps floor(n_max * IF**(-i/9)) training rows."""
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.4, stratify=y, random_state=seed)
    rng = np.random.RandomState(seed)
    keep = np.concatenate([
        rng.choice(np.flatnonzero(ytr == c), int(n_max * imbalance_factor ** (-c / 9)),
                   replace=False)
        for c in range(10)
    ])
    keep.sort()
    return Xtr[keep], ytr[keep], Xte, yte


@pytest.fixture(scope="module")
def lt():
    return long_tailed_digits()


def _net(**kw):
    return MixupNetClassifier(**{"max_epochs": 10, "mixup_alpha": 0.0, "random_state": 0, **kw})


def test_improves_balanced_accuracy_and_changes_only_the_head(lt):
    Xtr, ytr, Xte, yte = lt
    base = _net().fit(Xtr, ytr)
    before = {k: v.clone() for k, v in base.module_.state_dict().items()}
    for seed in (0, 1):
        model = RetrainClassifier(_net(), random_state=seed).fit(Xtr, ytr)
        after = model.estimator_.module_.state_dict()
        for k, v in before.items():  # conv weights and BatchNorm statistics untouched
            if k.startswith("head."):
                assert not torch.allclose(v, after[k])
            else:
                torch.testing.assert_close(v, after[k], rtol=0, atol=0, msg=k)
        gain = (balanced_accuracy_score(yte, model.predict(Xte))
                - balanced_accuracy_score(yte, base.predict(Xte)))
        assert gain > 0.05, gain
        assert model.n_retrain_rows_ == 10 * 10  # smallest class has 10 rows
        assert all(drawn == 10 for _, drawn in model.stratum_counts_.values())


def test_head_weights_are_the_logistic_regression(lt):
    """The folded head predicts exactly what the logistic regression predicts on the features."""
    Xtr, ytr, _, _ = lt
    for classes in (np.arange(10), np.array([0, 7])):  # multi-class and binary
        mask = np.isin(ytr, classes)
        model = RetrainClassifier(_net(max_epochs=2), C=0.5, random_state=0)
        model.fit(Xtr[mask], ytr[mask])
        net = model.estimator_
        rows = Xtr[mask][model.retrain_indices_]
        net.module_.eval()
        with torch.no_grad():
            feats = net.module_.features(net.get_dataset(rows).X).numpy().astype(np.float64)
        scaler = StandardScaler().fit(feats)
        lr = LogisticRegression(C=0.5, class_weight="balanced", max_iter=1000)
        lr.fit(scaler.transform(feats), ytr[mask][model.retrain_indices_])
        rng = np.random.RandomState(0)
        grid = rng.normal(feats.mean(0), feats.std(0) * 2, (200, feats.shape[1]))
        with torch.no_grad():
            logits = net.module_.head(torch.as_tensor(grid, dtype=torch.float32)).numpy()
        np.testing.assert_array_equal(net.classes_[logits.argmax(1)],
                                      lr.predict(scaler.transform(grid)))


def _poison(X, y):
    """Append 200 rows of garbage pixels (value 99) with wrong labels, as a bad generator would."""
    rng = np.random.RandomState(0)
    return (np.concatenate([X, np.full((200, X.shape[1]), 99.0)]),
            np.concatenate([y, rng.randint(0, 10, 200)]))


def test_uses_only_original_rows(lt, monkeypatch):
    from imblearn import FunctionSampler

    Xtr, ytr, _, _ = lt
    seen = []
    real_extract = _retrain._extract_features

    def spy(net, head, X):
        seen.append(np.asarray(X))
        return real_extract(net, head, X)

    monkeypatch.setattr(_retrain, "_extract_features", spy)
    pipe = Pipeline([("poison", FunctionSampler(func=_poison, validate=False)),
                     ("clf", _net(max_epochs=2))])
    model = RetrainClassifier(pipe, random_state=0).fit(Xtr, ytr)
    assert model.retrain_indices_.max() < len(ytr)
    assert len(seen[-1]) == model.n_retrain_rows_ == 100
    assert seen[-1].max() <= 16  # no garbage row reached the head fit
    np.testing.assert_array_equal(seen[-1], Xtr[model.retrain_indices_])

    resampled = RetrainClassifier(pipe, rows="resampled", random_state=0).fit(Xtr, ytr)
    assert resampled.retrain_indices_.max() >= len(ytr)  # the poisoned rows are in its pool
    assert seen[-1].max() == 99


def test_rows_resampled_draws_from_what_the_net_saw(lt):
    Xtr, ytr, _, _ = lt
    pipe = Pipeline([("ros", RandomOverSampler(random_state=0)), ("clf", _net(max_epochs=2))])
    model = RetrainClassifier(pipe, rows="resampled", random_state=0).fit(Xtr, ytr)
    # after oversampling every class has 100 rows, so the balanced draw takes all of them
    assert model.n_retrain_rows_ == 1000
    assert sorted(model.retrain_indices_.tolist()) == list(range(1000))


def test_rows_resampled_leaves_the_net_as_configured(lt):
    Xtr, ytr, _, _ = lt
    pipe = Pipeline([("ros", RandomOverSampler(random_state=0)), ("clf", _net(max_epochs=1))])
    model = RetrainClassifier(pipe, rows="resampled", random_state=0).fit(Xtr, ytr)
    net = model.estimator_.named_steps["clf"]
    assert "fit" not in vars(net)  # no method swapped on the instance
    assert net.callbacks is None  # the recording callback is gone again
    assert _retrain._RECORDER not in dict(net.callbacks_)
    with pytest.raises(ValueError, match="callbacks='disable'"):
        RetrainClassifier(Pipeline([("ros", RandomOverSampler()),
                                    ("clf", _net(callbacks="disable"))]),
                          rows="resampled").fit(Xtr, ytr)


class _FcNet(torch.nn.Module):
    """A custom module whose head is called ``fc``, declared through ``head_name``."""

    head_name = "fc"

    def __init__(self, in_channels=1, num_classes=10):
        super().__init__()
        self.conv = torch.nn.Conv2d(in_channels, 8, 3, padding=1)
        self.fc = torch.nn.Linear(8, num_classes)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))


def test_custom_module_declares_its_head(lt):
    Xtr, ytr, _, _ = lt
    base = _net(module=_FcNet, max_epochs=3).fit(Xtr, ytr)
    assert base.head_ is base.module_.fc
    before = {k: v.clone() for k, v in base.module_.state_dict().items()}
    model = RetrainClassifier(_net(module=_FcNet, max_epochs=3), random_state=0).fit(Xtr, ytr)
    assert model.head_name_ == "fc"
    after = model.estimator_.module_.state_dict()
    for k, v in before.items():
        if k.startswith("fc."):
            assert not torch.allclose(v, after[k])
        else:
            torch.testing.assert_close(v, after[k], rtol=0, atol=0, msg=k)


def test_module_without_head_name_is_a_clear_error_before_training(lt):
    Xtr, ytr, _, _ = lt

    class Unnamed(_FcNet):
        head_name = None

    model = RetrainClassifier(_net(module=Unnamed(), max_epochs=1))
    with pytest.raises(TypeError, match="add the class attribute `head_name = "):
        model.fit(Xtr, ytr)
    assert not hasattr(model, "estimator_")  # nothing was trained
    # a module given as a class is checked once it is built
    with pytest.raises(TypeError, match="head_name"):
        RetrainClassifier(_net(module=Unnamed, max_epochs=1)).fit(Xtr, ytr)

    class WrongName(_FcNet):
        head_name = "conv"

    with pytest.raises(TypeError, match="head_name='conv'.*not a torch.nn.Linear"):
        RetrainClassifier(_net(module=WrongName(), max_epochs=1)).fit(Xtr, ytr)


def test_transformers_before_the_net_are_applied_to_original_rows(lt):
    Xtr, ytr, Xte, yte = lt
    pipe = Pipeline([("scale", FunctionTransformer(lambda X: X / 16.0)),
                     ("smote", SMOTE(k_neighbors=3, random_state=0)),
                     ("clf", _net(max_epochs=3))])
    model = RetrainClassifier(pipe, random_state=0).fit(Xtr, ytr)
    assert model.score(Xte, yte) > 0.5
    np.testing.assert_allclose(model.predict_proba(Xte[:5]).sum(1), 1.0, rtol=1e-5)


def test_torch_head(lt):
    Xtr, ytr, Xte, yte = lt
    base = _net().fit(Xtr, ytr)
    model = RetrainClassifier(_net(), head="torch", random_state=0).fit(Xtr, ytr)
    gain = (balanced_accuracy_score(yte, model.predict(Xte))
            - balanced_accuracy_score(yte, base.predict(Xte)))
    assert gain > 0.05, gain


def test_group_balance_and_small_strata_warning(lt):
    Xtr, ytr, _, _ = lt
    groups = np.where(np.arange(len(ytr)) % 3 == 0, "a", "b")
    with pytest.warns(UserWarning, match="min_per_stratum=5"):
        model = RetrainClassifier(_net(max_epochs=1), balance="group", random_state=0)
        model.fit(Xtr, ytr, groups=groups)
    assert len(model.stratum_counts_) == 20
    n_min = min(avail for avail, _ in model.stratum_counts_.values())
    assert all(drawn == n_min for _, drawn in model.stratum_counts_.values())
    assert model.n_retrain_rows_ == 20 * n_min
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        RetrainClassifier(_net(max_epochs=1), min_per_stratum=2, random_state=0).fit(Xtr, ytr)


def test_bad_input_names_the_parameter(lt):
    Xtr, ytr, _, _ = lt
    with pytest.raises(ValueError, match="groups"):
        RetrainClassifier(_net(max_epochs=1), balance="group").fit(Xtr, ytr)
    with pytest.raises(ValueError, match="strata"):
        RetrainClassifier(_net(max_epochs=1), balance="group").fit(
            Xtr, ytr, groups=np.arange(len(ytr)))
    with pytest.raises(ValueError, match="balance"):
        RetrainClassifier(_net(max_epochs=1), balance="cells").fit(Xtr, ytr)
    with pytest.raises(ValueError, match="rows"):
        RetrainClassifier(_net(max_epochs=1), rows="synthetic").fit(Xtr, ytr)
    with pytest.raises(TypeError, match="estimator"):
        RetrainClassifier(LogisticRegression()).fit(Xtr, ytr)

    class NoHead(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 10, 8)

        def forward(self, x):
            return self.conv(x).flatten(1)

    with pytest.raises(TypeError, match="estimator"):
        RetrainClassifier(_net(module=NoHead(), max_epochs=1)).fit(Xtr, ytr)

    class HeadNotLast(torch.nn.Module):
        head_name = "head"

        def __init__(self):
            super().__init__()
            self.head = torch.nn.Linear(64, 10)

        def forward(self, x):
            return torch.tanh(self.head(x.flatten(1)))

    with pytest.raises(TypeError, match="last layer"):
        RetrainClassifier(_net(module=HeadNotLast, max_epochs=1)).fit(Xtr, ytr)


def test_clone_grid_search_and_cross_validate(lt):
    Xtr, ytr, _, _ = lt
    pipe = Pipeline([("ros", RandomOverSampler(random_state=0)),
                     ("clf", MixupNetClassifier(max_epochs=1, random_state=0))])
    model = RetrainClassifier(pipe, random_state=0)
    twin = clone(model)
    assert twin.get_params()["estimator__clf__mixup_alpha"] == 1.0
    twin.set_params(estimator__clf__mixup_alpha=0.5, n_per_stratum=3)
    assert twin.estimator.named_steps["clf"].mixup_alpha == 0.5
    assert model.estimator.named_steps["clf"].mixup_alpha == 1.0
    search = GridSearchCV(model, {"estimator__clf__mixup_alpha": [0.0, 1.0]}, cv=2)
    search.fit(Xtr, ytr)
    assert set(search.cv_results_["param_estimator__clf__mixup_alpha"]) == {0.0, 1.0}
    assert search.predict(Xtr[:4]).shape == (4,)
    scores = cross_validate(model, Xtr, ytr, cv=2)  # each fold fits a clone: as by hand
    train, test = next(StratifiedKFold(2).split(Xtr, ytr))
    by_hand = clone(model).fit(Xtr[train], ytr[train]).score(Xtr[test], ytr[test])
    assert scores["test_score"][0] == pytest.approx(by_hand)
    assert scores["test_score"].min() > 0.6  # ~0.88 (one epoch, then the head re-trained)


def test_string_labels_without_sampler(lt):
    Xtr, ytr, Xte, yte = lt
    names = np.array([f"digit-{k}" for k in range(10)])
    model = RetrainClassifier(_net(max_epochs=2), random_state=0).fit(Xtr, names[ytr])
    assert model.classes_.tolist() == sorted(names.tolist())
    assert set(model.predict(Xte[:30])) <= set(names)


class RecordingSampler(BaseSampler):
    """Passes rows through and records the groups it was given."""

    _sampling_type = "bypass"
    _parameter_constraints = {}

    def fit_resample(self, X, y, groups=None):
        self.groups_seen_ = groups
        return X, y

    def _fit_resample(self, X, y):
        return X, y


def test_metadata_routing_reaches_the_sampler_and_the_group_balance(lt):
    Xtr, ytr, _, _ = lt
    groups = np.arange(len(ytr)) % 2
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = Pipeline([
            ("rec", RecordingSampler().set_fit_resample_request(groups=True)),
            ("clf", _net(max_epochs=1)),
        ])
        model = RetrainClassifier(pipe, balance="group", min_per_stratum=0, random_state=0)
        model.fit(Xtr, ytr, groups=groups)
        np.testing.assert_array_equal(model.estimator_.named_steps["rec"].groups_seen_, groups)
        assert set(model.stratum_counts_) == {(c, g) for c in range(10) for g in (0, 1)}
        # not requested: the sampler gets nothing, RetrainClassifier still balances groups
        pipe.set_params(rec=RecordingSampler().set_fit_resample_request(groups=False))
        model = RetrainClassifier(pipe, balance="group", min_per_stratum=0, random_state=0)
        model.fit(Xtr, ytr, groups=groups)
        assert model.estimator_.named_steps["rec"].groups_seen_ is None
        assert len(model.stratum_counts_) == 20
        # inside cross_validate the groups reach both once requested
        pipe.set_params(rec=RecordingSampler().set_fit_resample_request(groups=True))
        model = RetrainClassifier(pipe, balance="group", min_per_stratum=0,
                                  random_state=0).set_fit_request(groups=True)
        cross_validate(model, Xtr, ytr, params={"groups": groups}, cv=2)


def test_without_routing_warns_that_groups_stay_outside_the_pipeline(lt):
    Xtr, ytr, _, _ = lt
    pipe = Pipeline([("rec", RecordingSampler()), ("clf", _net(max_epochs=1))])
    with pytest.warns(UserWarning, match="enable_metadata_routing"):
        RetrainClassifier(pipe, balance="group", min_per_stratum=0).fit(
            Xtr, ytr, groups=np.arange(len(ytr)) % 2)


def test_groups_reach_a_bare_group_dro_net_without_routing(lt):
    Xtr, ytr, _, _ = lt
    groups = np.arange(len(ytr)) % 2
    model = RetrainClassifier(_net(max_epochs=1, loss="group_dro"), balance="group",
                              min_per_stratum=0, random_state=0).fit(Xtr, ytr, groups=groups)
    assert model.estimator_.groups_.tolist() == [0, 1]


def test_docstring_example():
    if not hasattr(synaug_learn, "RetrainClassifier"):
        pytest.skip("synaug_learn does not export RetrainClassifier yet")
    result = doctest.testmod(_retrain, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_grid_search_fill_ratio_through_retrain_with_synaug():
    """The issue's composition: a search over the sampler's fill_ratio, head re-trained."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV

    from synaug_learn import SynAugSampler
    from synaug_learn.generators import JitterGenerator

    X, y = load_digits(return_X_y=True)
    keep = np.concatenate([np.flatnonzero(y == c)[: (50 if c < 5 else 12)] for c in range(10)])
    X, y = X[keep].reshape(-1, 8, 8), y[keep]
    model = RetrainClassifier(Pipeline([
        ("synaug", SynAugSampler(generator=JitterGenerator(), report=False, random_state=0)),
        ("clf", MixupNetClassifier(max_epochs=3, random_state=0)),
    ]), random_state=0)
    search = GridSearchCV(model, {"estimator__synaug__fill_ratio": [0.5, 1.0]}, cv=2)
    search.fit(X, y)
    assert search.best_params_["estimator__synaug__fill_ratio"] in (0.5, 1.0)
    best = search.best_estimator_
    sampler = best.estimator_.named_steps["synaug"]
    assert sampler.synthetic_mask_.sum() > 0
    assert best.n_retrain_rows_ == 10 * 12  # balanced over the real rows: smallest class x 10
    assert best.score(X, y) > 0.5


def test_crt_samples_every_real_row_class_balanced(lt):
    """cRT (Kang et al.): all rows, class-balanced sampling, head re-initialised and trained."""
    Xtr, ytr, Xte, yte = lt
    base = _net().fit(Xtr, ytr)
    model = RetrainClassifier(_net(), method="crt", crt_epochs=10, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the small-strata warning
        model.fit(Xtr, ytr)
    n = len(ytr)
    assert model.n_retrain_rows_ == n and np.array_equal(np.sort(model.retrain_indices_),
                                                         np.arange(n))
    assert all(avail == drawn for avail, drawn in model.stratum_counts_.values())
    w = model.sampling_weights_[np.argsort(model.retrain_indices_)]
    assert (w > 0).all() and w.sum() == pytest.approx(1.0)
    per_class = [w[ytr == c].sum() for c in range(10)]
    np.testing.assert_allclose(per_class, 0.1)  # each class drawn equally often
    assert model.draw_counts_.sum() == 10 * n
    drawn = model.draw_counts_[np.argsort(model.retrain_indices_)]
    rare, common = ytr == 9, ytr == 0
    assert drawn[rare].mean() > 5 * drawn[common].mean()  # 100 vs 10 rows
    # balanced predictions: the rare classes are predicted about as often as they occur
    pred = model.predict(Xte)
    shares = np.bincount(pred, minlength=10) / len(pred)
    assert shares.min() > 0.04, shares
    gain = (balanced_accuracy_score(yte, pred)
            - balanced_accuracy_score(yte, base.predict(Xte)))
    assert gain > 0.03, gain
    # the subsample method leaves these unset and uses fewer rows
    sub = RetrainClassifier(_net(max_epochs=1), random_state=0).fit(Xtr, ytr)
    assert sub.sampling_weights_ is None and sub.n_retrain_rows_ == 100 < n


def test_crt_bad_values_and_grid():
    assert "method" in RetrainClassifier(_net()).get_params()
    X, y = load_digits(return_X_y=True)
    for params, match in [({"method": "dfr"}, "method"), ({"crt_epochs": 0}, "crt_epochs"),
                          ({"crt_batch_size": 0}, "crt_batch_size")]:
        with pytest.raises(ValueError, match=match):
            RetrainClassifier(_net(), **params).fit(X[:50], y[:50])
