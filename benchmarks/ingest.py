"""Ingest rate: the real importer (normalize + identity + triage + geotag + case/job + store) on a fresh SQLite
database on this machine, with the demo city loaded (the load time is excluded; it happens once per process)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any


def run(complaints: Path, *, twcs: Path | None = None, limit: int | None = None) -> dict[str, Any]:
    from server.config import Settings
    from server.core.city import load_city
    from server.core.db import make_engine
    from server.core.migrate import upgrade
    from server.intake.importers import import_311, import_twcs
    from server.triage.service import load_taxonomy

    base = Settings()
    t0 = time.perf_counter()
    city = load_city(base)
    city_s = time.perf_counter() - t0
    out: dict[str, Any] = {"city_load_s": round(city_s, 2)}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), database_url=f"sqlite:///{tmp}/bench.db",
                            GROUNDCREW_CACHE_DIR=base.cache_dir)
        upgrade(settings)
        load_taxonomy(settings.taxonomy_path)
        engine = make_engine(settings)
        try:
            s = import_311(engine=engine, settings=settings, path=complaints, city=city, limit=limit)
            out["baltimore311"] = {**{k: v for k, v in s.as_dict().items() if k not in ("examples", "source")},
                                   "messages_per_s": round((s.imported + s.rejected) / s.seconds, 1)}
            again = import_311(engine=engine, settings=settings, path=complaints, city=city, limit=limit)
            out["baltimore311_rerun"] = {"imported": again.imported, "skipped": again.skipped,
                                         "rows_per_s": round(again.total / again.seconds, 1)}
            if twcs is not None:
                t = import_twcs(engine=engine, settings=settings, path=twcs, city=None, limit=limit)
                out["twcs"] = {**{k: v for k, v in t.as_dict().items() if k not in ("examples", "source")},
                               "messages_per_s": round((t.imported + t.rejected) / t.seconds, 1)}
        finally:
            engine.dispose()
    out["messages_per_s"] = out["baltimore311"]["messages_per_s"]
    out["target_per_s"] = 200
    return out
