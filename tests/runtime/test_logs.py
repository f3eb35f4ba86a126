"""Replica logs: copytruncate rotation keeping K files, and reading tails and offsets."""

from __future__ import annotations

import os
from pathlib import Path

from modelplane.runtime import LogRotator, read_log


def test_rotation_copies_truncates_and_keeps_k_old_files(tmp_path: Path) -> None:
    log = tmp_path / "r1.log"
    rotator = LogRotator(max_bytes=10, keep=3)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)  # as the replica holds it
    try:
        for generation in range(5):
            os.write(fd, f"generation {generation}\n".encode())
            assert rotator.rotate_if_needed(log)
        os.write(fd, b"after\n")
    finally:
        os.close(fd)
    assert log.read_text() == "after\n"  # the writer continues at the start of the truncated file
    assert [(tmp_path / f"r1.log.{i}").read_text() for i in (1, 2, 3)] == [
        "generation 4\n",
        "generation 3\n",
        "generation 2\n",
    ]
    assert not (tmp_path / "r1.log.4").exists()


def test_small_or_missing_logs_are_left_alone(tmp_path: Path) -> None:
    log = tmp_path / "r1.log"
    assert not LogRotator().rotate_if_needed(log)
    log.write_text("short\n")
    assert not LogRotator(max_bytes=100).rotate_if_needed(log)
    assert log.read_text() == "short\n"


def test_read_log_tail_lines(tmp_path: Path) -> None:
    log = tmp_path / "r1.log"
    log.write_text("".join(f"line {i}\n" for i in range(10)))
    assert read_log(log, tail_lines=3).text == "line 7\nline 8\nline 9\n"
    assert read_log(log, tail_lines=50).text.count("\n") == 10
    assert read_log(log, tail_lines=0).text == ""
    log.write_text("a\nb\npartial")
    assert read_log(log, tail_lines=2).text == "b\npartial"


def test_read_log_follows_from_an_offset_and_restarts_after_rotation(tmp_path: Path) -> None:
    log = tmp_path / "r1.log"
    log.write_text("first\n")
    chunk = read_log(log)
    assert (chunk.text, chunk.offset) == ("first\n", 6)
    with open(log, "a") as file:
        file.write("second\n")
    chunk = read_log(log, offset=chunk.offset)
    assert (chunk.text, chunk.offset) == ("second\n", 13)
    assert read_log(log, offset=chunk.offset).text == ""
    LogRotator(max_bytes=1).rotate(log)
    log.write_text("new\n")
    assert read_log(log, offset=chunk.offset).text == "new\n"  # rotated under us: from the start


def test_read_missing_log_is_empty(tmp_path: Path) -> None:
    chunk = read_log(tmp_path / "none.log", tail_lines=5)
    assert (chunk.text, chunk.offset) == ("", 0)
