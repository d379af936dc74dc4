"""``pyroscope-bundle diff BASE HEAD``: exit 0 when nothing changed, 1 when something did, 2 on error."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

from pyroscope_bundle.review.diff import diff_dirs
from pyroscope_bundle.review.format import to_markdown, to_text
from pyroscope_bundle.review.load import RenderDirError

NO_CHANGES, CHANGES, ERROR = 0, 1, 2


def diff_command(base: Path, head: Path, output_format: Literal["markdown", "text"] = "text") -> int:
    try:
        report = diff_dirs(base, head)
    except RenderDirError as error:
        print(f"error: {error}", file=sys.stderr)
        return ERROR
    sys.stdout.write(to_markdown(report) if output_format == "markdown" else to_text(report))
    return CHANGES if report.has_changes else NO_CHANGES
