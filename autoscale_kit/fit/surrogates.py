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
- `scheffe-quadratic`, `scheffe-cubic`  the classical mixture-experiment polynomials (Scheffé 1958):
                Σ β_i w_i + Σ_{i<j} β_ij w_i w_j (+ Σ_{i<j<k} β_ijk w_i w_j w_k, the special cubic);
                linear least squares, so cheap enough to refit in a bootstrap.
- `transfer-law` a power law in the effective data a validation set sees:
                L(w) = c + k (Σ_i T_i w_i + ε)^(-b), T on the simplex (softmax), c, k, b, ε > 0.
                Substitute domains get similar T_i, so cutting both together costs what it does.
`make_surrogate(name)` builds one by name; `SURROGATES` lists the names.

ARCHITECTURE.md files "the forms used by baselines" under `laws`; these are regressors over whole
mixtures (RegMix, Data Mixing Laws, the benchmark on RegMix's data) rather than DDO's per-domain
fits, so they live here, next to each other, behind one interface.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy.optimize import least_squares

from autoscale_kit.core.errors import UserError

SURROGATES = ("regmix-lightgbm", "linear", "ddo-law", "mixing-law")       # the methods' regressors
SURFACE_FORMS = ("scheffe-quadratic", "scheffe-cubic", "mixing-law", "transfer-law")   # landscape surfaces


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


def _best_start(fun, starts, **options) -> np.ndarray:
    """`least_squares` from each start; the parameters of the lowest cost (the first on ties)."""
    best = None
    for p0 in starts:
        res = least_squares(fun, p0, **options)
        if best is None or float(res.cost) < best[0]:
            best = (float(res.cost), res.x)
    return best[1]


def _quiet(fit):
    """Trial steps of the nonlinear solvers may overflow; that is handled (clipped, rejected), so
    the numpy warnings it raises would only alarm the user."""
    def wrapped(self, X, y):
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return fit(self, X, y)
    wrapped.__doc__ = fit.__doc__
    return wrapped


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

    def __init__(self, huber_delta: float = 0.02, floors: tuple[float, ...] = (0.0, 0.5, 0.8, 0.9, 0.95, 0.98),
                 start: np.ndarray | None = None):
        self.huber_delta = huber_delta
        self.floors = floors  # starting c as fractions of the smallest loss
        self.start = start    # a previous fit's parameters: the only start (bootstrap refits)

    @staticmethod
    def _model(p, X):
        # the exponent is clipped so that a wild trial step of the solver cannot overflow
        return np.exp(p[0]) + np.exp(np.clip(p[1] + X @ p[2:], -50.0, 50.0))

    @staticmethod
    def _jac(p, X):
        z = p[1] + X @ p[2:]
        g = np.exp(np.clip(z, -50.0, 50.0)) * (np.abs(z) < 50)
        return np.column_stack([np.full(len(X), np.exp(p[0])), g, g[:, None] * X])

    @_quiet
    def fit(self, X, y):
        X, y = _check(X, y)
        if (y <= 0).any():
            raise UserError("the mixing law needs positive losses")
        K = X.shape[1]
        if self.start is not None and len(self.start) == K + 2:
            res = least_squares(lambda p: self._model(p, X) - y, np.asarray(self.start, float), loss="huber",
                                jac=lambda p: self._jac(p, X), f_scale=self.huber_delta, max_nfev=100 * (K + 2))
            self.p, self.n_features = res.x, K
            return self
        starts = []
        for q in self.floors:
            c0 = q * y.min()
            A = np.column_stack([np.ones(len(X)), X])
            lin, *_ = np.linalg.lstsq(A, np.log(y - c0), rcond=None)
            starts.append(np.r_[math.log(max(c0, 1e-6)), lin])
        self.p = _best_start(lambda p: self._model(p, X) - y, starts, loss="huber", f_scale=self.huber_delta,
                             jac=lambda p: self._jac(p, X), max_nfev=100 * (K + 2))
        self.n_features = K
        return self

    @property
    def params(self) -> dict:
        return {"c": float(np.exp(self.p[0])), "k": float(np.exp(self.p[1])), "t": self.p[2:].tolist()}

    def predict(self, X) -> np.ndarray:
        X = self._check_predict(X)
        return self._model(self.p, X)


class ScheffeSurrogate(_Surrogate):
    """Scheffé's mixture polynomial (no intercept: it is Σ β_i w_i on the simplex)."""

    name = "scheffe-quadratic"

    def __init__(self, cubic: bool = False):
        self.cubic = cubic
        if cubic:
            self.name = "scheffe-cubic"

    def terms(self, K: int) -> int:
        return K + K * (K - 1) // 2 + (K * (K - 1) * (K - 2) // 6 if self.cubic else 0)

    def _design(self, X):
        K = X.shape[1]
        cols = [X[:, i] for i in range(K)]
        cols += [X[:, i] * X[:, j] for i in range(K) for j in range(i + 1, K)]
        if self.cubic:
            cols += [X[:, i] * X[:, j] * X[:, k] for i in range(K) for j in range(i + 1, K) for k in range(j + 1, K)]
        return np.column_stack(cols)

    def fit(self, X, y):
        X, y = _check(X, y)
        A = self._design(X / X.sum(axis=1, keepdims=True))
        self.coef, *_ = np.linalg.lstsq(A, y, rcond=None)
        self.n_features = X.shape[1]
        return self

    @property
    def params(self) -> dict:
        return {"coef": self.coef.tolist()}

    def predict(self, X) -> np.ndarray:
        X = self._check_predict(X)
        return self._design(X / X.sum(axis=1, keepdims=True)) @ self.coef


class ScheffeCubicSurrogate(ScheffeSurrogate):
    name = "scheffe-cubic"

    def __init__(self):
        super().__init__(cubic=True)


class TransferLawSurrogate(_Surrogate):
    """c + k (T·w + ε)^(-b): one power law in the data a validation set effectively sees.

    p = (log c, log k, log b, log ε, z_1 … z_{K-1}); T = softmax(0, z). Starts: T uniform, and T
    concentrated on each of the domains whose runs reach the lowest losses."""

    name = "transfer-law"

    def __init__(self, start: np.ndarray | None = None):
        self.start = start     # a previous fit's parameters: the only start (bootstrap refits)

    def terms(self, K: int) -> int:
        return K + 3

    @staticmethod
    def _transfer(z):
        e = np.exp(np.clip(np.r_[0.0, z], -30, 30))
        return e / e.sum()

    def _model(self, p, X):
        eff = X @ self._transfer(p[4:]) + np.exp(p[3])
        return np.exp(p[0]) + np.exp(p[1]) * eff ** (-np.exp(np.clip(p[2], -10, 3)))

    def _jac(self, p, X):
        """The model's derivatives in p (analytic: 20× faster than finite differences on 17 domains)."""
        T = self._transfer(p[4:])
        xt = X @ T
        eps = np.exp(p[3])
        eff = xt + eps
        b = np.exp(np.clip(p[2], -10, 3))
        k = np.exp(p[1])
        power = k * eff ** (-b)
        d_eff = -b * power / eff
        J = np.empty((len(X), len(p)))
        J[:, 0] = np.exp(p[0])
        J[:, 1] = power
        J[:, 2] = -np.log(eff) * power * b * (-10 < p[2] < 3)
        J[:, 3] = d_eff * eps
        J[:, 4:] = d_eff[:, None] * T[1:] * (X[:, 1:] - xt[:, None])
        return J

    @_quiet
    def fit(self, X, y):
        X, y = _check(X, y)
        X = X / X.sum(axis=1, keepdims=True)
        if (y <= 0).any():
            raise UserError("the transfer law needs positive losses")
        K = X.shape[1]
        if self.start is not None and len(self.start) == K + 3:
            res = least_squares(lambda p: self._model(p, X) - y, np.asarray(self.start, float),
                                jac=lambda p: self._jac(p, X), max_nfev=60 * (K + 4))
            self.p, self.n_features = res.x, K
            return self
        lo = float(y.min())
        starts = [np.zeros(K - 1)]
        for j in np.argsort([y[X[:, i] >= X[:, i].max() - 1e-9].mean() for i in range(K)])[:2]:
            z = np.full(K, -3.0)
            z[j] = 3.0
            starts.append(z[1:] - z[0])
        p0s = [np.r_[math.log(c_frac * lo), math.log(max(y.mean() - c_frac * lo, 1e-3)), math.log(0.5),
                     math.log(0.05), z0] for z0 in starts for c_frac in (0.5, 0.9)]
        self.p = _best_start(lambda p: self._model(p, X) - y, p0s, jac=lambda p: self._jac(p, X),
                             max_nfev=60 * (K + 4))
        self.n_features = K
        return self

    @property
    def params(self) -> dict:
        return {"c": float(np.exp(self.p[0])), "k": float(np.exp(self.p[1])), "b": float(np.exp(self.p[2])),
                "eps": float(np.exp(self.p[3])), "transfer": self._transfer(self.p[4:]).tolist()}

    def predict(self, X) -> np.ndarray:
        X = self._check_predict(X)
        return self._model(self.p, X / X.sum(axis=1, keepdims=True))


def predict_all(laws, X) -> np.ndarray:
    """Every law's prediction at X, (runs, laws): one matrix product for laws of one surface form
    (what a landscape's minimiser and bootstrap call thousands of times, over tens of validation
    domains), else one law at a time."""
    laws = list(laws)
    kinds = {type(law) for law in laws}
    if len(kinds) != 1 or not laws:
        return np.column_stack([law.predict(X) for law in laws])
    X = laws[0]._check_predict(X)
    if any(law.n_features != X.shape[1] for law in laws):
        raise UserError("the laws were fitted on different numbers of domains")
    kind = kinds.pop()
    if issubclass(kind, ScheffeSurrogate) and len({law.cubic for law in laws}) == 1:
        return laws[0]._design(X / X.sum(axis=1, keepdims=True)) @ np.column_stack([law.coef for law in laws])
    if kind is MixingLawSurrogate:
        P = np.column_stack([law.p for law in laws])                  # (K + 2, laws)
        return np.exp(P[0]) + np.exp(np.clip(P[1] + X @ P[2:], -50.0, 50.0))
    if kind is TransferLawSurrogate:
        P = np.column_stack([law.p for law in laws])
        T = np.column_stack([kind._transfer(law.p[4:]) for law in laws])
        eff = (X / X.sum(axis=1, keepdims=True)) @ T + np.exp(P[3])
        return np.exp(P[0]) + np.exp(P[1]) * eff ** (-np.exp(np.clip(P[2], -10, 3)))
    return np.column_stack([law.predict(X) for law in laws])


_CLASSES = {c.name: c for c in (LightGBMSurrogate, LinearSurrogate, DDOLawSurrogate, MixingLawSurrogate,
                                ScheffeSurrogate, ScheffeCubicSurrogate, TransferLawSurrogate)}


def make_surrogate(name: str, **params) -> _Surrogate:
    if name not in _CLASSES:
        raise UserError(f"unknown surrogate {name!r}; choose one of {', '.join(_CLASSES)}")
    return _CLASSES[name](**params)
