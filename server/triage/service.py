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
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from server.core.timeutil import as_utc
from server.customers.models import Channel
from server.triage import model as model_module
from server.triage import textmodel
from server.triage.language import detect_language
from server.triage.model import LogReg, char_features, word_features
from server.triage.model import load as load_weights
from server.triage.model import train as train_model

DEFAULT_TAXONOMY = Path(__file__).resolve().parent / "taxonomy.toml"
FIELDS = ("category", "sentiment", "urgency", "amplification", "priority", "sla")
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)?")  # letters of any script (Finnish ä, ö) and digits
# The model's extra class: a message that is no field problem and no matter of ours (thanks, chatter, another
# company's product). Learnt from ``[model] not_field_csv``; never a taxonomy category.
OUT_OF_SCOPE = "out_of_scope"
OUTCOMES = ("field_work", "agent", "out_of_scope")
# Known category fields (anything else in a [[category]] table is a typo the loader names).
_CATEGORY_FIELDS = frozenset({"name", "label", "service_code", "group", "skill", "duration_min", "priority",
                              "sla_hours", "field_work", "keywords", "description",
                              "customer_present"})
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,59}$")

# Greetings and filler: a text made only of these (and unknown words) has nothing to classify.
_FILLER = frozenset({"a", "an", "and", "are", "at", "be", "can", "could", "did", "do", "does", "for", "from", "have",
    "hello", "help", "hey", "hi", "i", "im", "i'm", "in", "is", "it", "it's", "me", "my", "of", "on", "or", "please",
    "pls", "so", "thanks", "thank", "that", "the", "there", "this", "to", "u", "we", "what", "when", "where", "who",
    "why", "with", "you", "your", "yo"})
# Texts with fewer known content words + matched keywords than this carry proportionally less evidence (their
# scores are shrunk toward the prior).
SHORT_TEXT_WORDS = 3
# When fewer than (1 - this) of a message's distinct words are known to the model, only keywords decide.
UNKNOWN_WORDS_SHARE = 0.6
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
    # The customer must be there for the visit (a home, a meter inside): the job is booked with them as an arrival
    # window on their own channel (server/appointments) instead of being planned whenever it fits.
    customer_present: bool = False


@dataclass
class Taxonomy:
    categories: list[Category]
    min_confidence: float = 0.45
    min_margin: float = 0.10
    # Field work only when the field categories together reach this probability (else an agent or out of scope).
    field_min_probability: float = 0.6
    # Out of scope when the out-of-scope class reaches this probability (and it is not confident field work).
    out_of_scope_min_probability: float = 0.7
    # The field-work probability a CONFIDENT real-text model's answer needs (None: ``field_min_probability``). The
    # base model's p_field is learnt from written examples and is often low on real reports ("Bed end. Been here a
    # while"); the text model's confidence already keeps most support chatter out (see taxonomy.toml).
    text_field_min_probability: float | None = None
    # Share of field problems among the messages of a channel (``[triage.channel_field_share]``, e.g. a city's
    # Open311 feed, which exists to report problems in public space): p_field is moved from the model's own prior
    # to the channel's by Bayes' rule (``field_probability_for``). A channel not named keeps the model's prior.
    channel_field_share: dict[str, float] = field(default_factory=dict)
    source: str = ""
    training_rows: int = 0
    _by_code: dict[str, Category] = field(default_factory=dict, repr=False)
    _by_name: dict[str, Category] = field(default_factory=dict, repr=False)
    _single: dict[str, list[tuple[int, int]]] = field(default_factory=dict, repr=False)
    _prefix: list[tuple[str, int, int]] = field(default_factory=list, repr=False)
    _phrases: dict[str, list[tuple[tuple[str, ...], bool, int, int]]] = field(default_factory=dict, repr=False)
    _model: LogReg | None = field(default=None, repr=False)
    _token_hits: dict[str, list[tuple[int, int]]] = field(default_factory=dict, repr=False)
    # Per-language category model learnt from real labelled reports (``textmodel``; ``[model] text_model``).
    _text_model: Any = field(default=None, repr=False)

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
    return _TOKEN.findall(text.casefold().replace("’", "'"))


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
    """Per-class keyword evidence: matched phrases weighted by length (longer phrases are more specific); one entry
    per category, then 0 for the out-of-scope class (it has no keywords)."""
    scores = np.zeros(len(taxonomy.categories) + 1)
    for ci, words in hits.items():
        scores[ci] = sum(KEYWORD_LENGTH_WEIGHT[min(len(w.split()), 3)] for w in words)
    return scores


