"""Logistic regression for the injection probe: full-batch L-BFGS in float64 on one thread (the same
data gives the same weights), classes weighted to equal mass, L2 penalty per feature part."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True, slots=True)
class Features:
    """dense: [n, d] (the model's pooled state, raw); sparse: per row (indices, values) of hashed n-grams."""

    dense: np.ndarray | None
    sparse: list[tuple[np.ndarray, np.ndarray]] | None
    sparse_dim: int = 0

    def rows(self, index: np.ndarray) -> Features:
        dense = None if self.dense is None else self.dense[index]
        sparse = None if self.sparse is None else [self.sparse[i] for i in index]
        return Features(dense, sparse, self.sparse_dim)


@dataclass(frozen=True, slots=True)
class Model:
    mean: np.ndarray | None  # standardization of the dense part
    scale: np.ndarray | None
    w_dense: np.ndarray | None
    w_sparse: np.ndarray | None
    bias: float

    def logits(self, x: Features) -> np.ndarray:
        n = len(x.dense) if x.dense is not None else len(x.sparse or ())
        out = np.full(n, self.bias, np.float64)
        if self.w_dense is not None and x.dense is not None:
            out += ((x.dense - self.mean) / self.scale) @ self.w_dense
        if self.w_sparse is not None and x.sparse is not None:
            out += np.array([float(v @ self.w_sparse[i]) for i, v in x.sparse])
        return out

    def scores(self, x: Features) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logits(x)))


def _csr(sparse: list[tuple[np.ndarray, np.ndarray]], dim: int) -> torch.Tensor:
    crow = np.zeros(len(sparse) + 1, np.int64)
    crow[1:] = np.cumsum([len(i) for i, _ in sparse])
    cols = np.concatenate([i for i, _ in sparse]) if sparse else np.zeros(0, np.int64)
    vals = np.concatenate([v for _, v in sparse]).astype(np.float64) if sparse else np.zeros(0)
    with warnings.catch_warnings():  # "CSR support is in beta" (CSR @ dense is all that is used)
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            torch.from_numpy(crow),
            torch.from_numpy(cols),
            torch.from_numpy(vals),
            (len(sparse), dim),
            check_invariants=True,
        )


def fit(x: Features, y: np.ndarray, l2_dense: float, l2_sparse: float, iters: int = 300) -> Model:
    """Minimize the class-balanced mean log loss + l2/2 * |w|^2 of each part."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _fit(x, y, l2_dense, l2_sparse, iters)
    finally:
        torch.set_num_threads(threads)


def _fit(x: Features, y: np.ndarray, l2_dense: float, l2_sparse: float, iters: int) -> Model:
    yt = torch.from_numpy(y.astype(np.float64))
    pos = float(y.sum())
    weight = torch.where(yt > 0, 0.5 / pos, 0.5 / (len(y) - pos))
    mean = scale = dense = sparse = None
    params: list[torch.Tensor] = []
    if x.dense is not None:
        mean = x.dense.mean(0)
        scale = x.dense.std(0) + 1e-6
        dense = torch.from_numpy(((x.dense - mean) / scale).astype(np.float64))
        w_d = torch.zeros(dense.shape[1], dtype=torch.float64, requires_grad=True)
        params.append(w_d)
    if x.sparse is not None:
        sparse = _csr(x.sparse, x.sparse_dim)
        w_s = torch.zeros(x.sparse_dim, dtype=torch.float64, requires_grad=True)
        params.append(w_s)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    params.append(b)
    opt = torch.optim.LBFGS(
        params,
        lr=1,
        max_iter=iters,
        tolerance_grad=1e-9,
        tolerance_change=1e-12,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        opt.zero_grad()
        z = b.expand(len(y)).clone()
        penalty = torch.zeros((), dtype=torch.float64)
        if dense is not None:
            z = z + dense @ w_d
            penalty = penalty + 0.5 * l2_dense * (w_d @ w_d)
        if sparse is not None:
            z = z + (sparse @ w_s.unsqueeze(1)).squeeze(1)
            penalty = penalty + 0.5 * l2_sparse * (w_s @ w_s)
        loss = (weight * torch.nn.functional.binary_cross_entropy_with_logits(z, yt, reduction="none")).sum()
        loss = loss + penalty
        loss.backward()
        return loss

    opt.step(closure)
    return Model(
        mean,
        scale,
        w_d.detach().numpy().copy() if dense is not None else None,
        w_s.detach().numpy().copy() if sparse is not None else None,
        float(b.detach()),
    )
