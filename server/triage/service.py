"""Triage: category (keyword phrases + a small naive-Bayes model), sentiment (VADER), urgency (safety
terms), amplification (public reach) → a priority 1..10 and an SLA deadline, each with a one-line
explanation an agent can read.

Deterministic, offline and fast (no network, no model downloads): the taxonomy is a TOML file a
deployment may replace (``Settings.taxonomy_path``); the statistical model is trained in milliseconds
when the taxonomy is loaded, from the labelled CSV the taxonomy names (ours ships in ``data/``)."""

from __future__ import annotations

import csv
import hashlib
import math
import os
import re
import threading
import tomllib
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from server.core.timeutil import as_utc
from server.triage import model as model_module
from server.triage.model import LogReg, char_features, word_features
from server.triage.model import load as load_weights
from server.triage.model import train as train_model

DEFAULT_TAXONOMY = Path(__file__).resolve().parent / "taxonomy.toml"
FIELDS = ("category", "sentiment", "urgency", "amplification", "priority", "sla")
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,59}$")

# Greetings and filler: a text made only of these (and unknown words) has nothing to classify.
_FILLER = frozenset({"a", "an", "and", "are", "at", "be", "can", "could", "did", "do", "does", "for", "from", "have",
    "hello", "help", "hey", "hi", "i", "im", "i'm", "in", "is", "it", "it's", "me", "my", "of", "on", "or", "please",
    "pls", "so", "thanks", "thank", "that", "the", "there", "this", "to", "u", "we", "what", "when", "where", "who",
    "why", "with", "you", "your", "yo"})
# Texts with fewer known content words + matched keywords than this carry proportionally less evidence (their
# scores are shrunk toward the prior).
SHORT_TEXT_WORDS = 3
# A matched phrase of 1, 2, 3+ words counts this much (longer phrases are more specific).
KEYWORD_LENGTH_WEIGHT = {1: 1.0, 2: 1.5, 3: 2.0}


# --------------------------------------------------------------------------- taxonomy
@dataclass(frozen=True)
class Category:
    name: str
    label: str
    skill: str
    duration_min: int
    priority: int
    sla_hours: float
    service_code: str
    field_work: bool
    keywords: list[str]
    description: str
    group: str = ""


