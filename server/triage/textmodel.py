"""The category model learnt from REAL labelled reports: per language, word 1-2-gram and character 2-5-gram TF-IDF
(sublinear tf; character n-grams inside word boundaries, so Finnish compounds and inflections such as
"liikennemerkki"/"liikennemerkin" share features without a stemmer) into a linear SVM and a complement naive Bayes,
whose scores are turned into calibrated probabilities by a multinomial logistic regression fitted on OUT-OF-FOLD
scores (Platt scaling for several classes, stacking the two).

Everything is chosen by K-fold cross-validation on the training rows only (``train``): the SVM's C from a small
grid, the calibration, and ``min_confidence``, the lowest probability at which the out-of-fold answers reach
``target_accuracy`` (answers below it go to an agent). The out-of-fold figures (coverage, accuracy, per-category
recall and confusions) are kept in the model so ``groundcrew eval triage`` can show them beside the held-back ones.

Real report text may not be shipped (FixMyStreet's terms are not stated), so this model is trained at deployment
from rows the deployment may use (``groundcrew triage train``) and stored in its data folder, never in the project.
The file is a pickle: load only files this deployment wrote (the path comes from the operator's configuration);
a file written by another scikit-learn version or for other rows is refused, and is retrained."""

from __future__ import annotations

import hashlib
import pickle
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from server.triage.language import detect_language

FORMAT = 2  # bump when the training or the file changes (part of the fingerprint)
# A complement naive Bayes on the same features adds its log-probabilities to the calibrator's inputs: on London's
# training rows (5-fold, nested) 83.1% answered at 0.86 against 82.2% with the SVM alone (stacking the base
# model's probabilities: 81.9%; margin instead of top probability: 82.4%; class-balanced SVM: 82.3%).
NB_ALPHA = 0.3
C_GRID = (0.1, 0.2, 0.4, 0.8)  # LinearSVC regularisation candidates (smaller = stronger), chosen by cross-validation
FOLDS = 5
TARGET_ACCURACY = 0.86  # out-of-fold accuracy the answered rows must reach (the bar is 0.85)
MIN_ROWS_PER_LANGUAGE = 150  # fewer labelled rows in a language than this: no model for it (keywords decide)
MIN_ROWS_PER_CLASS = 5  # categories with fewer rows in a language are left to the keywords/base model
_MISSING = -10.0  # SVM score for a class absent from a fold's training part


def _vectorizer() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    return FeatureUnion([
        ("words", TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2, token_pattern=r"(?u)\b\w+\b")),
        ("chars", TfidfVectorizer(sublinear_tf=True, analyzer="char_wb", ngram_range=(2, 5), min_df=3)),
    ])


def _scores(svc: Any, x: Any, classes: Sequence[str]) -> np.ndarray:
    """SVM scores as [rows, len(classes)] (classes the SVM never saw score ``_MISSING``; a two-class SVM's single
    column becomes two)."""
    d = svc.decision_function(x)
    if d.ndim == 1:
        d = np.column_stack([-d, d])
    out = np.full((d.shape[0], len(classes)), _MISSING)
    index = {c: i for i, c in enumerate(classes)}
    for j, c in enumerate(svc.classes_):
        out[:, index[str(c)]] = d[:, j]
    return out


def _nb_log_probabilities(nb: Any, x: Any, classes: Sequence[str]) -> np.ndarray:
    """A complement naive Bayes's log P(class | text) as [rows, len(classes)] (classes it never saw: log 1e-9)."""
    out = np.full((x.shape[0], len(classes)), np.log(1e-9))
    index = {c: i for i, c in enumerate(classes)}
    p = np.clip(nb.predict_proba(x), 1e-9, 1.0)
    for j, c in enumerate(nb.classes_):
        out[:, index[str(c)]] = np.log(p[:, j])
    return out


def _nb() -> Any:
    from sklearn.naive_bayes import ComplementNB

    return ComplementNB(alpha=NB_ALPHA)


def _calibrator(scores: np.ndarray, y: np.ndarray) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0, max_iter=1000).fit(scores, y)


def _calibrated(cal: Any, scores: np.ndarray, n_classes: int) -> np.ndarray:
    p = np.zeros((scores.shape[0], n_classes))
    p[:, np.asarray(cal.classes_, dtype=int)] = cal.predict_proba(scores)
    return p


