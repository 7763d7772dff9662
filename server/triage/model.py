"""The statistical half of triage: multinomial logistic regression over word unigrams and bigrams, character
3-5-grams inside words (robust to typos: "streetlite", "graffitti") and the taxonomy's keyword hits.

Training (``train``) is class-balanced, so every category is learned equally well from however many examples it
has; the deployment's category mix comes back at prediction time as a log-prior (``prior_weight`` × log share of
each category among the rows marked ``mix`` = 1), and the logits are divided by a temperature fitted on a dev
split (``groundcrew eval triage-dev``), so the top probability is a usable confidence. Pure numpy + scipy
(L-BFGS on sparse features), deterministic, no network."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import sparse
from scipy.optimize import minimize

_DIGITS = re.compile(r"^\d[\d']*$")
CHAR_NGRAMS = (3, 4, 5)
# Keyword hit scores enter the model scaled by this (they are ~1.0-2.0 per matched phrase).
KEYWORD_SCALE = 0.5
# Features seen in fewer documents than this are dropped (street names, one-off typos), except keyword words.
MIN_DOC_FREQ = 2


def _norm_token(tok: str) -> str:
    return "#" if _DIGITS.match(tok) else tok


def word_features(tokens: list[str]) -> list[str]:
    """Unigrams and bigrams (numbers collapsed to '#'), each once."""
    toks = [_norm_token(t) for t in tokens]
    feats = dict.fromkeys(["w:" + t for t in toks] + [f"b:{a} {b}" for a, b in itertools.pairwise(toks)])
    return list(feats)


def char_features(token: str) -> list[str]:
    """Character n-grams of one padded word (none for numbers)."""
    if _DIGITS.match(token):
        return []
    padded = f"<{token}>"
    return ["c:" + padded[i:i + n] for n in CHAR_NGRAMS for i in range(len(padded) - n + 1)]


@dataclass
class LogReg:
    """Trained weights and what prediction needs."""

    vocab: dict[str, int]
    weights: np.ndarray  # [features + categories (keyword block), categories]
    bias: np.ndarray  # [categories]
    log_prior: np.ndarray  # [categories], log share of each category in the deployment's mix
    trained_rows: int
    temperature: float = 1.0
    prior_weight: float = 1.0
    _char_cache: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def n_features(self) -> int:
        return len(self.vocab)

    def _chars(self, token: str) -> np.ndarray:
        cached = self._char_cache.get(token)
        if cached is None:
            cached = np.array([i for f in char_features(token) if (i := self.vocab.get(f)) is not None], dtype=np.intp)
            if len(self._char_cache) < 200_000:
                self._char_cache[token] = cached
        return cached

    def known_words(self, tokens: list[str]) -> list[str]:
        """The word features of these tokens that the model knows."""
        return [f for f in word_features(tokens) if f in self.vocab]

    def logits(self, tokens: list[str], keyword_scores: np.ndarray, *, known: list[str] | None = None) -> np.ndarray:
        """Raw class scores (before temperature and prior); ``known``: ``known_words(tokens)`` if already made."""
        out = self.bias.copy()
        vocab = self.vocab
        widx = [vocab[f] for f in (self.known_words(tokens) if known is None else known)]
        if widx:
            out += self.weights[widx].sum(axis=0) / np.sqrt(len(widx))
        parts = [self._chars(t) for t in tokens]
        cidx = np.concatenate(parts) if parts else np.empty(0, dtype=np.intp)
        if cidx.size:
            _, counts = np.unique(cidx, return_counts=True)
            out += self.weights[cidx].sum(axis=0) / np.sqrt(float((counts * counts).sum()))
        if keyword_scores.any():
            out += (KEYWORD_SCALE * keyword_scores) @ self.weights[self.n_features:]
        return out

    def probabilities(self, tokens: list[str], keyword_scores: np.ndarray, *, evidence: float = 1.0,
                      known: list[str] | None = None) -> np.ndarray:
        """Calibrated class probabilities: softmax(logits / temperature + prior_weight · log prior). ``evidence``
        < 1 shrinks what the words say toward the prior (a one- or two-word text says little: the normalised
        features would otherwise make "broken" as decisive as a full sentence)."""
        z = self.logits(tokens, keyword_scores, known=known)
        z = evidence * z / self.temperature + self.prior_weight * self.log_prior
        z = np.exp(z - z.max())
        return z / z.sum()


def _row(vocab: dict[str, int], tokens: list[str]) -> tuple[list[int], list[float]]:
    widx = sorted({vocab[f] for f in word_features(tokens) if f in vocab})
    counts: dict[int, int] = {}
    for t in tokens:
        for f in char_features(t):
            i = vocab.get(f)
            if i is not None:
                counts[i] = counts.get(i, 0) + 1
    cols = widx + list(counts)
    vals = [1 / np.sqrt(len(widx))] * len(widx) if widx else []
    if counts:
        norm = np.sqrt(sum(c * c for c in counts.values()))
        vals += [c / norm for c in counts.values()]
    return cols, vals


def design_matrix(vocab: dict[str, int], docs: list[list[str]], keyword_scores: np.ndarray) -> sparse.csr_matrix:
    """Sparse features of tokenised documents (same values ``LogReg.logits`` uses), keyword block last."""
    n_feat, n_cat = len(vocab), keyword_scores.shape[1]
    indptr, indices, data = [0], [], []
    for d, tokens in enumerate(docs):
        cols, vals = _row(vocab, tokens)
        kw = np.nonzero(keyword_scores[d])[0]
        cols += [n_feat + int(k) for k in kw]
        vals += [KEYWORD_SCALE * float(keyword_scores[d, k]) for k in kw]
        indices += cols
        data += vals
        indptr.append(len(indices))
    return sparse.csr_matrix((np.array(data), np.array(indices, dtype=np.int64), np.array(indptr)),
                             shape=(len(docs), n_feat + n_cat))


def build_vocab(docs: list[list[str]], protected: set[str]) -> dict[str, int]:
    """Features seen in at least MIN_DOC_FREQ documents (or ``protected``), in first-seen order."""
    df: dict[str, int] = {}
    for tokens in docs:
        feats = set(word_features(tokens))
        for t in set(tokens):
            feats.update(char_features(t))
        for f in feats:
            df[f] = df.get(f, 0) + 1
    keep = [f for f, n in df.items() if n >= MIN_DOC_FREQ or f in protected]
    return {f: i for i, f in enumerate(keep)}


def train(docs: list[list[str]], labels: np.ndarray, keyword_scores: np.ndarray, n_cat: int, *,
          mix_counts: np.ndarray, protected: set[str], l2: float = 3e-4, max_iter: int = 250,
          temperature: float = 1.0, prior_weight: float = 1.0) -> LogReg:
    """Class-balanced multinomial logistic regression (L2, L-BFGS). ``mix_counts``: rows per category in the
    deployment's real mix (add-one smoothed into the log-prior)."""
    vocab = build_vocab(docs, protected)
    x = design_matrix(vocab, docs, keyword_scores)
    y = np.asarray(labels, dtype=np.intp)
    per_class = np.bincount(y, minlength=n_cat).astype(float)
    present = per_class > 0
    sample_w = (1.0 / per_class[y]) / present.sum()  # each present category weighs 1/K in total
    onehot = np.zeros((len(y), n_cat))
    onehot[np.arange(len(y)), y] = 1.0
    n_w = x.shape[1]
    xt = x.T.tocsr()

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w = theta[:n_w * n_cat].reshape(n_w, n_cat)
        b = theta[n_w * n_cat:]
        z = x @ w + b
        z -= z.max(axis=1, keepdims=True)
        ez = np.exp(z)
        lse = np.log(ez.sum(axis=1))
        loss = float(sample_w @ (lse - z[np.arange(len(y)), y])) + 0.5 * l2 * float((w * w).sum())
        g = (ez / ez.sum(axis=1, keepdims=True) - onehot) * sample_w[:, None]
        grad_w = xt @ g + l2 * w
        return loss, np.concatenate([grad_w.ravel(), g.sum(axis=0)])

    theta0 = np.zeros(n_w * n_cat + n_cat)
    result = minimize(objective, theta0, jac=True, method="L-BFGS-B",
                      options={"maxiter": max_iter, "gtol": 1e-6, "ftol": 1e-10})
    theta = result.x
    log_prior = np.log((mix_counts + 1.0) / (mix_counts + 1.0).sum())
    return LogReg(vocab=vocab, weights=theta[:n_w * n_cat].reshape(n_w, n_cat).copy(), bias=theta[n_w * n_cat:].copy(),
                  log_prior=log_prior, trained_rows=len(y), temperature=temperature, prior_weight=prior_weight)


def save(model: LogReg, path: Path, *, fingerprint: str) -> None:
    """Write the trained weights (float16, compressed) with the fingerprint of what they were trained on."""
    names = sorted(model.vocab, key=model.vocab.__getitem__)
    np.savez_compressed(path, vocab=np.array(names), weights=model.weights.astype(np.float16),
                        bias=model.bias, log_prior=model.log_prior, trained_rows=np.array(model.trained_rows),
                        fingerprint=np.array(fingerprint))


def load(path: Path, *, fingerprint: str) -> LogReg | None:
    """The weights at ``path`` when they were trained on exactly this taxonomy, data and code; else None."""
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as data:
        if str(data["fingerprint"]) != fingerprint:
            return None
        vocab = {f: i for i, f in enumerate(data["vocab"].tolist())}
        return LogReg(vocab=vocab, weights=data["weights"].astype(np.float64), bias=data["bias"].copy(),
                      log_prior=data["log_prior"].copy(), trained_rows=int(data["trained_rows"]))
