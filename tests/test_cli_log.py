"""The library logs and never prints; the ``render3d`` command prints what it logs, and only while it runs."""

from __future__ import annotations

import logging

import render3d
from render3d.cli import _library_log, main
from render3d.models import SeedCNN

log = logging.getLogger("render3d")


def test_the_python_api_prints_nothing(tmp_path, capsys):
    path = render3d.explain(SeedCNN(), layer="conv1", path=tmp_path / "conv1.png", size=(320, 192), probe="digit:3")
    assert path.is_file()
    assert capsys.readouterr() == ("", "")


def test_the_command_prints_info_records_to_stdout_unadorned(capsys):
    with _library_log():
        log.info("wrote %s: %d frames", "x.mp4", 3)
    assert capsys.readouterr() == ("wrote x.mp4: 3 frames\n", "")


def test_the_command_prints_warnings_to_stderr(capsys):
    with _library_log():
        log.warning("kept %s", "a.png")
    assert capsys.readouterr() == ("", "kept a.png\n")


def test_the_command_leaves_the_logger_as_it_was(capsys):
    assert main(["trace", "render3d:SeedCNN"]) == 0
    assert (log.handlers, log.level) == ([], logging.NOTSET)
    log.info("after the command")
    assert "after the command" not in capsys.readouterr().out