def _accuracy_curve(confidence: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows sorted by falling confidence: (confidence, running accuracy of the rows answered down to it)."""
    order = np.argsort(-confidence, kind="stable")
    return confidence[order], np.cumsum(correct[order]) / np.arange(1, len(order) + 1)


def choose_threshold(confidence: np.ndarray, correct: np.ndarray, target: float) -> float:
    """The lowest confidence at which the rows answered (confidence >= it) are at least ``target`` accurate (1.0
    when no prefix is)."""
    conf, acc = _accuracy_curve(confidence, correct)
    ok = np.nonzero(acc >= target)[0]
    if not ok.size:
        return 1.0
    last = int(ok.max())
    # Never split tied confidences: answer all rows at this confidence or none.
    return float(conf[last])


@dataclass
class LanguageModel:
    """One language's classifier, its chosen settings and its out-of-fold figures on the training rows."""

    language: str
    classes: list[str]
    vectorizer: Any
    svc: Any
    calibrator: Any
    c: float
    min_confidence: float
    cv: dict[str, Any] = field(default_factory=dict)
    # Out-of-fold calibrated confidence and correctness of each training row (in training order): the threshold
    # can be chosen again for another target without retraining (``retarget``).
    oof_confidence: np.ndarray = field(default_factory=lambda: np.empty(0))
    oof_correct: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    nb: Any = None  # the complement naive Bayes whose log-probabilities the calibrator also reads

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated P(category | text), [rows, len(classes)]."""
        x = self.vectorizer.transform(list(texts))
        scores = _scores(self.svc, x, self.classes)
        if self.nb is not None:
            scores = np.hstack([scores, _nb_log_probabilities(self.nb, x, self.classes)])
        return _calibrated(self.calibrator, scores, len(self.classes))

    def retarget(self, target_accuracy: float) -> None:
        """Choose ``min_confidence`` again from the out-of-fold answers, for another target accuracy."""
        self.min_confidence = choose_threshold(self.oof_confidence, self.oof_correct, target_accuracy)
        answered = self.oof_confidence >= self.min_confidence
        self.cv.update(target_accuracy=target_accuracy, coverage=round(float(answered.mean()), 4),
                       accuracy_when_covered=round(float(self.oof_correct[answered].mean()), 4)
                       if answered.any() else None)


@dataclass
class TextModel:
    """Per-language models; ``fingerprint``: what they were trained on (rows and code)."""

    languages: dict[str, LanguageModel]
    fingerprint: str
    rows: int
    dropped: dict[str, int] = field(default_factory=dict)  # rows of languages too small for a model

    def for_language(self, language: str) -> LanguageModel | None:
        """The model for an ISO 639-1 code, or None."""
        return self.languages.get(language)

    def retarget(self, target_accuracy: float) -> None:
        """Every language's threshold chosen again for this out-of-fold accuracy (no retraining)."""
        for model in self.languages.values():
            model.retarget(target_accuracy)

    def summary(self) -> dict[str, Any]:
        """Languages, rows, chosen settings and the out-of-fold figures, for the eval output."""
        return {"rows": self.rows, "rows_without_a_language_model": self.dropped,
                "languages": {lang: {"classes": len(m.classes), "c": m.c, "min_confidence": round(m.min_confidence, 4),
                                     **m.cv} for lang, m in self.languages.items()}}


def fingerprint(rows: Sequence[tuple[str, str]]) -> str:
    """What a trained model depends on: the rows, the training (``FORMAT``) and scikit-learn's version (the target
    accuracy is not: ``retarget`` changes it without retraining)."""
    import sklearn

    digest = hashlib.sha256()
    for text, category in rows:
        digest.update(f"{category}\x1f{text}\x1e".encode())
    digest.update(f"{sklearn.__version__}|{FORMAT}".encode())
    return digest.hexdigest()


def _fit_language(language: str, texts: list[str], labels: list[str], *, c_grid: Sequence[float], folds: int,
                  target_accuracy: float, log: Callable[[str], None]) -> LanguageModel:
    """Cross-validate C, calibrate on out-of-fold scores, choose min_confidence, then fit on all rows."""
    from sklearn.model_selection import KFold
    from sklearn.svm import LinearSVC

    classes = sorted(set(labels))
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[c] for c in labels])
    x_text = np.array(texts, dtype=object)
    oof = {c: np.zeros((len(y), len(classes))) for c in c_grid}
    nb_oof = np.zeros((len(y), len(classes)))
    splits = list(KFold(folds, shuffle=True, random_state=0).split(x_text))
    for k, (tr, te) in enumerate(splits):
        vec = _vectorizer()
        x_tr, x_te = vec.fit_transform(x_text[tr]), vec.transform(x_text[te])
        for c in c_grid:
            svc = LinearSVC(C=c).fit(x_tr, np.array(classes)[y[tr]])
            oof[c][te] = _scores(svc, x_te, classes)
        nb_oof[te] = _nb_log_probabilities(_nb().fit(x_tr, np.array(classes)[y[tr]]), x_te, classes)
        log(f"{language}: fold {k + 1}/{folds} done")

    def calibrated_oof(scores: np.ndarray) -> np.ndarray:
        p = np.zeros((len(y), len(classes)))
        for tr, te in splits:  # calibrated on other folds' scores too, so the threshold is chosen out of sample
            p[te] = _calibrated(_calibrator(scores[tr], y[tr]), scores[te], len(classes))
        return p

    best: tuple[float, float, np.ndarray] | None = None
    per_c = {}
    for c in c_grid:
        p = calibrated_oof(np.hstack([oof[c], nb_oof]))
        nll = float(-np.mean(np.log(p[np.arange(len(y)), y] + 1e-12)))
        per_c[str(c)] = round(nll, 4)
        if best is None or nll < best[0]:
            best = (nll, c, p)
    assert best is not None
    _, c_best, p = best
    pred = p.argmax(axis=1)
    confidence = p.max(axis=1)
    correct = pred == y
    threshold = choose_threshold(confidence, correct, target_accuracy)
    answered = confidence >= threshold
    confusion = Counter((classes[t], classes[q]) for t, q in zip(y, pred, strict=True) if t != q)
    cv = {
        "split": f"{folds}-fold cross-validation on the training rows (KFold, shuffled, seed 0)",
        "target_accuracy": target_accuracy,
        "rows": len(y), "log_loss_by_c": per_c,
        "accuracy_all": round(float(correct.mean()), 4),
        "coverage": round(float(answered.mean()), 4),
        "accuracy_when_covered": round(float(correct[answered].mean()), 4) if answered.any() else None,
        "recall": {classes[k]: round(float(correct[y == k].mean()), 3) for k in range(len(classes))},
        "rows_per_class": {classes[k]: int((y == k).sum()) for k in range(len(classes))},
        "top_confusions": [f"{t} -> {q}: {n}" for (t, q), n in confusion.most_common(10)],
    }
    vec = _vectorizer()
    x_all = vec.fit_transform(x_text)
    svc = LinearSVC(C=c_best).fit(x_all, np.array(classes)[y])
    nb = _nb().fit(x_all, np.array(classes)[y])
    calibrator = _calibrator(np.hstack([oof[c_best], nb_oof]), y)
    log(f"{language}: {len(y)} rows, C={c_best}, min_confidence {threshold:.3f}, out-of-fold coverage "
        f"{cv['coverage']}, accuracy when covered {cv['accuracy_when_covered']}")
    return LanguageModel(language, classes, vec, svc, calibrator, float(c_best), threshold, cv,
                         oof_confidence=confidence, oof_correct=correct, nb=nb)


