"""First contact with the command line: what a bare command says, and error lines."""

from drumrnn.cli import COMMANDS, main


def test_bare_drumrnn_lists_the_commands(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    for name in ("prepare", "train", "generate", "evaluate", "info"):
        assert f"    {name}" in out
    assert len(COMMANDS) == 10


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
