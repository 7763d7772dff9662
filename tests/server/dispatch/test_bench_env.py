"""The bench's Celery worker gets the bench's settings through its environment: every changed field, read back by
``Settings`` exactly as the bench process holds it."""

from __future__ import annotations

from pathlib import Path

from server.config import Settings
from server.dispatch.bench import bench_settings, settings_env
from server.dispatch.regions import MIN_REGION_S, region_share


def test_the_bench_settings_read_back_from_the_environment_a_worker_gets(monkeypatch, tmp_path: Path):
    base = Settings(data_dir=tmp_path / "deployment", cache_dir_override=tmp_path / "cache")
    bench = bench_settings(base, "env", dispatch_background=True, dispatch_watch_interval_s=0.05,
                           dispatch_coalesce_s=1.0, timezone="Pacific/Kiritimati")
    monkeypatch.setenv("GROUNDCREW_DISPATCH_COALESCE_S", "7")  # this process's environment says otherwise
    env = settings_env(bench)
    for key, value in env.items():
        if key.startswith("GROUNDCREW_"):
            monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)  # no .env file of the checkout
    seen = Settings()
    for name in Settings.model_fields:
        assert getattr(seen, name) == getattr(bench, name), name
    assert seen.resolved_database_url == bench.resolved_database_url  # the bench's own throwaway database


def test_each_region_gets_its_share_of_the_limit_on_the_processes_there_are():
    assert region_share(10.0, 20, 2) == 1.0  # 20 regions two at a time end within 10 s
    assert region_share(10.0, 2, 3) == 10.0  # more processes than regions: each region the whole limit
    assert region_share(1.0, 40, 1) == MIN_REGION_S