def train(rows: Sequence[tuple[str, str]], *, detect: Callable[[str], str] | None = None,
          c_grid: Sequence[float] = C_GRID, folds: int = FOLDS, target_accuracy: float = TARGET_ACCURACY,
          min_rows: int = MIN_ROWS_PER_LANGUAGE, log: Callable[[str], None] = lambda _: None) -> TextModel:
    """A model per language with at least ``min_rows`` rows, from (text, category) rows (rows labelled
    ``out_of_scope`` or with no category are ignored: this model only chooses among services). ``detect`` maps a
    text to its language (default: triage's fastText detector). Deterministic for the same rows."""
    from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

    if detect is None:
        def detect(text: str) -> str:
            return detect_language(text)[0]

    rows = [(t, c) for t, c in rows if t.strip() and c and c != "out_of_scope"]
    if not rows:
        raise ValueError("no labelled rows to train on (need text and a service category)")
    by_language: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for text, category in rows:
        by_language[detect(text)].append((text, category))
    models: dict[str, LanguageModel] = {}
    dropped: dict[str, int] = {}
    # One BLAS thread: the calibrators are small dense problems, and OpenBLAS's spinning threads made each one
    # 5-6x slower on a busy 2-core machine (19 s against 3.3 s for one London calibrator at load 8).
    with threadpool_limits(limits=1):
        for language, lang_rows in sorted(by_language.items()):
            counts = Counter(c for _, c in lang_rows)
            kept = [(t, c) for t, c in lang_rows if counts[c] >= MIN_ROWS_PER_CLASS]
            if len(kept) < min_rows or len({c for _, c in kept}) < 2:
                dropped[language] = len(lang_rows)
                continue
            models[language] = _fit_language(language, [t for t, _ in kept], [c for _, c in kept], c_grid=c_grid,
                                             folds=folds, target_accuracy=target_accuracy, log=log)
    if not models:
        raise ValueError(f"no language has {min_rows} labelled rows in two or more categories (rows per language: "
                         f"{dict(Counter(detect(t) for t, _ in rows))})")
    return TextModel(models, fingerprint(rows), len(rows), dropped)


def save(model: TextModel, path: Path) -> None:
    """Write the model (pickle, with the scikit-learn version it needs) atomically."""
    import sklearn

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("wb") as fh:
        pickle.dump({"format": FORMAT, "sklearn": sklearn.__version__, "model": model}, fh,
                    protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)


def load(path: Path, *, expect_fingerprint: str | None = None) -> TextModel | None:
    """The model at ``path`` (a file this deployment's ``groundcrew triage train`` wrote), or None when it is
    missing, of another format or scikit-learn version, or (``expect_fingerprint``) trained on other rows."""
    import sklearn

    path = Path(path)
    if not path.exists():
        return None
    with path.open("rb") as fh:
        data = pickle.load(fh)  # our own file, from the operator's configured path (see the module doc)
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("sklearn") != sklearn.__version__:
        return None
    model = data["model"]
    if expect_fingerprint is not None and model.fingerprint != expect_fingerprint:
        return None
    return model
