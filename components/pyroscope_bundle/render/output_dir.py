"""Where a render may be written, and writing it so a failure leaves the previous one intact.

``render --out DIR`` replaces DIR. That is only safe when DIR holds nothing but an earlier render:
a directory with anything else in it (a user's notes, a checkout's ``.git``), the project
directory, the working directory or one of their parents is refused. The new render is written
to a temporary sibling and swapped in, so an error half-way never leaves a half-written render.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

# Written into every render: what makes a directory safe to replace.
MARKER = ".pyroscope-bundle-render"
# Everything a render writes at its top level (renders from before the marker have no marker).
RENDER_ENTRIES = frozenset(
    {MARKER, "resources.json", "outputs.json", "secrets.json", "kubernetes", "ecs", "files"}
)

MARKER_TEXT = "written by `pyroscope-bundle render`; the next render replaces this directory\n"

T = TypeVar("T")


class OutputDirError(ValueError):
    """An output directory the render refuses to replace; the text says why and what to do."""


def is_earlier_render(path: Path) -> bool:
    """A directory holding exactly what a render writes (its marker, or a pre-marker render)."""
    entries = {entry.name for entry in path.iterdir()}
    if not entries <= RENDER_ENTRIES:
        return False
    return MARKER in entries or {"resources.json", "outputs.json"} <= entries


def check_output_dir(out_dir: Path, protected: list[Path]) -> None:
    """Raise :class:`OutputDirError` unless ``out_dir`` may be (re)written by a render."""
    target = out_dir.resolve()
    for place in protected:
        resolved = place.resolve()
        if target == resolved or target in resolved.parents:
            raise OutputDirError(
                f"--out {out_dir}: is {'' if target == resolved else 'a parent of '}{resolved}, which a "
                "render would replace; use a directory of its own, e.g. --out rendered/<stack>"
            )
    if target == Path(target.anchor) or target == Path.home().resolve():
        raise OutputDirError(
            f"--out {out_dir}: refusing to replace {target}; use e.g. --out rendered/<stack>"
        )
    if not target.exists():
        return
    if not target.is_dir():
        raise OutputDirError(f"--out {out_dir}: is a file, not a directory; choose a new or empty directory")
    if any(target.iterdir()) and not is_earlier_render(target):
        raise OutputDirError(
            f"--out {out_dir}: is not empty and is not an earlier render (it would be deleted); "
            "choose a new or empty directory"
        )


def write_output(out_dir: Path, write: Callable[[Path], T]) -> T:
    """Run ``write`` into a temporary sibling of ``out_dir``, then swap it in; on any error the
    previous content of ``out_dir`` stays as it was."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.parent / f".{out_dir.name}.render-new-{os.getpid()}"
    old = out_dir.parent / f".{out_dir.name}.render-old-{os.getpid()}"
    for leftover in (staging, old):
        shutil.rmtree(leftover, ignore_errors=True)
    staging.mkdir()
    try:
        result = write(staging)
        (staging / MARKER).write_text(MARKER_TEXT, encoding="utf-8")
        if out_dir.exists():
            out_dir.rename(old)
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if old.exists() and not out_dir.exists():
            old.rename(out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return result
