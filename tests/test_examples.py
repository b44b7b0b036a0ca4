"""The examples run as documented."""

import subprocess
import sys

from tests.conftest import PROJECT_ROOT


def test_quickstart_runs_end_to_end():
    result = subprocess.run(
        [sys.executable, "-m", "examples.quickstart"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "add(4, 40)" in result.stdout and "-> 44" in result.stdout
    assert "succeeded on attempt 3" in result.stdout
    assert "FAILED: ZeroDivisionError" in result.stdout
    assert "worker stopped with exit code 0" in result.stdout


def test_throughput_benchmark_runs():
    result = subprocess.run(
        [sys.executable, "benchmarks/throughput.py", "--quick"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "sqlite / memory" in result.stdout
