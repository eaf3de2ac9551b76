"""First contact with the command line: what a bare command says, and error lines."""

import argparse

from drumrnn.cli import build_parser, main


def test_bare_drumrnn_lists_the_commands(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert len(sub.choices) >= 10
    for name in sub.choices:
        assert f"    {name}" in out


def test_info_without_a_path_describes_the_bundled_model(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "default.npz" in out and "network: " in out and "parameters" in out


def test_missing_files_are_named(tmp_path, capsys):
    missing = tmp_path / "nothere.mid"
    assert main(["generate", "--primer", str(missing), "--out", str(tmp_path / "o")]) == 1
    assert main(["encode", str(missing)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [f"drumrnn generate: error: {missing}: no such file",
                   f"drumrnn encode: error: {missing}: no such file"]
