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


def test_rpc_benchmark_runs_and_prints_every_ratio_it_documents():
    result = subprocess.run(
        [sys.executable, "benchmarks/rpc.py", "--quick"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    for ratio in ("small latency, pool / raw", "batches in flight / one at a time (pool)",
                  "ceiling set by CPU per pipelined call", "bare plain-msgpack loop in flight",
                  "batches in flight (pool) / managers"):
        assert ratio in result.stdout


def test_demo_runs_jobs_through_plugin_hosts_and_reports_the_bad_plugins():
    result = subprocess.run(
        [sys.executable, "-m", "examples.demo"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=90,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "add(4, 40)" in result.stdout and "-> 44" in result.stdout
    assert "FAILED: ZeroDivisionError" in result.stdout
    listing = result.stdout.split("$ nuvom plugin list", 1)[1]
    rows = [line.split() for line in listing.splitlines() if line.strip().startswith(("queue_", "result_"))]
    states = {row[1]: row[4] for row in rows}
    assert states == {"my_queue": "running", "file_results": "running", "bad_segfault": "failed", "bad_hang": "failed"}
    assert "plugin 'bad_segfault': host died during start(): killed by SIGSEGV" in result.stdout
    assert "plugin 'bad_hang': start() timed out after 1 s; where it was:" in result.stdout
    assert "misbehaving/plugins.py" in result.stdout.split("where it was:", 1)[1], "the hang's location is missing"
    assert "Traceback" not in result.stderr


def test_plugin_benchmark_runs():
    result = subprocess.run(
        [sys.executable, "benchmarks/plugins.py", "--quick"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr
    for ratio in ("isolated / in-process", "cold start / bare", "10 plugins / (10 x 1)", "memory of an idle host"):
        assert ratio in result.stdout
