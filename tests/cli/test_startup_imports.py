"""A command's fixed cost: ``medreview --version``, ``--help`` and ``stats --help`` load no
heavy library and nothing of the storage or services layers; a command imports only its own
module; and the parser built for one command says and parses exactly what the full one does.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from medreview.cli.main import COMMANDS, build_parser
from tests.qt.test_startup_imports import HEAVY, LINE, _chain

# What `--version` and `--help` must not need: the database layers and their libraries.
# (``medreview.services.exporting`` names the export kinds for ``export --kind``: plain values.)
NOT_AT_START = (*HEAVY, "PySide6", "medreview.storage", "medreview.stats", "medreview.study",
                "medreview.importers", "medreview.exporters", "medreview.judge.runner")
MARK = "MODULES-LOADED "


def _loaded(args: list[str]) -> tuple[set[str], dict[str, str]]:
    """Every module in ``sys.modules`` after ``main(args)`` in a fresh interpreter, and for
    each banned one found, who imported it (``-X importtime`` does not list modules loaded
    through ``importlib.import_module``, as the commands are, but lists what they import)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    statement = (f"import sys\nfrom medreview.cli.main import main\ntry:\n    main({args!r})\n"
                 f"except SystemExit:\n    pass\nprint({MARK!r} + ' '.join(sys.modules))")
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", statement],
                          capture_output=True, text=True, env=env, timeout=120, check=True)
    names = set(done.stdout.rpartition(MARK)[2].split())
    entries = [(len(m.group(1)) // 2, m.group(2))
               for m in map(LINE.match, done.stderr.splitlines()) if m]
    found: dict[str, str] = {}
    for banned in NOT_AT_START:
        hits = [n for n in names if n == banned or n.startswith(banned + ".")]
        if hits:
            chains = [_chain(entries, i) for i, (_, n) in enumerate(entries) if n in hits]
            found[banned] = chains[0] if chains else hits[0]
    return names, found


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["stats", "--help"],
                                  ["team", "pool", "--help"]])
def test_version_and_help_load_nothing_heavy(args: list[str]) -> None:
    names, found = _loaded(args)
    assert "medreview.cli.main" in names
    assert not found, "loaded before any work:\n" + "\n".join(found.values())


def test_a_command_imports_only_its_own_module() -> None:
    names = _loaded(["stats", "--help"])[0]
    commands = {n for n in names if n.startswith("medreview.cli.cmd_")}
    assert commands == {"medreview.cli.cmd_stats"}
    everything = _loaded(["--help"])[0]
    assert {f"medreview.cli.cmd_{c.replace('-', '_')}" for c in COMMANDS} <= everything


def test_the_check_sees_a_heavy_import() -> None:
    """The same check on a command that does load the storage layer (so it can fail)."""
    _, found = _loaded(["info", "/nonexistent/project"])
    assert "sqlalchemy" in found and "medreview.storage" in found


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> Iterator[
    tuple[tuple[str, ...], argparse.ArgumentParser]
]:
    for name, sub in _subparsers(parser).items():
        yield (*prefix, name), sub
        yield from _paths(sub, (*prefix, name))


def _at(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> argparse.ArgumentParser:
    for name in path:
        parser = _subparsers(parser)[name]
    return parser


def test_the_parser_of_one_command_is_the_full_parsers_part(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    full = build_parser()
    paths = list(_paths(full))
    assert len({p[0] for p, _ in paths}) == len(COMMANDS)
    for path, sub in paths:
        for argv in ([*path, "--help"], ["--read-only", *path, "--help"]):
            lazy = build_parser(argv)
            assert set(_subparsers(lazy)) == {path[0]}, argv
            assert _at(lazy, path).format_help() == sub.format_help(), path
    # --help, --version, a missing or unknown command: the full parser, as before
    for argv in (["--help"], ["--version"], [], ["--read-only"], ["nosuch"], ["-h", "stats"]):
        assert set(_subparsers(build_parser(argv))) == set(COMMANDS), argv
    assert full.format_help() == build_parser(["--help"]).format_help()


@pytest.mark.parametrize("argv", [
    ["stats", "p", "--no-ci", "--by", "rater"],
    ["--read-only", "export", "p", "out", "--kind", "media"],
    ["team", "pool", "p", "--needed", "3"],
    ["import", "p", "a.jsonl", "b.jsonl"],
])
def test_one_commands_parser_parses_as_the_full_one(argv: list[str]) -> None:
    assert vars(build_parser(argv).parse_args(argv)) == vars(build_parser().parse_args(argv))