@dataclass
class Taxonomy:
    categories: list[Category]
    min_confidence: float = 0.45
    min_margin: float = 0.10
    source: str = ""
    training_rows: int = 0
    _by_code: dict[str, Category] = field(default_factory=dict, repr=False)
    _by_name: dict[str, Category] = field(default_factory=dict, repr=False)
    _single: dict[str, list[tuple[int, int]]] = field(default_factory=dict, repr=False)
    _prefix: list[tuple[str, int, int]] = field(default_factory=list, repr=False)
    _phrases: dict[str, list[tuple[tuple[str, ...], bool, int, int]]] = field(default_factory=dict, repr=False)
    _model: LogReg | None = field(default=None, repr=False)
    _token_hits: dict[str, list[tuple[int, int]]] = field(default_factory=dict, repr=False)

    def by_service_code(self, code: str | int | None) -> Category | None:
        """The category with this Open311 service code, or None."""
        return None if code is None else self._by_code.get(str(code).strip())

    def by_name(self, name: str | None) -> Category | None:
        """The category with this name, or None."""
        return None if name is None else self._by_name.get(name.strip().lower())

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.categories]


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens (apostrophes kept inside words: "wasn't")."""
    return _TOKEN.findall(text.lower().replace("’", "'"))


def _index_keywords(taxonomy: Taxonomy) -> None:
    for ci, cat in enumerate(taxonomy.categories):
        for ki, raw in enumerate(cat.keywords):
            prefix = raw.endswith("*")
            words = tuple(tokenize(raw.rstrip("*")))
            if not words:
                continue
            if len(words) == 1 and prefix:
                taxonomy._prefix.append((words[0], ci, ki))
            elif len(words) == 1:
                taxonomy._single.setdefault(words[0], []).append((ci, ki))
            else:
                taxonomy._phrases.setdefault(words[0], []).append((words, prefix, ci, ki))


def _keyword_hits(taxonomy: Taxonomy, tokens: list[str]) -> dict[int, list[str]]:
    """Matched keywords per category index (each keyword counted once)."""
    hits: dict[int, dict[int, str]] = {}
    cats = taxonomy.categories
    for i, tok in enumerate(tokens):
        single = taxonomy._token_hits.get(tok)
        if single is None:
            single = list(taxonomy._single.get(tok, ()))
            single += [(ci, ki) for stem, ci, ki in taxonomy._prefix if tok.startswith(stem)]
            if len(taxonomy._token_hits) < 100_000:
                taxonomy._token_hits[tok] = single
        for ci, ki in single:
            hits.setdefault(ci, {})[ki] = cats[ci].keywords[ki]
        for words, prefix, ci, ki in taxonomy._phrases.get(tok, ()):
            n = len(words)
            window = tokens[i:i + n]
            if len(window) < n or tuple(window[:-1]) != words[:-1]:
                continue
            if window[-1] == words[-1] or (prefix and window[-1].startswith(words[-1])):
                hits.setdefault(ci, {})[ki] = cats[ci].keywords[ki]
    return {ci: list(found.values()) for ci, found in hits.items()}


def keyword_scores(taxonomy: Taxonomy, hits: dict[int, list[str]]) -> np.ndarray:
    """Per-category keyword evidence: matched phrases weighted by length (longer phrases are more specific)."""
    scores = np.zeros(len(taxonomy.categories))
    for ci, words in hits.items():
        scores[ci] = sum(KEYWORD_LENGTH_WEIGHT[min(len(w.split()), 3)] for w in words)
    return scores


def _train(taxonomy: Taxonomy, rows: list[tuple[str, str, bool]], settings: dict[str, Any]) -> LogReg:
    """Logistic regression on the labelled rows plus every keyword as a pseudo-document of its category."""
    index = {c.name: i for i, c in enumerate(taxonomy.categories)}
    docs: list[list[str]] = []
    labels: list[int] = []
    mix = np.zeros(len(index))
    for text, category, in_mix in rows:
        if category in index:
            docs.append(tokenize(text))
            labels.append(index[category])
            mix[index[category]] += in_mix
    protected: set[str] = set()
    for ci, cat in enumerate(taxonomy.categories):
        for kw in cat.keywords:
            tokens = tokenize(kw.rstrip("*"))
            docs.append(tokens)
            labels.append(ci)
            protected.update(model_features(tokens))
        if settings.get("describe", True):  # the label and one-line description are examples too
            for line in (cat.label, cat.description):
                if tokenize(line):
                    docs.append(tokenize(line))
                    labels.append(ci)
    kw = np.array([keyword_scores(taxonomy, _keyword_hits(taxonomy, d)) for d in docs]).reshape(len(docs), len(index))
    model = train_model(docs, np.array(labels), kw, len(index), mix_counts=mix, protected=protected,
                        l2=float(settings.get("l2", 3e-4)), temperature=float(settings.get("temperature", 1.0)),
                        prior_weight=float(settings.get("prior_weight", 1.0)))
    model.trained_rows = sum(1 for _, category, _ in rows if category in index)
    return model


def training_fingerprint(categories: list[Category], csv_path: Path | None, settings: dict[str, Any]) -> str:
    """What the trained weights depend on: category names and keywords, the training CSV, the model code and
    its L2 strength (not the temperature, prior weight or thresholds, which apply at prediction time)."""
    digest = hashlib.sha256()
    for cat in categories:
        digest.update(repr((cat.name, cat.keywords)).encode())
    digest.update(repr(float(settings.get("l2", 3e-4))).encode())
    if csv_path is not None and csv_path.exists():
        digest.update(csv_path.read_bytes())
    digest.update(Path(model_module.__file__).read_bytes())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()


def model_features(tokens: list[str]) -> list[str]:
    """Word and character features of tokens (to protect keyword features from frequency pruning)."""
    return word_features(tokens) + [f for t in tokens for f in char_features(t)]


def _read_training_csv(path: Path) -> list[tuple[str, str, bool]]:
    """(text, category, counts toward the category mix) rows; the optional ``mix`` column (default 1) marks
    extra phrasings that should not shift the class priors."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"text", "category"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: the training CSV needs the columns 'text' and 'category'")
        return [(row["text"] or "", (row["category"] or "").strip(), (row.get("mix") or "1").strip() != "0")
                for row in reader]