def _train(taxonomy: Taxonomy, rows: list[tuple[str, str, bool]], settings: dict[str, Any]) -> LogReg:
    """Logistic regression on the labelled rows plus every keyword as a pseudo-document of its category; rows
    labelled ``out_of_scope`` train the extra last class."""
    index = {c.name: i for i, c in enumerate(taxonomy.categories)}
    index[OUT_OF_SCOPE] = len(taxonomy.categories)
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
    # The out-of-scope class's share of messages (its rows are written examples, not a count of real traffic).
    share = float(settings.get("out_of_scope_share", 0.3))
    mix[-1] = share / (1 - share) * max(1.0, mix[:-1].sum())
    kw = np.array([keyword_scores(taxonomy, _keyword_hits(taxonomy, d)) for d in docs]).reshape(len(docs), len(index))
    model = train_model(docs, np.array(labels), kw, len(index), mix_counts=mix, protected=protected,
                        l2=float(settings.get("l2", 3e-4)), temperature=float(settings.get("temperature", 1.0)),
                        prior_weight=float(settings.get("prior_weight", 1.0)))
    model.trained_rows = sum(1 for _, category, _ in rows if category in index)
    return model


def extra_training_paths(base: Path, settings: dict[str, Any]) -> list[Path]:
    """The ``[model]`` CSVs besides ``training_csv``: ``not_field_csv`` (out-of-scope examples) and
    ``extra_training_csv`` (one path or a list: a deployment's own labelled rows, e.g. real reports it may use
    but not ship), relative to the taxonomy file's folder unless absolute."""
    extra = settings.get("extra_training_csv") or []
    names = ([settings["not_field_csv"]] if settings.get("not_field_csv") else []) + (
        [extra] if isinstance(extra, str) else list(extra))
    return [(base / str(name)).resolve() for name in names]


def training_fingerprint(categories: list[Category], csv_path: Path | None, settings: dict[str, Any], *,
                         base: Path | None = None) -> str:
    """What the trained weights depend on: category names and keywords, the training CSVs (``base``: the taxonomy
    file's folder, to find the extra ones), the model code, its L2 strength and the out-of-scope share (not the
    temperature, prior weight or thresholds, which apply at prediction time)."""
    digest = hashlib.sha256()
    for cat in categories:
        digest.update(repr((cat.name, cat.keywords)).encode())
    digest.update(repr((float(settings.get("l2", 3e-4)), float(settings.get("out_of_scope_share", 0.3)))).encode())
    for path in [csv_path] + (extra_training_paths(base, settings) if base is not None else []):
        if path is not None and path.exists():
            digest.update(str(path.name).encode())
            digest.update(path.read_bytes())
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


class _LineFinder:
    """Line numbers in a taxonomy file: of the i-th ``[[category]]`` table and of a field inside it (tomllib gives
    values without positions), so an error names ``file:line``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines = path.read_text(encoding="utf-8").splitlines()
        self.starts = [n for n, line in enumerate(self.lines) if line.strip().startswith("[[category]]")]

    def where(self, index: int, field_name: str | None = None) -> str:
        """``file:line: category #n 'name'`` pointing at the field's line (or the table header)."""
        if index >= len(self.starts):
            return f"{self.path}: category #{index + 1}"
        start = self.starts[index]
        end = next((n for n in range(start + 1, len(self.lines)) if self.lines[n].strip().startswith("[")),
                   len(self.lines))
        line = start
        if field_name:
            pattern = re.compile(rf"^\s*{re.escape(field_name)}\s*=")
            line = next((n for n in range(start, end) if pattern.match(self.lines[n])), start)
        return f"{self.path}:{line + 1}: category #{index + 1}"


