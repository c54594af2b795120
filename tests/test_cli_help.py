"""Every subcommand has a useful --help and the CLI's errors are one line."""

import argparse

import pytest

from infoscrub.cli import build_parser, main


def _all_command_paths():
    paths = []

    def walk(parser, prefix):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    paths.append(prefix + [name])
                    walk(sub, prefix + [name])

    walk(build_parser(), [])
    return paths


COMMANDS = _all_command_paths()


def test_expected_commands_exist():
    names = {" ".join(p) for p in COMMANDS}
    for expected in ("data check", "data pack", "train stage1", "train stage2", "train adversary",
                     "train stargan", "train icgan"):
        assert expected in names


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p))
def test_help(path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(path + ["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: infoscrub " + " ".join(path) in out
    assert len(out.splitlines()) >= 3


def test_unknown_attribute_is_one_line(capsys, tmp_path):
    code = main(["train", "stage1", "--out", str(tmp_path / "r"), "--attributes", "Mal", "--print-config"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("infoscrub: error: unknown attribute 'Mal'") and err.count("\n") == 1
