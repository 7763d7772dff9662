"""Nominatim 5.x as a peer for `groundcrew eval geotag`: the same OSM file, the same texts, its top result.

Benchmarks only — the product never imports this module. Everything it needs it sets up by itself, once, and
reuses afterwards (all idempotent):

* Debian packages `osm2pgsql postgresql-15-postgis-3 osmium-tool` (+ ICU headers and a compiler for PyICU):
  `scripts/nominatim-deps.sh` installs the missing ones when root, else fails with the apt-get line to run.
* A separate virtualenv `<work_dir>/venv` with `nominatim-db` and `nominatim-api` pinned to `NOMINATIM_VERSION`
  (not the project venv: their dependencies may clash with ours).
* The PostgreSQL role `www-data` with LOGIN (Nominatim's web user; queries fail without it).
* One database per OSM file, `gc_nominatim_<first 10 hex of the file's sha256>`, imported once from an
  `osmium sort`-ed PBF (osm2pgsql refuses unsorted input; `.osm.bz2` is converted on the way) with
  `nominatim import --offline` (no Wikipedia, postcode or TIGER downloads). Completion is recorded in the table
  `gc_peer_import` inside that database; a database without that row is a broken import and is dropped and
  imported again.

Queries run inside the Nominatim venv (a subprocess reading JSON on stdin, writing one JSON line per text) with
`nominatim_api.NominatimAPI(project_dir).search(query, max_results=1)`.

The peer's query preparation (`prepare_queries`) — generic rules, nothing specific to one city: first the text as
given; if Nominatim finds nothing, the text with generic trailing parts removed (postcodes, 2-letter state codes,
country words), then with its trailing comma-separated parts dropped one at a time down to the first part. Runs of
two or more spaces count as separators like commas (`29 Hereford St  Boston  MA  02115`). This is needed because a
city name that the extract has no boundary for makes Nominatim find nothing (or a POI named after the city).
`PeerRun.found_by` tells which variant answered, so raw-text and fallback hits stay countable.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_WORK_DIR = REPO / "var" / "nominatim"
DEPS_SCRIPT = REPO / "scripts" / "nominatim-deps.sh"
NOMINATIM_VERSION = "5.3.3"
REQUIREMENTS = (f"nominatim-db=={NOMINATIM_VERSION}", f"nominatim-api=={NOMINATIM_VERSION}")
# libpq-style connection fields (';'-separated, Nominatim's DSN syntax) of a superuser; the database name is added.
DEFAULT_PG = os.environ.get("GROUNDCREW_NOMINATIM_PG", "host=127.0.0.1;port=5432;user=postgres")
WEB_USER = "www-data"

# --- query preparation (pure) -------------------------------------------------------------------------------

COUNTRY_WORDS = frozenset({
    "usa", "us", "u.s.", "u.s.a.", "united states", "united states of america", "america",
    "canada", "mexico", "méxico", "uk", "united kingdom", "great britain", "england", "ireland", "éire",
    "suomi", "finland", "sverige", "sweden", "norge", "norway", "danmark", "denmark", "ísland", "iceland",
    "eesti", "estonia", "latvija", "latvia", "lietuva", "lithuania", "polska", "poland",
    "deutschland", "germany", "österreich", "austria", "schweiz", "suisse", "svizzera", "switzerland",
    "nederland", "netherlands", "belgië", "belgique", "belgium", "luxembourg", "france", "españa", "spain",
    "portugal", "italia", "italy", "česko", "czechia", "czech republic", "slovensko", "slovakia",
    "magyarország", "hungary", "australia", "new zealand", "japan", "brasil", "brazil", "argentina",
})
_SEPARATORS = re.compile(r"\s*[,;]\s*|\s{2,}")
_POSTCODE = r"\d{4,6}(?:-\d{4})?"
_POSTCODE_TOKEN = re.compile(rf"(?:^|\s){_POSTCODE}(?=\s|$)")
# A trailing "<STATE> <ZIP>" or "<ZIP>" after a street in the same part ("29 Hereford St Boston MA 02115").
_TAIL_STATE_ZIP = re.compile(rf"(?:\s+[A-Z]{{2}})?\s+{_POSTCODE}$")
_STATE = re.compile(r"[A-Z]{2}")  # upper case only: "Rd" or "St" as a part is kept


def _split_parts(text: str) -> list[str]:
    """Comma/semicolon/double-space separated parts, each with single spaces, empty ones left out."""
    return [" ".join(p.split()) for p in _SEPARATORS.split(text.strip()) if p.strip()]


def _strip_country_tail(part: str) -> str:
    """`part` without a trailing country word ("... 02115 USA" -> "... 02115")."""
    words = part.split()
    for n in (4, 3, 2, 1):
        if len(words) > n and " ".join(words[-n:]).lower() in COUNTRY_WORDS:
            return " ".join(words[:-n])
    return part


def _clean_parts(parts: list[str]) -> list[str]:
    """Parts without generic tails: postcodes, 2-letter state codes, country words (first part: only its tail)."""
    if not parts:
        return []
    first = _strip_country_tail(parts[0])
    first = _TAIL_STATE_ZIP.sub("", first) if len(first.split()) >= 3 else first
    cleaned = [first]
    for part in parts[1:]:
        part = " ".join(_POSTCODE_TOKEN.sub(" ", part).split())
        if not part or part.lower() in COUNTRY_WORDS or _STATE.fullmatch(part):
            continue
        part = _strip_country_tail(part)
        tail = part.split()
        if len(tail) >= 2 and _STATE.fullmatch(tail[-1]):
            part = " ".join(tail[:-1])  # "Boston MA" -> "Boston"
        cleaned.append(part)
    while len(cleaned) > 1 and (cleaned[-1].lower() in COUNTRY_WORDS or not cleaned[-1]):
        cleaned.pop()
    return cleaned


def prepare_queries(text: str) -> list[str]:
    """The queries the peer tries in order for one text until Nominatim finds something (no duplicates).

    1. the text as given (whitespace collapsed);
    2. the text without postcodes, 2-letter state codes and country words ("29 Hereford St, Boston");
    3. that, with trailing parts dropped one at a time, down to the first part alone ("29 Hereford St").

    Longest first keeps the most context for Nominatim. (Asking the first part alone right after the raw text
    measured worse for it on Baltimore 311: median 563 m instead of 441 m, 33 % instead of 37 % within 250 m.)

    Parts are separated by commas, semicolons or runs of two or more spaces. A postcode is a 4-6 digit token
    (or ZIP+4) in a part after the first, or "[STATE] ZIP" at the end of the first part; a state code is a part
    of two upper-case letters (or the last word of a later part); country words are those in `COUNTRY_WORDS`.
    """
    raw = " ".join(text.split())
    if not raw:
        return []
    cleaned = _clean_parts(_split_parts(text))
    out = [raw]
    for k in range(len(cleaned), 0, -1):
        q = ", ".join(cleaned[:k])
        if q not in out and any(ch.isalpha() for ch in q):  # a bare number ("12") is no query
            out.append(q)
    return out


# --- result parsing (pure) ----------------------------------------------------------------------------------


def parse_result(line: str | dict[str, Any]) -> tuple[tuple[float, float] | None, int | None]:
    """((lat, lon) in degrees, index of the query variant that found it) from one worker line; (None, None) if
    nothing was found or the coordinates are not a valid WGS84 point."""
    rec = json.loads(line) if isinstance(line, str) else line
    hit = rec.get("hit") if isinstance(rec, dict) else None
    if not isinstance(hit, dict):
        return None, None
    try:
        lat, lon = float(hit["lat"]), float(hit["lon"])
        variant = int(hit["variant"])
    except (KeyError, TypeError, ValueError):
        return None, None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180) or variant < 0:
        return None, None
    return (lat, lon), variant


# --- the worker run inside the Nominatim venv ---------------------------------------------------------------

WORKER = r'''
"""Reads {"project_dir": str, "queries": [[variant, ...], ...]} on stdin; one JSON line per text on stdout."""
import json, sys
import nominatim_api as napi

job = json.load(sys.stdin)
with napi.NominatimAPI(job["project_dir"]) as api:
    for i, variants in enumerate(job["queries"]):
        hit, error = None, None
        for k, q in enumerate(variants):
            try:
                res = api.search(q, max_results=1)
            except Exception as exc:  # one odd text must not end the run; it counts as not found
                error, res = f"{type(exc).__name__}: {exc}", None
            if res:
                r = res[0]
                hit = {"variant": k, "query": q, "lat": r.centroid.lat, "lon": r.centroid.lon,
                       "category": list(r.category), "rank_address": r.rank_address,
                       "name": (r.names or {}).get("name"), "housenumber": r.housenumber}
                break
        sys.stdout.write(json.dumps({"i": i, "hit": hit, "error": error}) + "\n")
        sys.stdout.flush()
'''


@dataclass
class PeerRun:
    """What the peer did: locations per text, which query variant answered (0 = raw text), timings in seconds."""

    locations: list[tuple[float, float] | None]
    found_by: list[int | None]
    database: str
    setup_s: float
    import_s: float | None  # None when the database already existed
    query_s: float
    queries_per_s: float | None
    details: list[dict[str, Any] | None] = field(default_factory=list)
    errors: int = 0  # texts where a query raised inside Nominatim (counted as not found)

    @property
    def found_raw(self) -> int:
        """Texts Nominatim found as given."""
        return sum(1 for v in self.found_by if v == 0)

    @property
    def found_fallback(self) -> int:
        """Texts found only by a prepared (shortened) query."""
        return sum(1 for v in self.found_by if v is not None and v > 0)


# --- setup --------------------------------------------------------------------------------------------------


def _log(msg: str) -> None:
    print(f"nominatim-peer: {msg}", file=sys.stderr, flush=True)


def _err() -> Any:
    """Where subprocess output goes: our stderr when it is a real file (not under pytest's capture), else inherit."""
    try:
        sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    return sys.stderr


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive file lock (a second run waits instead of importing the same thing twice)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def database_name(sha256: str) -> str:
    """The peer's database for an OSM file with this sha256."""
    return f"gc_nominatim_{sha256[:10]}"


def ensure_system_packages() -> None:
    """Run `scripts/nominatim-deps.sh` (installs missing Debian packages when root; raises otherwise)."""
    r = subprocess.run(["bash", str(DEPS_SCRIPT)], stdout=_err(), stderr=_err())
    if r.returncode != 0:
        raise RuntimeError(f"Nominatim peer: system packages missing (see above; {DEPS_SCRIPT.name})")
    for tool in ("osm2pgsql", "osmium"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"Nominatim peer: `{tool}` not on PATH after {DEPS_SCRIPT.name}")


def ensure_venv(work_dir: Path) -> Path:
    """The Nominatim venv's python, created and installed (pinned) on first use."""
    venv = work_dir / "venv"
    py = venv / "bin" / "python"
    marker = venv / ".groundcrew-installed"
    wanted = " ".join(REQUIREMENTS)
    with _locked(work_dir / "venv.lock"):
        if py.exists() and marker.exists() and marker.read_text().strip() == wanted:
            return py
        _log(f"creating {venv} with {wanted} (about a minute: PyICU compiles)")
        base = getattr(sys, "_base_executable", None) or sys.executable
        subprocess.run([base, "-m", "venv", str(venv)], check=True, stdout=_err())
        subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", *REQUIREMENTS],
                       check=True, stdout=_err())
        marker.write_text(wanted + "\n")
    return py


