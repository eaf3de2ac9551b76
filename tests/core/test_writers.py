"""Writers on full and read-only filesystems, stale temporary files, and folder locks."""

import errno
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from drumrnn.cli import main
from drumrnn.core.atomic import atomic_directory, remove_stale_temp_files, write_text_atomic
from drumrnn.core.errors import DrumrnnError
from drumrnn.core.lock import folder_lock, lock_path
from drumrnn.data.dataset import PrepareConfig, prepare
from drumrnn.model.model_file import save_model_file
from tests.conftest import PATTERN_SPLIT

BUNDLED_ARGS = ["generate", "--bars", "8", "--num", "2", "--seed", "1"]


def leftovers(folder: Path) -> list[str]:
    """Names in ``folder`` (recursively) that a failed write must not leave: temporary
    files and empty files."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if (p.name.startswith(".") and not p.name.endswith(".lock"))
                  or (p.is_file() and p.stat().st_size == 0))


def _limit_file_size(limit: int):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def drumrnn_with_small_disk(argv, limit=300):
    """Run the CLI where no file may grow past ``limit`` bytes: writes fail part-way,
    as on a disk that fills up."""
    return subprocess.run([sys.executable, "-m", "drumrnn", *map(str, argv)],
                          capture_output=True, text=True, preexec_fn=_limit_file_size(limit),
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def assert_one_line_failure(proc, command):
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"drumrnn {command}: error: cannot write"), \
        proc.stderr
    assert "Traceback" not in proc.stderr


def test_generate_on_a_full_disk_fails_in_one_line_and_leaves_nothing(tmp_path):
    out = tmp_path / "gen"
    proc = drumrnn_with_small_disk([*BUNDLED_ARGS, "--out", out, "--png"])
    assert_one_line_failure(proc, "generate")
    assert not list(out.glob("drums_*")) and leftovers(out) == []


def test_prepare_on_a_full_disk_fails_in_one_line_and_keeps_the_old_dataset(tmp_path, rock_folder):
    out = tmp_path / "data"
    prepare(rock_folder, out, PrepareConfig(split_fractions=PATTERN_SPLIT))
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    proc = drumrnn_with_small_disk(["prepare", rock_folder, "--out", out, "--quiet",
                                    "--steps-per-quarter", "3"])
    assert_one_line_failure(proc, "prepare")
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert leftovers(tmp_path) == []


def test_evaluate_json_on_a_full_disk_fails_in_one_line(tmp_path, rock_folder):
    prepare(rock_folder, tmp_path / "data", PrepareConfig(split_fractions=PATTERN_SPLIT))
    from drumrnn.generation.generate import bundled_model_path

    proc = drumrnn_with_small_disk(["evaluate", bundled_model_path(), tmp_path / "data",
                                    "--json", tmp_path / "out" / "eval.json"], limit=100)
    assert_one_line_failure(proc, "evaluate")
    assert not (tmp_path / "out" / "eval.json").exists() and leftovers(tmp_path / "out") == []


def test_train_on_a_full_disk_fails_in_one_line(tmp_path, rock_folder):
    prepare(rock_folder, tmp_path / "data", PrepareConfig(split_fractions=PATTERN_SPLIT))
    proc = drumrnn_with_small_disk(["train", tmp_path / "data", "--out", tmp_path / "run",
                                    "--hidden", "8", "--layers", "1", "--max-steps", "4",
                                    "--eval-every", "2", "--threads", "1", "--quiet"])
    assert_one_line_failure(proc, "train")
    assert leftovers(tmp_path / "run") == []


def _read_only(monkeypatch):
    """Every new file or folder fails as on a read-only filesystem (errno 30)."""
    import tempfile

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    monkeypatch.setattr(tempfile, "mkdtemp", refuse)


def test_writers_on_a_read_only_filesystem_say_so_in_one_line(tmp_path, monkeypatch, capsys):
    _read_only(monkeypatch)
    assert main([*BUNDLED_ARGS, "--out", str(tmp_path / "gen")]) == 1
    assert "is not writable" in capsys.readouterr().err
    with pytest.raises(DrumrnnError, match=r"cannot write .*m\.npz: Read-only file system"):
        save_model_file(tmp_path / "m.npz", {}, {"w": np.ones(3)})
    with pytest.raises(DrumrnnError, match="cannot write .*data: Read-only file system"), \
            atomic_directory(tmp_path / "data"):
        pass
    assert leftovers(tmp_path) == []


def test_a_failed_flush_leaves_neither_target_nor_temporary_file(tmp_path, monkeypatch):
    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(DrumrnnError, match="cannot write .*a.txt: No space left on device"):
        write_text_atomic(tmp_path / "a.txt", "hello")
    assert list(tmp_path.iterdir()) == []


def test_a_writer_that_silently_writes_nothing_is_caught(tmp_path, monkeypatch):
    import drumrnn.render.outputs as outputs
    from drumrnn.data.hits import DrumHits
    from drumrnn.data.kits import get_kit

    class Silent:
        def dumps_midi(self):  # what symusic's dump_midi gave on a full disk: no bytes
            return b""

    monkeypatch.setattr(outputs, "hits_to_score", lambda *a, **k: Silent())
    hits = DrumHits(np.array([0.0]), np.array([36]), np.array([100]))
    with pytest.raises(DrumrnnError, match="cannot write"):
        outputs.write_patterns([hits], tmp_path / "out", get_kit("9"), bars=1)
    assert list((tmp_path / "out").iterdir()) == []


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_temporary_files_of_dead_writers_are_removed_by_the_next_write(tmp_path):
    dead, alive = _dead_pid(), os.getpid()
    stale = tmp_path / f".model.npz.{dead}-abcd1234.tmp"
    stale_dir = tmp_path / f".data.{dead}-abcd1234.tmp"
    live = tmp_path / f".model.npz.{alive}-abcd1234.tmp"
    foreign = tmp_path / ".model.npz.abcd1234.tmp"  # not our pattern: never touched
    for path in (stale, live, foreign):
        path.write_bytes(b"x" * 10)
    stale_dir.mkdir()
    (stale_dir / "tokens.npy").write_bytes(b"x")
    # killed between moving a dataset aside and putting the new one in place
    aside = tmp_path / f".data.{dead}-abcd1234.old"
    (aside / "previous").mkdir(parents=True)
    (aside / "previous" / "manifest.json").write_text("{}")
    save_model_file(tmp_path / "model.npz", {}, {"w": np.ones(3)})
    assert not stale.exists() and not stale_dir.exists() and not aside.exists()
    assert (tmp_path / "data" / "manifest.json").read_text() == "{}"
    assert live.exists() and foreign.exists()
    assert remove_stale_temp_files(tmp_path) == []


HOLD = "import sys, time; from drumrnn.core.lock import folder_lock\n" \
       "with folder_lock(sys.argv[1], beside=sys.argv[2] == 'beside'):\n" \
       "    print('held', flush=True); time.sleep(60)"


@pytest.mark.parametrize("where", ["beside", "inside"])
def test_a_second_run_into_a_locked_folder_is_refused_until_the_holder_dies(tmp_path, rock_folder,
                                                                           capsys, where):
    out = tmp_path / "out"
    # prepare replaces its folder whole, so it locks beside it; generate locks inside
    argv = (["prepare", str(rock_folder), "--out", str(out), "--quiet"] if where == "beside"
            else [*BUNDLED_ARGS, "--out", str(out)])
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out), where],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert f"is in use by another drumrnn run (process {holder.pid}" in err
        assert len(err.strip().splitlines()) == 1
    finally:
        holder.kill()
        holder.wait()
    lock = lock_path(out, beside=where == "beside")
    assert lock.exists()  # killed: its lock file is stale, not removed
    assert main(argv) == 0
    assert not lock.exists()


def test_the_lock_is_released_on_errors_and_names_the_holder(tmp_path):
    with pytest.raises(RuntimeError), folder_lock(tmp_path / "x"):
        assert lock_path(tmp_path / "x").read_text().strip() == str(os.getpid())
        raise RuntimeError
    assert not lock_path(tmp_path / "x").exists()
    with folder_lock(tmp_path / "x"), \
            pytest.raises(DrumrnnError, match=f"process {os.getpid()}"), \
            folder_lock(tmp_path / "x"):
        pass


def _can_mount() -> bool:
    if os.geteuid() != 0:
        return False
    probe = Path("/tmp") / f"drumrnn-mount-probe-{os.getpid()}"
    probe.mkdir(exist_ok=True)
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)],
                        capture_output=True).returncode == 0
    if ok:
        subprocess.run(["umount", str(probe)], capture_output=True)
    probe.rmdir()
    return ok


@pytest.mark.skipif(not _can_mount(), reason="needs root to mount small and read-only tmpfs")
@pytest.mark.parametrize("options", ["size=16k", "ro"])
def test_real_full_and_read_only_filesystems(tmp_path, rock_folder, options):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mnt)], check=True)
    try:
        prepare(rock_folder, tmp_path / "data", PrepareConfig(split_fractions=PATTERN_SPLIT))
        from drumrnn.generation.generate import bundled_model_path

        runs = {"generate": [*BUNDLED_ARGS, "--num", "16", "--bars", "64", "--out", mnt / "gen"],
                "prepare": ["prepare", rock_folder, "--out", mnt / "data", "--quiet"],
                "evaluate": ["evaluate", bundled_model_path(), tmp_path / "data", "--json",
                             mnt / "eval.json"],
                "train": ["train", tmp_path / "data", "--out", mnt / "run", "--hidden", "8",
                          "--layers", "1", "--max-steps", "4", "--eval-every", "2",
                          "--threads", "1", "--quiet"]}
        if options == "ro":
            runs["generate"][-1] = mnt  # the folder exists but cannot be written
        for command, argv in runs.items():
            proc = subprocess.run([sys.executable, "-m", "drumrnn", *map(str, argv)],
                                  capture_output=True, text=True)
            if options.startswith("size") and command == "evaluate":
                assert proc.returncode == 0  # a small JSON fits
                continue
            assert proc.returncode == 1, (command, proc.stderr)
            assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
            assert "Traceback" not in proc.stderr
        assert leftovers(mnt) == []
    finally:
        time.sleep(0.1)
        subprocess.run(["umount", str(mnt)], capture_output=True)