def _category_from(raw: dict[str, Any], source: str) -> Category:
    where = f"{source}: category {raw.get('name', '?')!r}"
    try:
        cat = Category(
            name=str(raw["name"]).strip().lower(), label=str(raw.get("label") or raw["name"]),
            skill=str(raw.get("skill", "")).strip().lower(), duration_min=int(raw.get("duration_min", 30)),
            priority=int(raw.get("priority", 5)), sla_hours=float(raw.get("sla_hours", 72)),
            service_code=str(raw["service_code"]).strip(), field_work=bool(raw.get("field_work", True)),
            keywords=[str(k).strip().lower() for k in raw.get("keywords", []) if str(k).strip()],
            description=str(raw.get("description", "")), group=str(raw.get("group", "")),
        )
    except KeyError as exc:
        raise ValueError(f"{where}: missing {exc.args[0]}") from exc
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from exc
    if not _NAME.match(cat.name):
        raise ValueError(f"{where}: name must be lower_snake_case (a-z, 0-9, _), at most 60 characters")
    if not 1 <= cat.priority <= 10:
        raise ValueError(f"{where}: priority must be 1..10")
    if not 1 <= cat.duration_min <= 480:
        raise ValueError(f"{where}: duration_min must be 1..480")
    if not cat.sla_hours > 0:
        raise ValueError(f"{where}: sla_hours must be positive")
    if not cat.service_code or len(cat.service_code) > 60:
        raise ValueError(f"{where}: service_code must be 1..60 characters")
    if cat.field_work and not cat.skill:
        raise ValueError(f"{where}: a field-work category needs a skill")
    return cat


_cache: dict[tuple[str, float], Taxonomy] = {}
_cache_lock = threading.Lock()
_fast_cache: dict[str, tuple[float, Taxonomy]] = {}  # the path as given (or "None") → (mtime, taxonomy)


def load_taxonomy(path: Path | str | None = None) -> Taxonomy:
    """The taxonomy at ``path`` (default: the shipped TOML), with its classifier trained; cached per file
    and modification time. Raises ValueError naming the file and category when it is malformed."""
    fast = _fast_cache.get(str(path))
    path = Path(path) if path else DEFAULT_TAXONOMY
    if fast is not None and fast[0] == os.stat(path).st_mtime:  # hot path: one stat per call
        return fast[1]
    key = (str(path.resolve()), path.stat().st_mtime)
    raw_key = str(path) if path != DEFAULT_TAXONOMY else "None"
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            _fast_cache[raw_key] = (key[1], cached)
            return cached
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not valid TOML: {exc}") from exc
        raw_categories = data.get("category") or []
        if not raw_categories:
            raise ValueError(f"{path}: no [[category]] entries")
        categories = [_category_from(raw, str(path)) for raw in raw_categories]
        settings = data.get("triage", {})
        taxonomy = Taxonomy(categories=categories, min_confidence=float(settings.get("min_confidence", 0.45)),
                            min_margin=float(settings.get("min_margin", 0.10)), source=str(path))
        for cat in categories:
            if cat.name in taxonomy._by_name:
                raise ValueError(f"{path}: category name {cat.name!r} is used twice")
            if cat.service_code in taxonomy._by_code:
                raise ValueError(f"{path}: service_code {cat.service_code!r} is used twice")
            taxonomy._by_name[cat.name] = cat
            taxonomy._by_code[cat.service_code] = cat
        _index_keywords(taxonomy)
        rows: list[tuple[str, str, bool]] = []
        training = data.get("model", {}).get("training_csv")
        csv_path = (path.parent / training).resolve() if training else None
        if csv_path is not None and csv_path.exists():
            rows = _read_training_csv(csv_path)
        model_settings = data.get("model", {})
        fingerprint = training_fingerprint(categories, csv_path if training else None, model_settings)
        weights = model_settings.get("weights")
        model = load_weights((path.parent / weights).resolve(), fingerprint=fingerprint) if weights else None
        if model is None:  # no shipped weights for this taxonomy/data/code: train now (seconds), cache in-process
            model = _train(taxonomy, rows, model_settings)
        model.temperature = float(model_settings.get("temperature", 1.0))
        model.prior_weight = float(model_settings.get("prior_weight", 1.0))
        taxonomy._model = model
        taxonomy.training_rows = taxonomy._model.trained_rows
        _cache[key] = taxonomy
        _fast_cache[raw_key] = (key[1], taxonomy)
        return taxonomy