def _sql(py: Path, pg: str, dbname: str, sql: str, params: tuple[Any, ...] = ()) -> list[list[Any]]:
    """Run one statement with the Nominatim venv's psycopg (autocommit); the rows it returns."""
    code = (
        "import json, sys, psycopg\n"
        "a = json.load(sys.stdin)\n"
        "with psycopg.connect(a['dsn'], autocommit=True) as c:\n"
        "    cur = c.execute(a['sql'], a['params'] or None)\n"
        "    rows = cur.fetchall() if cur.description else []\n"
        "print(json.dumps([list(r) for r in rows], default=str))\n"
    )
    dsn = " ".join([*pg.split(";"), f"dbname={dbname}"])
    r = subprocess.run([str(py), "-c", code], input=json.dumps({"dsn": dsn, "sql": sql, "params": list(params)}),
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"Nominatim peer: SQL failed on {dbname}: {r.stderr.strip().splitlines()[-1:]}")
    return json.loads(r.stdout)


def ensure_web_user(py: Path, pg: str) -> None:
    """The role Nominatim reads as must exist with LOGIN ("Missing read-only user" otherwise)."""
    _sql(py, pg, "postgres",
         f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{WEB_USER}') "
         f"THEN CREATE ROLE \"{WEB_USER}\" LOGIN; ELSE ALTER ROLE \"{WEB_USER}\" LOGIN; END IF; END $$")


