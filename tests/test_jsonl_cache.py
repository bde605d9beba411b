"""Append-only JSONL that survives a killed writer, and the on-disk cache."""

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from deepsport.cache import DiskCache, cache_key
from deepsport.jsonl import JsonlAppender, finished_ids, read_jsonl


def test_appender_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "out" / "results.jsonl"
    assert read_jsonl(path) == []
    with JsonlAppender(path) as out:
        out.write({"id": "a", "x": 1})
        out.write({"id": "b", "text": "é"})
    assert read_jsonl(path) == [{"id": "a", "x": 1}, {"id": "b", "text": "é"}]
    assert finished_ids(path) == {"a", "b"}


def test_writer_killed_mid_line_loses_only_that_line(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    script = f"""
import os, signal
from deepsport.jsonl import JsonlAppender
out = JsonlAppender({str(path)!r})
out.write({{"id": "a"}})
out._file.write('{{"id": "b", "half')  # a record cut short by the kill
out._file.flush()
os.kill(os.getpid(), signal.SIGKILL)
"""
    assert subprocess.run([sys.executable, "-c", script]).returncode == -9
    assert read_jsonl(path) == [{"id": "a"}]
    with JsonlAppender(path) as out:  # the restarted job appends after the last complete line
        out.write({"id": "b"})
    assert path.read_text().splitlines() == ['{"id": "a"}', '{"id": "b"}']


def test_corrupt_middle_line_is_an_error_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text('{"id": "a"}\nnot json\n{"id": "c"}\n')
    with pytest.raises(ValueError, match=r"results.jsonl:2: not valid JSON"):
        read_jsonl(path)


def test_cache_key_ignores_dict_order() -> None:
    assert cache_key({"a": 1, "b": [1, 2]}, "m") == cache_key({"b": [1, 2], "a": 1}, "m")
    assert cache_key({"a": 1}, "m") != cache_key({"a": 2}, "m")


def test_disk_cache_persists_and_is_thread_safe(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path / "cache.sqlite")
    assert cache.get("missing") is None

    def fill(start: int) -> None:
        for i in range(start, start + 50):
            cache.put(f"k{i}", {"value": i, "list": [i]})

    threads = [threading.Thread(target=fill, args=(n * 50,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cache.close()
    reopened = DiskCache(tmp_path / "cache.sqlite")
    assert len(reopened) == 200
    assert reopened.get("k123") == {"value": 123, "list": [123]}
    reopened.put("k123", "replaced")
    assert reopened.get("k123") == "replaced"
    assert json.dumps(reopened.get("k0")) == '{"value": 0, "list": [0]}'