# --------------------------------------------------------------------------- classification
@dataclass
class CategoryScore:
    category: str | None
    confidence: float
    needs_agent: bool
    explanation: str
    ranking: list[tuple[str, float]]


def classify(text: str, *, taxonomy: Taxonomy | None = None) -> CategoryScore:
    """The most likely category with a calibrated-ish probability and whether an agent should confirm it."""
    taxonomy = taxonomy or load_taxonomy()
    tokens = tokenize(text)
    hits = _keyword_hits(taxonomy, tokens)
    model = taxonomy._model
    n_cat = len(taxonomy.categories)
    known = model.known_words(tokens) if model is not None else []
    content = [f for f in known if f[2:] not in _FILLER]
    if model is None or (not hits and not content):
        return CategoryScore(None, 0.0, True, "no words an agent's taxonomy knows: an agent must read it", [])
    said = len({f for f in content if f.startswith("w:")}) + sum(len(words) for words in hits.values())
    evidence = min(1.0, said / SHORT_TEXT_WORDS)
    probs = model.probabilities(tokens, keyword_scores(taxonomy, hits), evidence=evidence, known=known)
    order = np.argsort(-probs, kind="stable")
    best, second = int(order[0]), int(order[1]) if n_cat > 1 else int(order[0])
    confidence = float(probs[best])
    margin = confidence - float(probs[second]) if n_cat > 1 else confidence
    cat = taxonomy.categories[best]
    ranking = [(taxonomy.categories[int(i)].name, round(float(probs[i]), 3)) for i in order[:3]]
    needs_agent = confidence < taxonomy.min_confidence or margin < taxonomy.min_margin
    words = hits.get(best, [])
    because = f"matched {', '.join(repr(w) for w in words[:3])}" if words else "wording similar to labelled examples"
    if needs_agent:
        other = taxonomy.categories[second]
        explanation = (f"ambiguous: {cat.name} {confidence:.0%} vs {other.name} {float(probs[second]):.0%} "
                       f"({because}); an agent should confirm")
    else:
        explanation = f"{cat.label} ({confidence:.0%}): {because}"
    return CategoryScore(cat.name, round(confidence, 4), needs_agent, explanation, ranking)


# --------------------------------------------------------------------------- sentiment, urgency, amplification
_vader_lock = threading.Lock()
_vader: Any = None


def sentiment(text: str) -> float:
    """VADER compound score, -1 (angry) .. +1 (pleased)."""
    global _vader
    if _vader is None:
        with _vader_lock:
            if _vader is None:
                from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

                _vader = SentimentIntensityAnalyzer()
    return float(_vader.polarity_scores(text[:2000])["compound"])