def _import_complete(py: Path, pg: str, dbname: str, sha: str) -> bool | None:
    """True: imported and complete; False: a database without a completion row; None: no database."""
    if not _sql(py, pg, "postgres", "SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)):
        return None
    rows = _sql(py, pg, dbname, "SELECT to_regclass('gc_peer_import') IS NOT NULL")
    if not rows or not rows[0][0]:
        return False
    return bool(_sql(py, pg, dbname, "SELECT 1 FROM gc_peer_import WHERE sha256 = %s AND version = %s",
                     (sha, NOMINATIM_VERSION)))


def ensure_database(
    osm: Path, work_dir: Path, py: Path, pg: str = DEFAULT_PG, threads: int = 2
) -> tuple[Path, float | None]:
    """(project dir, import seconds or None if reused) for `osm`; imports it once into its own database."""
    osm = Path(osm).resolve()
    sha = file_sha256(osm)
    dbname = database_name(sha)
    project = work_dir / "projects" / dbname
    project.mkdir(parents=True, exist_ok=True)
    dsn = f"pgsql:{pg};dbname={dbname}"
    (project / ".env").write_text(f'NOMINATIM_DATABASE_DSN="{dsn}"\nNOMINATIM_DATABASE_WEBUSER="{WEB_USER}"\n')
    with _locked(work_dir / f"{dbname}.lock"):
        state = _import_complete(py, pg, dbname, sha)
        if state:
            _log(f"reusing database {dbname} for {osm.name}")
            return project, None
        if state is False:
            _log(f"database {dbname} is an incomplete import: dropping it")
            _sql(py, pg, "postgres", f'DROP DATABASE "{dbname}" WITH (FORCE)')
        t0 = time.perf_counter()
        sorted_pbf = work_dir / "osm" / f"{dbname}.osm.pbf"
        sorted_pbf.parent.mkdir(parents=True, exist_ok=True)
        _log(f"sorting {osm.name} -> {sorted_pbf.name}")
        subprocess.run(["osmium", "sort", "--overwrite", "-o", str(sorted_pbf), str(osm)], check=True,
                       stdout=_err())
        _log(f"importing {osm.name} into {dbname} (1-3 min for a few MB)")
        env = {**os.environ, "NOMINATIM_DATABASE_DSN": dsn, "NOMINATIM_DATABASE_WEBUSER": WEB_USER}
        r = subprocess.run([str(py.parent / "nominatim"), "import", "--osm-file", str(sorted_pbf),
                            "--project-dir", str(project), "--threads", str(threads), "--offline"],
                           env=env, stdout=_err(), stderr=_err())
        if r.returncode != 0:
            raise RuntimeError(f"Nominatim peer: import of {osm} failed (exit {r.returncode}); see above")
        import_s = time.perf_counter() - t0
        _sql(py, pg, dbname, "CREATE TABLE gc_peer_import (sha256 text, version text, source text, "
                             "import_s double precision, finished_at timestamptz DEFAULT now())")
        _sql(py, pg, dbname, "INSERT INTO gc_peer_import (sha256, version, source, import_s) VALUES (%s, %s, %s, %s)",
             (sha, NOMINATIM_VERSION, osm.name, round(import_s, 2)))
        sorted_pbf.unlink(missing_ok=True)
        _log(f"imported {dbname} in {import_s:.1f} s")
        return project, import_s


# --- querying -----------------------------------------------------------------------------------------------


def run_peer(osm: Path, texts: list[str], work_dir: Path | None = None, progress: bool = True,
             pg: str = DEFAULT_PG) -> PeerRun:
    """Set up (once) and ask Nominatim for every text; see the module docstring for the query preparation."""
    work_dir = Path(work_dir or DEFAULT_WORK_DIR).resolve()
    t0 = time.perf_counter()
    ensure_system_packages()
    py = ensure_venv(work_dir)
    ensure_web_user(py, pg)
    project, import_s = ensure_database(Path(osm), work_dir, py, pg)
    setup_s = time.perf_counter() - t0
    worker = work_dir / "query_worker.py"
    if not worker.exists() or worker.read_text() != WORKER:
        worker.write_text(WORKER)
    queries = [prepare_queries(t) for t in texts]
    locations: list[tuple[float, float] | None] = [None] * len(texts)
    found_by: list[int | None] = [None] * len(texts)
    details: list[dict[str, Any] | None] = [None] * len(texts)
    errors: list[str] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(texts), file=sys.stderr, desc="nominatim", unit="text")
    t1 = time.perf_counter()
    proc = subprocess.Popen([str(py), str(worker)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps({"project_dir": str(project), "queries": queries}))
    proc.stdin.close()
    for line in proc.stdout:
        rec = json.loads(line)
        i = int(rec["i"])
        locations[i], found_by[i] = parse_result(rec)
        details[i] = rec.get("hit")
        if rec.get("error"):
            errors.append(str(rec["error"]))
        if bar is not None:
            bar.update(1)
    if proc.wait() != 0:
        raise RuntimeError(f"Nominatim peer: query worker failed (exit {proc.returncode}); see above")
    query_s = time.perf_counter() - t1
    if bar is not None:
        bar.close()
    if texts and len(errors) == len(texts):
        raise RuntimeError(f"Nominatim peer: every query failed, e.g. {errors[0]}")
    return PeerRun(locations=locations, found_by=found_by, database=project.name, setup_s=round(setup_s, 2),
                   import_s=None if import_s is None else round(import_s, 2), query_s=round(query_s, 2),
                   queries_per_s=round(len(texts) / query_s, 1) if query_s > 0 else None, details=details,
                   errors=len(errors))


def peer_locations(osm: Path, texts: list[str], work_dir: Path | None = None,
                   progress: bool = True) -> list[tuple[float, float] | None]:
    """Nominatim's top result (lat, lon) in degrees for each text, or None (setup and import on first use)."""
    return run_peer(osm, texts, work_dir, progress).locations