#: The channel names ``[triage.channel_field_share]`` may use: those messages arrive on.
KNOWN_CHANNELS = frozenset(c.value for c in Channel)


def _channel_shares(raw: object) -> dict[str, float]:
    """``[triage.channel_field_share]``: channel name → share of field problems among its messages, strictly
    between 0 and 1 (0 or 1 would make the text irrelevant)."""
    if not isinstance(raw, dict):
        raise ValueError("channel_field_share: a table of channel = share, e.g. open311 = 0.9")
    shares: dict[str, float] = {}
    for channel, share in raw.items():
        if not re.fullmatch(r"[a-z][a-z0-9_]*", str(channel)):
            raise ValueError(f"channel_field_share: {channel!r} is not a channel name (lower_snake_case)")
        if channel not in KNOWN_CHANNELS:  # a typo would otherwise never apply, silently
            raise ValueError(f"channel_field_share: {channel!r} is not one of the channels messages come in on "
                             f"({', '.join(sorted(KNOWN_CHANNELS))})")
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < float(share) < 1:
            raise ValueError(f"channel_field_share.{channel}: {share!r} must be a number between 0 and 1 (exclusive)")
        shares[str(channel)] = float(share)
    return shares


def model_field_share(taxonomy: Taxonomy) -> float | None:
    """The share of field work the base model assumes (its class prior: the deployment's category mix and the
    out-of-scope share), or None without a base model."""
    model = taxonomy._model
    if model is None:
        return None
    shares = np.exp(model.log_prior - model.log_prior.max())
    shares /= shares.sum()
    return float(sum(shares[i] for i, c in enumerate(taxonomy.categories) if c.field_work and i < len(shares)))


def field_probability_for(taxonomy: Taxonomy, p_field: float, channel: str | None) -> float:
    """``p_field`` as it reads for a message of ``channel``: the model learnt it under its own prior share of field
    work; a channel whose messages are field problems more (or less) often shifts the odds by the ratio of the two
    prior odds (Bayes' rule; what the words say is unchanged)."""
    share = taxonomy.channel_field_share.get(channel or "")
    prior = model_field_share(taxonomy)
    if share is None or prior is None or not 0 < prior < 1 or not 0 < p_field < 1:
        return p_field
    odds = p_field / (1 - p_field) * (share / (1 - share)) / (prior / (1 - prior))
    return odds / (1 + odds)