# (pattern, weight, reason). Weights: 1.0 = life-safety now, 0.5 = serious, 0.3 = time-sensitive.
_SAFETY: list[tuple[re.Pattern[str], float, str]] = [
    (re.compile(p, re.I), w, r) for p, w, r in [
        (r"\b(smell(s|ed|ing)? (of |like )?gas|gas (leak|smell|odou?r)|leaking gas|rotten eggs?)\b", 1.0, "gas smell"),
        (r"\bcarbon monoxide|\bco (alarm|detector)", 1.0, "carbon monoxide"),
        (r"\b(spark(s|ing)?|arcing|live wires?|(power|electric(al)?) lines? (is |are )?down|down(ed)? "
         r"(power )?(lines?|wires?)|wires? (is |are )?down|exposed wires?|electrocut\w*)\b", 1.0,
         "live electrical hazard"),
        (r"\b(fire|on fire|flames?|smoke coming|explosion|exploded)\b", 1.0, "fire or explosion"),
        (r"\b(collaps(e|ed|ing)|caved? in|about to fall)\b", 0.8, "collapse risk"),
        (r"\b(flood(ed|ing)?|water (is )?pouring|gushing|sewage (is )?(backing|coming) up|raw sewage)\b", 0.7,
         "flooding or sewage"),
        (r"\b(injur(ed|y|ies)|bleeding|hurt|bitten|attacked|unconscious)\b", 0.8, "someone hurt"),
        (r"\b(no heat|heat (is )?(off|out)|heater (is )?(broken|out)|freezing (inside|in here|house))\b", 0.5,
         "no heat"),
        (r"\b(no water|without water|water (is )?(shut )?off)\b", 0.5, "no water"),
        (r"\b(traffic (light|signal)s? (is |are )?(out|dark|down)|signals? (is |are )?(out|dark)|stuck on red)\b",
         0.6, "dark traffic signal"),
        (r"\b(tree|limb|branch)\w* (fell |fallen |down )?(on|onto|across|blocking) (a |my |the )?"
         r"(car|house|road|street|roof|lines?|wires?)\b", 0.8, "tree on a car, house, road or line"),
        (r"\b(sinkhole|open manhole|manhole cover (is )?(missing|off)|missing (manhole|meter) (cover|lid))\b", 0.7,
         "open hole"),
        (r"\b(danger(ous)?|hazard(ous)?|unsafe|emergency|urgent(ly)?|asap|immediately|right now)\b", 0.4,
         "marked urgent or dangerous"),
        (r"\b(ice|icy|black ice)\b", 0.3, "ice"),
    ]
]
_VULNERABLE = re.compile(
    r"\b(child|children|kids?|bab(y|ies)|infant|newborn|toddler|elderly|senior|grandm\w+|grandf\w+|disabled|"
    r"wheelchair|pregnant|oxygen|dialysis|medical equipment|sick)\b", re.I)


def urgency(text: str) -> tuple[float, str]:
    """Safety urgency 0..1 from the words used (gas, sparking, flooding, no heat with a child...) and why."""
    found = [(w, r) for pattern, w, r in _SAFETY if pattern.search(text)]
    if not found:
        return 0.0, "no safety terms"
    found.sort(key=lambda item: -item[0])
    score = found[0][0] + 0.1 * (len(found) - 1)
    reasons = [r for _, r in found[:3]]
    vulnerable = _VULNERABLE.search(text)
    if vulnerable:
        score += 0.3
        reasons.append(f"vulnerable person ({vulnerable.group(0).lower()})")
    score = min(1.0, score)
    return round(score, 3), ", ".join(reasons)


def amplification(*, visibility: str, followers: int, reposts: int) -> tuple[float, str]:
    """Public reach 0..1: public posts count, weighted by the author's followers and the reposts."""
    if str(visibility) != "public":
        return 0.0, "private message"
    followers, reposts = max(0, int(followers)), max(0, int(reposts))
    score = 0.2 + 0.5 * min(1.0, math.log10(followers + 1) / 6) + 0.3 * min(1.0, math.log10(reposts + 1) / 3)
    return round(min(1.0, score), 3), f"public post, {followers:,} followers, {reposts:,} reposts"


