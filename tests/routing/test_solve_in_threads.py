"""Solving on both cores from inside a multi-threaded process (the API server runs solves on a thread):
the worker pool must not inherit other threads' locks (no ``fork`` there) and must return."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.solomon import read_instance, to_problem
from routing import check_feasibility, solve
from routing._search import _pool_context

SOLOMON = Path(__file__).resolve().parents[3] / "shared" / "data" / "solomon"


def test_two_core_solve_from_a_worker_thread_returns_a_feasible_plan():
    problem = to_problem(read_instance(SOLOMON / "instances" / "C101.txt"))
    stop = threading.Event()
    busy = threading.Thread(target=stop.wait, daemon=True)  # another thread, as in a server
    busy.start()
    try:
        assert _pool_context().get_start_method() != "fork"
        with ThreadPoolExecutor(1) as pool:
            plan = pool.submit(solve, problem, time_limit_s=2, seed=0, workers=2).result(timeout=120)
    finally:
        stop.set()
    assert check_feasibility(problem, plan) == []
    assert not plan.unassigned


def test_single_threaded_callers_keep_the_fast_fork_start():
    assert threading.active_count() >= 1
    if threading.active_count() == 1:
        assert _pool_context().get_start_method() == "fork"


def test_workers_do_not_rerun_the_callers_main_script(tmp_path: Path) -> None:
    """A forkserver worker used to run the caller's main script again before its task (from the ``groundcrew``
    command: the whole server, ~0.7 s of CPU per worker per solve)."""
    import subprocess
    import sys

    marker = tmp_path / "main-script-ran-in-a-worker"
    script = tmp_path / "caller.py"
    script.write_text(f"""
import threading
if __name__ == "__mp_main__":
    open({str(marker)!r}, "a").write("ran\\n")
if __name__ == "__main__":
    from benchmarks.solomon import read_instance, to_problem
    from routing import check_feasibility, solve
    from routing._search import _pool_context
    stop = threading.Event()
    threading.Thread(target=stop.wait, daemon=True).start()  # a server has other threads: no plain fork
    assert _pool_context().get_start_method() != "fork"
    problem = to_problem(read_instance({str(SOLOMON / "instances" / "C101.txt")!r}))
    plan = solve(problem, time_limit_s=1, workers=2)
    stop.set()
    assert check_feasibility(problem, plan) == [] and not plan.unassigned
    print("solved")
""")
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, str(script)], cwd=root, capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "PYTHONPATH": str(root)})
    assert done.returncode == 0 and "solved" in done.stdout, done.stderr[-2000:]
    assert not marker.exists()
