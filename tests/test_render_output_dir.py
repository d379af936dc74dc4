"""`render --out` cannot destroy a directory: only an earlier render (or an empty or new
directory) is replaced, never the project or working directory, and a failed render leaves the
previous one as it was."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pyroscope_bundle.cli import main as cli_main
from pyroscope_bundle.render import command as render_command_module
from pyroscope_bundle.render.output_dir import MARKER

from tests.harness import PROJECT_DIR


def _render(out: Path, *extra: str) -> int:
    return cli_main(
        ["render", "--stack", "local", "--out", str(out), "--project-dir", str(PROJECT_DIR), *extra]
    )


def test_a_directory_with_other_content_is_refused_and_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.md").write_text("my notes")
    assert _render(notes) == 2
    err = capsys.readouterr().err
    assert "is not empty and is not an earlier render" in err and "Traceback" not in err
    assert (notes / "todo.md").read_text() == "my notes"


def test_an_earlier_render_with_a_user_file_added_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rendered"
    assert _render(out) == 0
    (out / "review-notes.txt").write_text("keep me")
    assert _render(out) == 2
    assert (out / "review-notes.txt").read_text() == "keep me"
    capsys.readouterr()


@pytest.mark.parametrize("where", ["project", "cwd", "parent-of-cwd"])
def test_project_and_working_directories_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    work = tmp_path / "work"
    (work / ".git").mkdir(parents=True)
    (work / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    monkeypatch.chdir(work)
    target = {"project": PROJECT_DIR, "cwd": Path("."), "parent-of-cwd": tmp_path}[where]
    assert _render(target) == 2
    assert "which a render would replace" in capsys.readouterr().err
    assert (work / ".git" / "HEAD").is_file()
    assert (PROJECT_DIR / "stacks").is_dir()


def test_an_earlier_render_is_replaced_and_an_empty_directory_accepted(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    out.mkdir()
    assert _render(out) == 0
    assert (out / MARKER).is_file() and (out / "resources.json").is_file()
    stale = out / "kubernetes" / "stale.yaml"
    stale.parent.mkdir(exist_ok=True)
    stale.write_text("from an older render")
    assert _render(out) == 0
    assert not stale.exists(), "the render replaces the whole earlier render"
    leftovers = [entry.name for entry in tmp_path.iterdir() if entry.name.startswith(".rendered.")]
    assert leftovers == []


def test_a_failed_render_leaves_the_previous_render_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "rendered"
    assert _render(out) == 0
    before = {path.relative_to(out): path.read_bytes() for path in out.rglob("*") if path.is_file()}

    def fail_half_way(run: object, staging: Path, stack: str, atoms: object = None) -> dict[str, int]:
        (staging / "resources.json").write_text("{half written")
        raise OSError("disk full")

    monkeypatch.setattr(render_command_module, "write_render", fail_half_way)
    with pytest.raises(OSError, match="disk full"):
        render_command_module.render(PROJECT_DIR, "local", out)
    after = {path.relative_to(out): path.read_bytes() for path in out.rglob("*") if path.is_file()}
    assert after == before
    assert [entry.name for entry in tmp_path.iterdir()] == ["rendered"]


def test_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "file.txt"
    target.write_text("x")
    assert _render(target) == 2
    assert "is a file" in capsys.readouterr().err
    assert target.read_text() == "x"
    assert os.path.isfile(target)