# --------------------------------------------------------------------------- triage
@dataclass
class TriageResult:
    category: str | None
    confidence: float
    needs_agent: bool
    skill: str | None
    duration_min: int
    priority: int
    sla_due_at: datetime
    sentiment: float
    urgency: float
    field_work: bool
    service_code: str | None
    explanations: dict[str, str]
    amplification: float = 0.0
    ranking: list[tuple[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (the deadline as ISO 8601)."""
        data = asdict(self)
        data["sla_due_at"] = self.sla_due_at.isoformat()
        data["ranking"] = [[name, p] for name, p in self.ranking]
        return data


# Defaults when no category can be chosen: an agent decides.
_UNKNOWN = {"duration_min": 30, "priority": 3, "sla_hours": 72.0}


def triage(
    text: str,
    *,
    received_at: datetime,
    visibility: str = "private",
    followers: int = 0,
    reposts: int = 0,
    taxonomy: Taxonomy | None = None,
    category_hint: str | None = None,
) -> TriageResult:
    """Triage one complaint. ``category_hint`` is a category name or Open311 service code chosen by the
    reporter; when it names a known category it wins (confidence 1) and the classifier's view is noted."""
    taxonomy = taxonomy or load_taxonomy()
    received_at = as_utc(received_at)
    scored = classify(text, taxonomy=taxonomy)
    hinted = taxonomy.by_name(category_hint) or taxonomy.by_service_code(category_hint) if category_hint else None
    if hinted is not None:
        agree = "agrees" if scored.category == hinted.name else f"text suggests {scored.category or 'nothing'}"
        cat: Category | None = hinted
        confidence, needs_agent = 1.0, False
        cat_expl = f"{hinted.label}: chosen by the reporter (service code {hinted.service_code}; {agree})"
    else:
        cat = taxonomy.by_name(scored.category)
        confidence, needs_agent, cat_expl = scored.confidence, scored.needs_agent, scored.explanation

    sent = sentiment(text)
    urg, urg_why = urgency(text)
    amp, amp_why = amplification(visibility=visibility, followers=followers, reposts=reposts)

    base = cat.priority if cat else _UNKNOWN["priority"]
    urg_boost = round(4 * urg)
    sent_boost = 1 if sent <= -0.5 else 0
    amp_boost = 2 if amp >= 0.6 else 1 if amp >= 0.3 else 0
    priority = max(1, min(10, base + urg_boost + sent_boost + amp_boost))
    if urg >= 0.9:
        priority = max(priority, 9)
    parts = [f"base {base} ({cat.name if cat else 'uncategorised'})"]
    parts += [f"+{b} {name}" for b, name in ((urg_boost, "urgency"), (sent_boost, "anger"),
                                              (amp_boost, "public reach")) if b]
    pri_expl = f"priority {priority}: " + ", ".join(parts) + (" (capped at 10)" if base + urg_boost + sent_boost
                                                                + amp_boost > 10 else "")

    sla_hours = float(cat.sla_hours if cat else _UNKNOWN["sla_hours"])
    hours = sla_hours * 0.5 ** (max(0, priority - base) / 2)
    if urg >= 0.9:
        hours = min(hours, 4.0)
    hours = max(1.0, hours)
    sla_due_at = received_at + timedelta(hours=hours)
    sla_expl = (f"due in {_hours(hours)} ({_hours(sla_hours)} policy for {cat.name if cat else 'uncategorised'}"
                + (", shortened for higher priority)" if hours < sla_hours else ")"))

    mood = "angry" if sent <= -0.5 else "negative" if sent < -0.05 else "positive" if sent > 0.05 else "neutral"
    explanations = {
        "category": cat_expl,
        "sentiment": f"{mood} ({sent:+.2f} VADER compound)",
        "urgency": f"{urg:.2f}: {urg_why}",
        "amplification": f"{amp:.2f}: {amp_why}",
        "priority": pri_expl,
        "sla": sla_expl,
    }
    return TriageResult(
        category=cat.name if cat else None, confidence=round(confidence, 4), needs_agent=needs_agent,
        skill=(cat.skill or None) if cat else None,
        duration_min=cat.duration_min if cat else int(_UNKNOWN["duration_min"]), priority=priority,
        sla_due_at=sla_due_at, sentiment=round(sent, 4), urgency=urg, field_work=cat.field_work if cat else False,
        service_code=cat.service_code if cat else None, explanations=explanations, amplification=amp,
        ranking=scored.ranking,
    )


def _hours(hours: float) -> str:
    if hours >= 48 and hours % 24 == 0:
        return f"{int(hours // 24)} days"
    if hours >= 1 and abs(hours - round(hours)) < 0.05:
        return f"{round(hours)} h"
    return f"{hours:.1f} h"
