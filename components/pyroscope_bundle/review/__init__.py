"""Review tooling: compare two renders resource by resource (``pyroscope-bundle diff``)."""

from pyroscope_bundle.review.diff import Report, diff_dirs
from pyroscope_bundle.review.format import to_markdown, to_text

__all__ = ["Report", "diff_dirs", "to_markdown", "to_text"]
