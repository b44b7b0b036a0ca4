"""The example plugins' backends pass the backend contract (in process; the isolated runs are elsewhere)."""

import itertools

import pytest

from examples.plugins import file_results, sqlite_queue
from nuvom.testing.contract import queue_contract_checks, result_contract_checks

_files = itertools.count()


@pytest.mark.parametrize("check", queue_contract_checks(), ids=lambda c: c.name)
def test_the_docs_queue_backend_meets_the_contract(check, tmp_path, monkeypatch):
    def fresh():
        monkeypatch.setitem(sqlite_queue.DB_PATH, "path", str(tmp_path / f"q{next(_files)}.db"))
        return sqlite_queue.MyQueue()

    check.run(fresh)


@pytest.mark.parametrize("check", result_contract_checks(), ids=lambda c: c.name)
def test_the_file_result_backend_meets_the_contract(check, tmp_path, monkeypatch):
    def fresh():
        monkeypatch.setitem(file_results.CONFIG, "path", str(tmp_path / f"r{next(_files)}.db"))
        return file_results.FileResults()

    check.run(fresh)
