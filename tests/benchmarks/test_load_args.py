"""The load benchmarks refuse numbers they cannot run with, naming the option (a zero rate used to crash locust)."""

from __future__ import annotations

import pytest

from benchmarks.load import endpoint_cpu, run


@pytest.mark.parametrize("argv, named", [
    (["--client-rate", "0"], "--client-rate: 0 is below the minimum 0.01"),
    (["--seconds", "x"], "--seconds: 'x' is not an integer"),
    (["--processes", "0"], "--processes: 0 is below the minimum 1"),
])
def test_the_load_run_names_a_bad_option(argv: list[str], named: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        run.main(argv)
    assert stop.value.code == 2 and named in capsys.readouterr().err


def test_the_endpoint_benchmark_needs_at_least_one_request(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        endpoint_cpu.main(["--requests", "0"])
    assert "--requests: 0 is below the minimum 1" in capsys.readouterr().err


def test_good_numbers_pass() -> None:
    assert run.at_least(0.01, float)("2.5") == 2.5 and run.at_least(1)("3") == 3