def _category_from(raw: dict[str, Any], lines: _LineFinder, index: int) -> Category:
    name = raw.get("name", "?")
    unknown = sorted(set(raw) - _CATEGORY_FIELDS)
    if unknown:
        raise ValueError(f"{lines.where(index, unknown[0])} ({name!r}): unknown field {unknown[0]!r} (known: "
                         f"{', '.join(sorted(_CATEGORY_FIELDS))})")
    for needed in ("name", "service_code"):
        if needed not in raw:
            raise ValueError(f"{lines.where(index)} ({name!r}): missing field {needed!r}")
    expected = {"duration_min": int, "priority": int, "sla_hours": (int, float), "field_work": bool,
                "keywords": list, "customer_present": bool}
    for key, kind in expected.items():
        if key in raw and (not isinstance(raw[key], kind) or (kind is int and isinstance(raw[key], bool))):
            kind_name = "a list of strings" if kind is list else "true or false" if kind is bool else "a number"
            raise ValueError(f"{lines.where(index, key)} ({name!r}): field {key!r} must be {kind_name}, "
                             f"not {raw[key]!r}")

    def fail(key: str, why: str) -> ValueError:
        return ValueError(f"{lines.where(index, key)} ({name!r}): field {key!r} {why}")

    where = f"{lines.where(index)} ({name!r})"
    try:
        cat = Category(
            name=str(raw["name"]).strip().lower(), label=str(raw.get("label") or raw["name"]),
            skill=str(raw.get("skill", "")).strip().lower(), duration_min=int(raw.get("duration_min", 30)),
            priority=int(raw.get("priority", 5)), sla_hours=float(raw.get("sla_hours", 72)),
            service_code=str(raw["service_code"]).strip(), field_work=bool(raw.get("field_work", True)),
            keywords=[str(k).strip().lower() for k in raw.get("keywords", []) if str(k).strip()],
            description=str(raw.get("description", "")), group=str(raw.get("group", "")),
            customer_present=bool(raw.get("customer_present", False)),
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from exc
    if not _NAME.match(cat.name):
        raise fail("name", "must be lower_snake_case (a-z, 0-9, _), at most 60 characters")
    if not 1 <= cat.priority <= 10:
        raise fail("priority", f"must be 1..10, not {cat.priority}")
    if not 1 <= cat.duration_min <= 480:
        raise fail("duration_min", f"must be 1..480 minutes, not {cat.duration_min}")
    if not cat.sla_hours > 0:
        raise fail("sla_hours", "must be positive")
    if not cat.service_code or len(cat.service_code) > 60:
        raise fail("service_code", "must be 1..60 characters")
    if cat.field_work and not cat.skill:
        raise fail("skill", "is needed by a field-work category (field_work = true)")
    if cat.customer_present and not cat.field_work:
        raise fail("customer_present", "needs a field-work category (nobody visits when field_work = false)")
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
        if not isinstance(raw_categories, list) or not raw_categories:
            raise ValueError(f"{path}: no [[category]] entries")
        lines = _LineFinder(path)
        categories = [_category_from(raw, lines, i) for i, raw in enumerate(raw_categories)]
        settings = data.get("triage", {})
        try:
            taxonomy = Taxonomy(categories=categories, min_confidence=float(settings.get("min_confidence", 0.45)),
                                min_margin=float(settings.get("min_margin", 0.10)), source=str(path),
                                field_min_probability=float(settings.get("field_min_probability", 0.6)),
                                out_of_scope_min_probability=float(settings.get("out_of_scope_min_probability", 0.7)),
                                text_field_min_probability=(float(settings["text_field_min_probability"])
                                                            if "text_field_min_probability" in settings else None),
                                channel_field_share=_channel_shares(settings.get("channel_field_share", {})))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: [triage]: {exc}") from exc
        for i, cat in enumerate(categories):
            if cat.name in taxonomy._by_name or cat.name == OUT_OF_SCOPE:
                raise ValueError(f"{lines.where(i, 'name')}: field 'name': {cat.name!r} is used twice or reserved")
            if cat.service_code in taxonomy._by_code:
                raise ValueError(f"{lines.where(i, 'service_code')}: field 'service_code': {cat.service_code!r} "
                                 "is used twice")
            taxonomy._by_name[cat.name] = cat
            taxonomy._by_code[cat.service_code] = cat
        _index_keywords(taxonomy)
        rows: list[tuple[str, str, bool]] = []
        model_settings = data.get("model", {})
        training = model_settings.get("training_csv")
        csv_path = (path.parent / training).resolve() if training else None
        if csv_path is not None and csv_path.exists():
            rows = _read_training_csv(csv_path)
        for extra in extra_training_paths(path.parent, model_settings):
            if not extra.exists():
                raise ValueError(f"{path}: [model] names {extra}, which does not exist")
            rows += _read_training_csv(extra)
        fingerprint = training_fingerprint(categories, csv_path if training else None, model_settings,
                                           base=path.parent)
        weights = model_settings.get("weights")
        model = load_weights((path.parent / weights).resolve(), fingerprint=fingerprint) if weights else None
        if model is None:  # no shipped weights for this taxonomy/data/code: train now (seconds), cache in-process
            model = _train(taxonomy, rows, model_settings)
        model.temperature = float(model_settings.get("temperature", 1.0))
        model.prior_weight = float(model_settings.get("prior_weight", 1.0))
        taxonomy._model = model
        if model_settings.get("text_model"):
            taxonomy._text_model = _load_text_model((path.parent / str(model_settings["text_model"])).resolve(), path)
        taxonomy.training_rows = taxonomy._model.trained_rows
        _cache[key] = taxonomy
        _fast_cache[raw_key] = (key[1], taxonomy)
        return taxonomy


def with_text_model(taxonomy: Taxonomy, text_model: Any) -> Taxonomy:
    """A copy of the taxonomy that uses this real-text model (``textmodel.TextModel``; None: the base model only)."""
    return replace(taxonomy, _text_model=text_model)


# --------------------------------------------------------------------------- classification
@dataclass
class CategoryScore:
    category: str | None
    confidence: float
    needs_agent: bool
    explanation: str
    ranking: list[tuple[str, float]]
    outcome: str = "agent"  # one of OUTCOMES
    p_field: float = 0.0  # probability that this is field work (the field categories together)
    p_out_of_scope: float = 0.0


def classify(text: str, *, taxonomy: Taxonomy | None = None, channel: str | None = None) -> CategoryScore:
    """The outcome (field work / an agent / out of scope), the category when there is one, and probabilities.

    Field work only when the field categories together reach ``field_min_probability`` and the best one is
    confident (``min_confidence``, ``min_margin``); out of scope when the out-of-scope class reaches
    ``out_of_scope_min_probability``; everything else goes to an agent. An unsure message gets no category (its
    best guess is in ``ranking`` and the explanation): low confidence never falls to a default category. ``channel``
    (where the message came from) moves p_field to that channel's share of field work when the catalogue names one
    (``[triage.channel_field_share]``)."""
    taxonomy = taxonomy or load_taxonomy()
    tokens = tokenize(text)
    hits = _keyword_hits(taxonomy, tokens)
    model = taxonomy._model
    cats = taxonomy.categories
    n_cat = len(cats)
    if model is None or not tokens:
        return CategoryScore(None, 0.0, True, "no words to classify: an agent must read it", [])
    known = model.known_words(tokens)
    content = [f for f in known if f[2:] not in _FILLER]
    said = len({f for f in content if f.startswith("w:")}) + sum(len(words) for words in hits.values())
    evidence = min(1.0, max(said, 1) / SHORT_TEXT_WORDS)
    kw = keyword_scores(taxonomy, hits)
    unique = set(tokens)
    if len({f for f in known if f.startswith("w:")}) < (1 - UNKNOWN_WORDS_SHARE) * len(unique):
        return (_text_model_score(taxonomy, text, kw, hits, None, 0.0, channel)
                or _by_keywords(taxonomy, kw, hits, channel))
    probs = model.probabilities(tokens, kw, evidence=evidence, known=known)
    # Out of scope is judged on the words at full weight (a short "thanks!" is decisive; the shrink toward the prior
    # only keeps one vague word from choosing a category); a category's confidence is its probability given the
    # message is ours (the out-of-scope share taken out).
    p_out = float(model.probabilities(tokens, kw, evidence=1.0, known=known)[n_cat]) if len(probs) > n_cat else 0.0
    ours = float(probs[:n_cat].sum())
    probs_cat = probs[:n_cat] / max(ours, 1e-12)
    scored = _text_model_score(taxonomy, text, kw, hits, probs_cat, p_out, channel)
    if scored is not None:
        return scored
    p_field = field_probability_for(
        taxonomy, (1 - p_out) * float(sum(probs_cat[i] for i, c in enumerate(cats) if c.field_work)), channel)
    order = np.argsort(-probs_cat, kind="stable")
    best, second = int(order[0]), int(order[1]) if n_cat > 1 else int(order[0])
    confidence = float(probs_cat[best])
    margin = confidence - float(probs_cat[second]) if n_cat > 1 else confidence
    cat = cats[best]
    ranking = [(cats[int(i)].name, round(float(probs_cat[i]), 3)) for i in order[:3]]
    if p_out:
        ranking = sorted([*ranking, (OUT_OF_SCOPE, round(p_out, 3))], key=lambda kv: -kv[1])[:3]
    sure = confidence >= taxonomy.min_confidence and margin >= taxonomy.min_margin
    words = hits.get(best, [])
    because = f"matched {', '.join(repr(w) for w in words[:3])}" if words else "wording similar to labelled examples"
    odds = f"field work {p_field:.0%}, out of scope {p_out:.0%}"
    if cat.field_work and sure and p_field >= taxonomy.field_min_probability:
        return CategoryScore(cat.name, round(confidence, 4), False, f"{cat.label} ({confidence:.0%}): {because}; "
                             f"{odds}", ranking, "field_work", round(p_field, 4), round(p_out, 4))
    if p_out >= taxonomy.out_of_scope_min_probability:
        return CategoryScore(None, round(p_out, 4), False, f"not a matter for us ({odds}): no case work needed",
                             ranking, OUT_OF_SCOPE, round(p_field, 4), round(p_out, 4))
    if not cat.field_work and sure:  # an account or online matter: an agent handles it, nobody goes out
        return CategoryScore(cat.name, round(confidence, 4), False, f"{cat.label} ({confidence:.0%}): {because}; "
                             f"{odds}; an agent handles it", ranking, "agent", round(p_field, 4), round(p_out, 4))
    other = cats[second]
    return CategoryScore(None, round(confidence, 4), True,
                         f"unsure: {cat.name} {confidence:.0%} vs {other.name} {float(probs_cat[second]):.0%} "
                         f"({because}; {odds}); an agent should decide", ranking, "agent", round(p_field, 4),
                         round(p_out, 4))


def _load_text_model(model_path: Path, taxonomy_path: Path) -> Any:
    """The ``[model] text_model`` file, or a ValueError saying how to make it."""
    found = textmodel.load(model_path)
    if found is None:
        raise ValueError(f"{taxonomy_path}: [model] text_model {model_path} is missing or was written by another "
                         "scikit-learn version: run `groundcrew triage train --out` with that path")
    return found


def _text_model_score(taxonomy: Taxonomy, text: str, kw: np.ndarray, hits: dict[int, list[str]],
                      probs_cat: np.ndarray | None, p_out: float, channel: str | None = None) -> CategoryScore | None:
    """The outcome with the real-text model of the message's language, or None when there is none.

    The real-text model ("text") was learnt from real reports of some services; when it is confident (its
    ``min_confidence``, chosen by cross-validation on its training rows), its service is the answer. When it is
    unsure and the base model (or, for a language the base model does not know, the catalogue's keywords) is sure of
    a service the text model has no rows of (a gas leak, a bill), that is the answer; otherwise an agent decides.
    (Letting such a service's matched keyword beat a confident text model was tried and lost on real reports: the
    text model is right more often. The cost: a text model can be confidently wrong on a service it never saw.)
    Field work also needs ``p_field`` (the base model's, as without a text model: it alone has seen account
    matters and chatter) to reach ``field_min_probability`` (``text_field_min_probability`` for a confident text
    model's answer); out of scope is the base model's call, as before."""
    text_model = taxonomy._text_model
    if text_model is None:
        return None
    language = detect_language(text)[0]
    lm = text_model.for_language(language)
    cats = taxonomy.categories
    n_cat = len(cats)
    index = {c.name: i for i, c in enumerate(cats)}
    if lm is None or not any(c in index for c in lm.classes):
        return None
    trained = np.zeros(n_cat, dtype=bool)
    p_text = np.zeros(n_cat)
    for j, p in zip((index.get(c) for c in lm.classes), lm.probabilities([text])[0], strict=True):
        if j is not None:
            trained[j], p_text[j] = True, p
    p_text /= max(float(p_text.sum()), 1e-12)
    text_best = int(np.argmax(p_text))
    text_sure = float(p_text[text_best]) >= lm.min_confidence
    if probs_cat is None:  # most words unknown to the base model: the catalogue's keywords speak for the others
        scores = kw[:n_cat]
        base = scores / scores.sum() if scores.any() else np.zeros(n_cat)
        field_share = float(sum(base[i] for i, c in enumerate(cats) if c.field_work))
        p_field = field_share if scores.any() else (1.0 if text_sure else 0.5)
    else:
        base = probs_cat
        p_field = (1 - p_out) * float(sum(base[i] for i, c in enumerate(cats) if c.field_work))
    p_field = field_probability_for(taxonomy, p_field, channel)
    order = np.argsort(-base, kind="stable")
    base_best = int(order[0])
    base_margin = float(base[base_best] - (base[int(order[1])] if n_cat > 1 else 0.0))
    base_sure = (not trained[base_best] and float(base[base_best]) >= taxonomy.min_confidence
                 and base_margin >= taxonomy.min_margin)
    ranking = [(cats[int(i)].name, round(float(p_text[i]), 3)) for i in np.argsort(-p_text, kind="stable")[:2]]
    if not trained[base_best] and base[base_best] > 0:
        ranking.append((cats[base_best].name, round(float(base[base_best]), 3)))
    if p_out:
        ranking.append((OUT_OF_SCOPE, round(p_out, 3)))
    ranking = sorted(ranking, key=lambda kv: -kv[1])[:3]
    odds = f"field work {p_field:.0%}, out of scope {p_out:.0%}"
    field_min_text = (taxonomy.field_min_probability if taxonomy.text_field_min_probability is None
                      else taxonomy.text_field_min_probability)
    for best, from_text in [(text_best, True)] * text_sure + [(base_best, False)] * base_sure:
        confidence = float(p_text[best] if from_text else base[best])
        words = hits.get(best, [])
        because = (f"wording like real {language} reports of this service" if from_text
                   else f"matched {', '.join(repr(w) for w in words[:3])}" if words
                   else "wording similar to labelled examples of a service without real reports")
        cat = cats[best]
        if cat.field_work and p_field >= (field_min_text if from_text else taxonomy.field_min_probability):
            return CategoryScore(cat.name, round(confidence, 4), False, f"{cat.label} ({confidence:.0%}): {because}; "
                                 f"{odds}", ranking, "field_work", round(p_field, 4), round(p_out, 4))
        if not cat.field_work and p_out < taxonomy.out_of_scope_min_probability:
            return CategoryScore(cat.name, round(confidence, 4), False, f"{cat.label} ({confidence:.0%}): {because}; "
                                 f"{odds}; an agent handles it", ranking, "agent", round(p_field, 4), round(p_out, 4))
    if p_out >= taxonomy.out_of_scope_min_probability:
        return CategoryScore(None, round(p_out, 4), False, f"not a matter for us ({odds}): no case work needed",
                             ranking, OUT_OF_SCOPE, round(p_field, 4), round(p_out, 4))
    guess = cats[text_best]
    return CategoryScore(None, round(float(p_text[text_best]), 4), True,
                         f"unsure: {guess.name} {float(p_text[text_best]):.0%} (needs {lm.min_confidence:.0%}; "
                         f"{odds}); an agent should decide", ranking, "agent", round(p_field, 4), round(p_out, 4))


def _by_keywords(taxonomy: Taxonomy, kw: np.ndarray, hits: dict[int, list[str]],
                 channel: str | None = None) -> CategoryScore:
    """Most words unknown to the model (a language it has no examples in, e.g. Finnish with the shipped model):
    its character n-grams would be noise, so only the catalogue's keywords (in any language) decide; no keyword,
    no decision (an agent reads it)."""
    cats = taxonomy.categories
    scores = kw[:len(cats)]
    if not scores.any():
        return CategoryScore(None, 0.0, True, "mostly words triage has no examples of, and no catalogue keyword: an "
                             "agent should read it (field work unknown: 50%)", [], "agent", 0.5, 0.0)
    probs = scores / scores.sum()
    order = np.argsort(-probs, kind="stable")
    best = int(order[0])
    confidence = float(probs[best])
    margin = confidence - (float(probs[int(order[1])]) if len(order) > 1 else 0.0)
    p_field = field_probability_for(taxonomy, float(sum(probs[i] for i, c in enumerate(cats) if c.field_work)),
                                    channel)
    ranking = [(cats[int(i)].name, round(float(probs[i]), 3)) for i in order[:3] if probs[i] > 0]
    cat = cats[best]
    because = f"matched {', '.join(repr(w) for w in hits.get(best, [])[:3])} (the other words are unknown to the model)"
    sure = confidence >= taxonomy.min_confidence and margin >= taxonomy.min_margin
    if sure and cat.field_work and p_field >= taxonomy.field_min_probability:
        return CategoryScore(cat.name, round(confidence, 4), False, f"{cat.label} ({confidence:.0%}): {because}",
                             ranking, "field_work", round(p_field, 4), 0.0)
    if sure and not cat.field_work:
        return CategoryScore(cat.name, round(confidence, 4), False, f"{cat.label} ({confidence:.0%}): {because}; an "
                             "agent handles it", ranking, "agent", round(p_field, 4), 0.0)
    return CategoryScore(None, round(confidence, 4), True, f"unsure: {cat.name} {confidence:.0%} ({because}); an "
                         "agent should decide", ranking, "agent", round(p_field, 4), 0.0)


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
    # field_work (someone goes out: ``field_work`` is True only then), agent (an account matter or unsure), or
    # out_of_scope (thanks, chatter, another company's product).
    outcome: str = "agent"
    p_field: float = 0.0  # probability of field work
    language: str = "und"  # ISO 639-1 code of the message's language (replies use it)

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
    channel: str | None = None,
) -> TriageResult:
    """Triage one complaint. ``category_hint`` is a category name or Open311 service code chosen by the
    reporter; when it names a known category it wins (confidence 1) and the classifier's view is noted.
    ``channel``: where it came from (the catalogue may give a channel its own share of field work)."""
    taxonomy = taxonomy or load_taxonomy()
    received_at = as_utc(received_at)
    scored = classify(text, taxonomy=taxonomy, channel=channel)
    hinted = taxonomy.by_name(category_hint) or taxonomy.by_service_code(category_hint) if category_hint else None
    if hinted is not None:
        agree = "agrees" if scored.category == hinted.name else f"text suggests {scored.category or scored.outcome}"
        cat: Category | None = hinted
        confidence, needs_agent = 1.0, not hinted.field_work
        outcome, p_field = ("field_work", 1.0) if hinted.field_work else ("agent", 0.0)
        cat_expl = f"{hinted.label}: chosen by the reporter (service code {hinted.service_code}; {agree})"
    else:
        cat = taxonomy.by_name(scored.category)
        confidence, needs_agent, cat_expl = scored.confidence, scored.needs_agent, scored.explanation
        outcome, p_field = scored.outcome, scored.p_field
    language, lang_p = detect_language(text)

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
        "outcome": f"{outcome} (field work {p_field:.0%})",
        "language": f"{language} ({lang_p:.0%}, fastText language id)",
    }
    return TriageResult(
        category=cat.name if cat else None, confidence=round(confidence, 4), needs_agent=needs_agent,
        skill=(cat.skill or None) if cat else None,
        duration_min=cat.duration_min if cat else int(_UNKNOWN["duration_min"]), priority=priority,
        sla_due_at=sla_due_at, sentiment=round(sent, 4), urgency=urg, field_work=outcome == "field_work",
        service_code=cat.service_code if cat else None, explanations=explanations, amplification=amp,
        ranking=scored.ranking, outcome=outcome, p_field=round(p_field, 4), language=language,
    )


def _hours(hours: float) -> str:
    if hours >= 48 and hours % 24 == 0:
        return f"{int(hours // 24)} days"
    if hours >= 1 and abs(hours - round(hours)) < 0.05:
        return f"{round(hours)} h"
    return f"{hours:.1f} h"
