"""Regressors from a mixture (weights on the simplex) to a loss: the surrogates the methods fit.

Each has `fit(X, y)` and `predict(X)`, X of shape (runs, domains) holding weights:
- `lightgbm`    RegMix's regressor: LightGBM gbdt, 1000 rounds, learning rate 0.01, seed 42, no
                early stopping (the official notebook stops early on the *test* set; we do not).
- `linear`      ordinary least squares with an intercept (RegMix's second option).
- `ddo-law`     the separable power law of DDO, fitted jointly on arbitrary mixtures:
                L(w) = c + Σ_i β_i (w_i + a_i)^(-b_i). Variable projection: for given (a, b) the
                best (c, β) is a linear least-squares solve, so only (log a, log b) are searched.
- `mixing-law`  Data Mixing Laws' form L(w) = c + k·exp(Σ_j t_j w_j), fitted with a Huber loss
                from several starts (for each floor c, log(L − c) is linear in w: that gives t).
`make_surrogate(name)` builds one by name; `SURROGATES` lists the names.

ARCHITECTURE.md files "the forms used by baselines" under `laws`; these are regressors over whole
mixtures (RegMix, Data Mixing Laws, the benchmark on RegMix's data) rather than DDO's per-domain
fits, so they live here, next to each other, behind one interface.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import least_squares

from autoscale_kit.errors import UserError

SURROGATES = ("regmix-lightgbm", "linear", "ddo-law", "mixing-law")


def _check(X, y=None) -> tuple[np.ndarray, np.ndarray | None]:
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise UserError(f"mixtures must be a non-empty 2-D array (runs × domains), got shape {X.shape}")
    if not np.all(np.isfinite(X)) or (X < 0).any():
        raise UserError("mixture weights must be finite and non-negative")
    if y is None:
        return X, None
    y = np.asarray(y, dtype=float).ravel()
    if len(y) != len(X):
        raise UserError(f"{len(X)} mixtures but {len(y)} losses")
    if not np.all(np.isfinite(y)):
        raise UserError("losses must be finite numbers (a NaN or inf is in the data)")
    return X, y


class _Surrogate:
    name = ""
    n_features: int | None = None

    def _check_predict(self, X) -> np.ndarray:
        if self.n_features is None:
            raise UserError(f"the {self.name} surrogate is not fitted yet; call fit(X, y) first")
        X, _ = _check(X)
        if X.shape[1] != self.n_features:
            raise UserError(f"fitted on {self.n_features} domains, asked to predict with {X.shape[1]}")
        return X


class LightGBMSurrogate(_Surrogate):
    name = "regmix-lightgbm"

    def __init__(self, n_estimators: int = 1000, learning_rate: float = 0.01, seed: int = 42, **params):
        self.rounds = n_estimators
        self.params = dict(objective="regression", boosting_type="gbdt", metric=["l1", "l2"],
                           learning_rate=learning_rate, seed=seed, verbose=-1, num_threads=1,
                           deterministic=True, **params)

    def fit(self, X, y):
        try:
            import lightgbm as lgb
        except (ImportError, OSError) as exc:  # OSError: the system lacks libgomp (apt install libgomp1)
            raise UserError(f"RegMix's regressor needs LightGBM, which failed to load ({exc}); pip install "
                            "'lightgbm>=4' (on Linux it also needs libgomp1), or use the 'linear' surrogate") from None
        X, y = _check(X, y)
        self.model = lgb.train(self.params, lgb.Dataset(X, y), num_boost_round=self.rounds)
        self.n_features = X.shape[1]
        return self

    def predict(self, X) -> np.ndarray:
        X = self._check_predict(X)
        return np.asarray(self.model.predict(X), dtype=float)


class LinearSurrogate(_Surrogate):
    name = "linear"

    def fit(self, X, y):
        X, y = _check(X, y)
        A = np.column_stack([np.ones(len(X)), X])
        self.coef, *_ = np.linalg.lstsq(A, y, rcond=None)  # minimum norm: weights sum to 1
        self.n_features = X.shape[1]
        return self

    def predict(self, X) -> np.ndarray:
        X = self._check_predict(X)
        return self.coef[0] + X @ self.coef[1:]


class DDOLawSurrogate(_Surrogate):
    """c + Σ_i β_i (w_i + a_i)^(-b_i) with a_i > 0, b_i > 0; β_i free in sign."""

    name = "ddo-law"

    def __init__(self, starts: tuple[tuple[float, float], ...] = ((0.01, 0.5), (0.1, 0.5), (0.03, 1.0), (0.3, 0.3))):
        self.starts = starts

    @staticmethod
    def _basis(X, log_a, log_b):
        return (X + np.exp(log_a)) ** (-np.exp(log_b))

    def _linear(self, X, y, log_a, log_b):
        A = np.column_stack([np.ones(len(X)), self._basis(X, log_a, log_b)])
        lin, *_ = np.linalg.lstsq(A, y, rcond=None)
        return lin, A @ lin - y

    def fit(self, X, y):
        X, y = _check(X, y)
        K = X.shape[1]
        bounds = (np.r_[np.full(K, math.log(1e-4)), np.full(K, math.log(0.01))],
                  np.r_[np.full(K, math.log(10.0)), np.full(K, math.log(5.0))])
        best = None
        for a0, b0 in self.starts:
            p0 = np.r_[np.full(K, math.log(a0)), np.full(K, math.log(b0))]
            res = least_squares(lambda p: self._linear(X, y, p[:K], p[K:])[1], p0, bounds=bounds,
                                x_scale=1.0, max_nfev=200 * (2 * K + 1))
            sse = float(np.sum(res.fun ** 2))
            if best is None or sse < best[0]:
                best = (sse, res.x)
        p = best[1]
        self.log_a, self.log_b = p[:K], p[K:]
        lin, _ = self._linear(X, y, self.log_a, self.log_b)
        self.c, self.beta = float(lin[0]), lin[1:]
        self.n_features = K
        return self

    @property
    def params(self) -> dict:
        return {"c": self.c, "beta": self.beta.tolist(), "a": np.exp(self.log_a).tolist(),
                "b": np.exp(self.log_b).tolist()}

    def predict(self, X) -> np.ndarray:
        X = self._check_predict(X)
        return self.c + self._basis(X, self.log_a, self.log_b) @ self.beta


class MixingLawSurrogate(_Surrogate):
    """L(w) = c + k·exp(t·w) (Ye et al.), c ≥ 0 and k > 0 kept positive through logs."""

    name = "mixing-law"

    def __init__(self, huber_delta: float = 0.02, floors: tuple[float, ...] = (0.0, 0.5, 0.8, 0.9, 0.95, 0.98)):
        self.huber_delta = huber_delta
        self.floors = floors  # starting c as fractions of the smallest loss

    @staticmethod
    def _model(p, X):
        # the exponent is clipped so that a wild trial step of the solver cannot overflow
        return np.exp(p[0]) + np.exp(np.clip(p[1] + X @ p[2:], -50.0, 50.0))

    def fit(self, X, y):
        X, y = _check(X, y)
        if (y <= 0).any():
            raise UserError("the mixing law needs positive losses")
        K = X.shape[1]
        best = None
        for q in self.floors:
            c0 = q * y.min()
            A = np.column_stack([np.ones(len(X)), X])
            lin, *_ = np.linalg.lstsq(A, np.log(y - c0), rcond=None)
            p0 = np.r_[math.log(max(c0, 1e-6)), lin]
            res = least_squares(lambda p: self._model(p, X) - y, p0, loss="huber", f_scale=self.huber_delta,
                                max_nfev=100 * (K + 2))
            cost = float(res.cost)
            if best is None or cost < best[0]:
                best = (cost, res.x)
        self.p = best[1]
        self.n_features = K
        return self

    @property
    def params(self) -> dict:
        return {"c": float(np.exp(self.p[0])), "k": float(np.exp(self.p[1])), "t": self.p[2:].tolist()}

    def predict(self, X) -> np.ndarray:
        X = self._check_predict(X)
        return self._model(self.p, X)


_CLASSES = {c.name: c for c in (LightGBMSurrogate, LinearSurrogate, DDOLawSurrogate, MixingLawSurrogate)}


def make_surrogate(name: str, **params) -> _Surrogate:
    if name not in _CLASSES:
        raise UserError(f"unknown surrogate {name!r}; choose one of {', '.join(SURROGATES)}")
    return _CLASSES[name](**params)
