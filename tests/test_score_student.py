"""scripts/score_student.sh: refuses, before any work, a student it cannot score or a file it would overwrite."""
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).parents[1]


def _tree(tmp_path):
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "score_student.sh", tmp_path / "scripts")
    return tmp_path / "scripts" / "score_student.sh"


def _run(script, *args):
    return subprocess.run(["bash", str(script), *args], capture_output=True, text=True)


def test_a_missing_checkpoint_is_named(tmp_path):
    script = _tree(tmp_path)
    res = _run(script, "fernet-none")
    assert res.returncode == 1 and "runs/fernet-none/best.pt: no such checkpoint" in res.stderr
    res = _run(script)
    assert res.returncode != 0 and "usage" in res.stderr


def test_an_existing_int8_file_is_not_overwritten(tmp_path):
    script = _tree(tmp_path)
    (tmp_path / "runs" / "fernet-s").mkdir(parents=True)
    (tmp_path / "runs" / "fernet-s" / "best.pt").write_bytes(b"ckpt")
    (tmp_path / "runs" / "fernet-s" / "fernet-s-int8.onnx").write_bytes(b"mine")
    res = _run(script, "fernet-s")
    assert res.returncode == 1 and "runs/fernet-s/fernet-s-int8.onnx exists" in res.stderr
    assert (tmp_path / "runs" / "fernet-s" / "fernet-s-int8.onnx").read_bytes() == b"mine"
