"""`groundcrew bench console` runs end to end on a small day (a real server, the built console in headless Chromium)
and reports every figure it promises, per live event kind (the structure only: timings depend on the machine)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from benchmarks import console_browser
from server.config import Settings

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]


def test_a_small_day_reports_load_events_and_memory(chromium: Any) -> None:
    lines: list[str] = []
    out = console_browser.run(technicians=2, jobs=30, events=2, loads=1, solve_s=1, seed=3, base=Settings(),
                              echo=lines.append, browser=chromium)
    json.dumps(out)  # the last line of the command
    assert out["jobs"] == 30 and out["technicians"] == 2 and out["cores"] >= 1 and out["chromium"]
    assert out["board"]["mapJobs"] == 30 and out["board"]["rows"] >= 2
    assert out["board"]["cards"] <= out["board"]["queue"]
    (load,) = out["loads"]
    assert 0 < load["rendered_ms"] <= load["usable_ms"] and load["requests"] > 0
    for heap in (out["heap_after_load"], out["heap_after_events"]):
        assert heap["js_heap_used_mb"] > 0 and heap["dom_nodes"] > 0
    assert set(out["events"]) == set(console_browser.KINDS)
    for kind, summary in out["events"].items():
        assert summary["events"] == 2
        assert kind in summary["ws_kinds"]  # the page received the event the action raised
        for key in ("longest_task_ms", "blocking_ms", "handler_task_ms"):
            assert set(summary[key]) == {"p50", "p95", "max"}
        assert summary["ws_bytes_per_event"] > 0
    assert any(line.startswith("technician.location:") for line in lines)
