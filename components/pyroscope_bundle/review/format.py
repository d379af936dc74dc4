"""Turn a :class:`~pyroscope_bundle.review.diff.Report` into a PR comment (markdown) or text.

Replacements and data volumes get markers a reviewer cannot miss; the bulk (value tables,
file diffs) sits in collapsed ``<details>`` so a big change still reads top-down.
"""

from __future__ import annotations

import difflib
import html
import json
import re
from typing import Any

from pyroscope_bundle.constants import REDACTED
from pyroscope_bundle.review.diff import MISSING, FileDiff, Report, ResourceDiff, StackDiff, ValueChange
from pyroscope_bundle.review.rules import DATA_VOLUME_TYPES

REPLACE_MARK = "⚠️ REPLACE"
DATA_MARK = "💾 DATA VOLUME"
TEXT_REPLACE_MARK = "REPLACE"
TEXT_DATA_MARK = "!!! DATA VOLUME"
STATUS_ICONS = {"added": "🟢 added", "changed": "🟡 changed", "removed": "🔴 removed"}
# GitHub rejects comments over 65536 characters; keep room for the workflow's header.
MAX_MARKDOWN_CHARS = 60_000
MAX_VALUE_CHARS = 160
MAX_ROWS = 40
MAX_TEXT_DIFF_LINES = 40
SECRET_NOTE = (
    f"Secret values are redacted in renders (`{REDACTED}`) and never shown: a changed secret "
    "(rotating `pyroscope:authToken`, a regenerated password) shows as `secret changed` by its "
    "fingerprint, without its value."
)
SECRET_CHANGED = "🔑 secret changed"
TEXT_SECRET_CHANGED = "secret changed"
NOT_APPLIED = "not applied by `pulumi up` (ignoreChanges) - do it by hand"
KNOWN_AFTER_APPLY = "(known after apply)"
WARNING_MARK = "⚠️ WARNING"
# Values only the engine or a provider knows, as the offline render's mocks make them up.
# "[unknown]" is what the render writes for a value still unknown at the end of the program.
_PLACEHOLDER = re.compile(
    r"mock-[a-z]+-[0-9a-f]{12}|sha256:0{64}|:123456789012:|::123456789012:|^\[unknown\]\Z"
)


# --- markdown -------------------------------------------------------------------------------


def to_markdown(report: Report, max_chars: int = MAX_MARKDOWN_CHARS) -> str:
    """The PR comment; shortened (details dropped, then cut) to fit ``max_chars``."""
    text = _markdown(report, detailed=True)
    if len(text) <= max_chars:
        return text
    note = (
        "\n\n_Details omitted: the diff is too large for a comment. Run `pyroscope-bundle diff` locally._\n"
    )
    text = _markdown(report, detailed=False) + note
    if len(text) <= max_chars:
        return text
    cut = "\n\n_... truncated: run `pyroscope-bundle diff` locally for the whole diff._\n"
    return text[: max_chars - len(cut)] + cut


def _markdown(report: Report, *, detailed: bool) -> str:
    lines = ["## Render diff", ""]
    if not report.stacks:
        lines.append("No stacks rendered on either side.")
    lines += [f"- {_stack_summary(stack, markdown=True)}" for stack in report.stacks]
    for stack in report.stacks:
        if stack.has_changes:
            lines += ["", *_markdown_stack(stack, detailed=detailed)]
    secret_count = sum(len(stack.secret_inputs) for stack in report.stacks)
    if secret_count:
        lines += ["", f"<sub>{_md_inline(SECRET_NOTE)}</sub>"]
    return "\n".join(lines).rstrip() + "\n"


def _markdown_stack(stack: StackDiff, *, detailed: bool) -> list[str]:
    lines = [
        f"### Stack `{stack.stack}`" + (f" ({stack.status})" if stack.status in ("added", "removed") else "")
    ]
    data = [diff for diff in stack.resources if diff.data_volume]
    if data or stack.data_findings:
        lines += [
            "",
            "> [!CAUTION]",
            f"> **{DATA_MARK}**: this change deletes, strands or exposes profiling data.",
        ]
        lines += [f"> - {_md_inline(finding)}" for finding in stack.data_findings]
        lines += [f"> - {_data_sentence(diff, markdown=True)}" for diff in data]
    if stack.warnings:
        lines += [
            "",
            "> [!WARNING]",
            f"> **{WARNING_MARK}**: other stacks or running services depend on this.",
        ]
        lines += [f"> - {_md_inline(warning)}" for warning in stack.warnings]
    replaced = [diff for diff in stack.resources if diff.replaces]
    if replaced:
        lines += ["", "> [!WARNING]", f"> **{REPLACE_MARK}**: these resources are deleted and created again."]
        lines += [f"> - {_replace_sentence(diff, markdown=True)}" for diff in replaced]
    if stack.resources:
        lines += ["", "| | Resource | Type | Impact |", "|---|---|---|---|"]
        lines += [
            f"| {STATUS_ICONS[diff.status]} | {_code(diff.name)} | {_code(diff.type)} | {_impact(diff)} |"
            for diff in stack.resources
        ]
    if detailed:
        for diff in stack.resources:
            lines += ["", *_markdown_resource_details(diff)]
    if stack.files:
        lines += ["", *_markdown_files(stack.files, detailed=detailed)]
    if stack.outputs:
        lines += [
            "",
            *_details(f"Stack outputs: {len(stack.outputs)} changed", _value_table(stack.outputs, "Output")),
        ]
    if stack.secret_inputs and detailed:
        rows = [f"- {_code(key)}: {_code(path)}" for key, path in stack.secret_inputs[:MAX_ROWS]]
        if len(stack.secret_inputs) > MAX_ROWS:
            rows.append(f"- ... {len(stack.secret_inputs) - MAX_ROWS} more")
        lines += [
            "",
            *_details(
                f"{len(stack.secret_inputs)} secret inputs (redacted; a change shows as secret changed)", rows
            ),
        ]
    return lines


def _markdown_resource_details(diff: ResourceDiff) -> list[str]:
    title = f"{diff.status} {_code(diff.name)} ({html.escape(diff.type)})"
    if diff.status == "changed":
        title += f": {len(diff.changes)} value(s)"
    marks = [mark for mark, on in ((REPLACE_MARK, diff.replaces), (DATA_MARK, diff.data_volume)) if on]
    if marks:
        title += " - " + " · ".join(marks)
    header = "Input" if diff.status == "changed" else "Input (as rendered)"
    return _details(title, _value_table(diff.changes, header, diff=diff))


def _value_table(changes: list[ValueChange], header: str, diff: ResourceDiff | None = None) -> list[str]:
    one_sided = diff is not None and diff.status != "changed"
    rows = (
        [f"| {header} | Value |", "|---|---|"]
        if one_sided
        else [f"| {header} | Before | After |", "|---|---|---|"]
    )
    text_diffs: list[str] = []
    replacing = set(diff.replaced_by) if diff else set()
    for change in changes[:MAX_ROWS]:
        label = _code(change.label)
        if change.label in replacing or (change.section == "parent" and replacing):
            label += " ⚠️"
        if diff is not None and change.label in diff.data_paths:
            label += " 💾"
        if diff is not None and change.label in diff.ignored:
            label += f" ({html.escape(NOT_APPLIED)})"
        if one_sided:
            value = change.after if diff is not None and diff.status == "added" else change.before
            rows.append(f"| {label} | {_cell(value)} |")
            continue
        if _is_text(change.before) or _is_text(change.after):
            rows.append(f"| {label} | {_text_summary(change.before)} | {_text_summary(change.after)} |")
            text_diffs += ["", f"{_code(change.label)}:", "", "```diff", *_text_diff(change), "```"]
            continue
        rows.append(f"| {label} | {_cell(change.before)} | {_cell(change.after)} |")
    if len(changes) > MAX_ROWS:
        rows.append(
            f"| ... {len(changes) - MAX_ROWS} more | | |"
            if not one_sided
            else f"| ... {len(changes) - MAX_ROWS} more | |"
        )
    return rows + text_diffs


def _markdown_files(files: list[FileDiff], *, detailed: bool) -> list[str]:
    counts = _counts(files)
    body = []
    for item in files:
        flags = (", binary" if item.binary else "") + (f", {SECRET_CHANGED}" if item.secret_changed else "")
        body.append(f"- {_code(item.path)} ({item.status}{flags})")
    if detailed:
        for item in files:
            if item.unified:
                body += [
                    "",
                    f"{_code(item.path)}",
                    "",
                    "```diff",
                    *(_fence_safe(line) for line in item.unified),
                    "```",
                ]
    return _details(f"Files under kubernetes/, ecs/, files/: {counts}", body)


def _details(summary: str, body: list[str]) -> list[str]:
    return ["<details>", f"<summary>{summary}</summary>", "", *body, "", "</details>"]


def _impact(diff: ResourceDiff) -> str:
    marks = []
    if diff.not_applied:
        return f"**{html.escape(NOT_APPLIED)}**" + (" · protected" if diff.protected else "")
    if diff.replaces:
        marks.append(
            f"**{REPLACE_MARK}**" + (f" ({html.escape(diff.replace_note)})" if diff.replace_note else "")
        )
    if diff.data_volume:
        marks.append(f"**{DATA_MARK}**")
    if diff.secret_changes:
        marks.append(SECRET_CHANGED)
    if diff.ignored:
        marks.append(f"{len(diff.ignored)} change(s) {html.escape(NOT_APPLIED)}")
    if diff.status == "changed" and not diff.replaces and len(diff.ignored) < len(diff.changes):
        marks.append("update in place")
    if diff.protected:
        marks.append("protected")
    return " · ".join(marks)


def _code(text: str) -> str:
    """Inline code that survives tables: escaped HTML, no pipes, no newlines."""
    return f"<code>{html.escape(text).replace('|', '&#124;').replace(chr(10), '⏎')}</code>"


def _md_inline(text: str) -> str:
    return text.replace("|", "\\|")


def _cell(value: Any) -> str:
    if value is MISSING:
        return "_(absent)_"
    if _is_placeholder(value):
        return f"_{KNOWN_AFTER_APPLY}_"
    return _code(_short(value))


def _is_placeholder(value: Any) -> bool:
    """A value the offline render's mocks made up (an image id, a digest, an ARN)."""
    return isinstance(value, str) and bool(_PLACEHOLDER.search(value))


def _fence_safe(line: str) -> str:
    return line.replace("```", "`\u200b``")


# --- text -----------------------------------------------------------------------------------


def to_text(report: Report) -> str:
    lines = [_stack_summary(stack, markdown=False) for stack in report.stacks] or ["no stacks rendered"]
    for stack in report.stacks:
        if not stack.has_changes:
            continue
        lines += ["", f"== stack {stack.stack} ({stack.status})"]
        lines += [f"{TEXT_DATA_MARK}: {finding}" for finding in stack.data_findings]
        lines += [f"WARNING: {warning}" for warning in stack.warnings]
        for diff in stack.resources:
            marks = [TEXT_REPLACE_MARK if diff.replaces else "", TEXT_DATA_MARK if diff.data_volume else ""]
            flags = " ".join(mark for mark in marks if mark)
            lines.append(f"{_TEXT_STATUS[diff.status]} {diff.type} {diff.name}  {flags}".rstrip())
            if diff.data_volume:
                lines.append(f"    {TEXT_DATA_MARK}: {_data_sentence(diff, markdown=False)}")
            if diff.not_applied:
                lines.append(f"    {NOT_APPLIED.replace('`', '')}")
            for path in diff.secret_changes:
                lines.append(f"    {path}: {TEXT_SECRET_CHANGED} (value not shown)")
            if diff.replaces:
                lines.append(f"    {TEXT_REPLACE_MARK}: {_replace_sentence(diff, markdown=False)}")
            if diff.status == "changed":
                for change in diff.changes[:MAX_ROWS]:
                    note = f"  [{NOT_APPLIED.replace('`', '')}]" if change.label in diff.ignored else ""
                    values = f"{_text_value(change.before)} -> {_text_value(change.after)}"
                    lines.append(f"    {change.label}: {values}{note}")
                if len(diff.changes) > MAX_ROWS:
                    lines.append(f"    ... {len(diff.changes) - MAX_ROWS} more")
        for change in stack.outputs:
            lines.append(
                f"~ output {change.label}: {_text_value(change.before)} -> {_text_value(change.after)}"
            )
        for item in stack.files:
            flags = (" (binary)" if item.binary else "") + (
                f" ({TEXT_SECRET_CHANGED})" if item.secret_changed else ""
            )
            lines.append(f"{_TEXT_STATUS[item.status]} file {item.path}{flags}")
        for item in stack.files:
            if item.unified:
                lines += ["", *item.unified]
    if any(stack.secret_inputs for stack in report.stacks):
        lines += ["", SECRET_NOTE.replace("`", "")]
    return "\n".join(lines) + "\n"


_TEXT_STATUS = {"added": "+", "changed": "~", "removed": "-"}


def _text_value(value: Any) -> str:
    if value is MISSING:
        return "(absent)"
    if _is_placeholder(value):
        return KNOWN_AFTER_APPLY
    if _is_text(value):
        return _text_summary(value)
    return _short(value)


# --- shared ---------------------------------------------------------------------------------


def _stack_summary(stack: StackDiff, *, markdown: bool) -> str:
    name = f"`{stack.stack}`" if markdown else stack.stack
    if not stack.has_changes:
        return f"{name}: no changes"
    parts = [f"{len(stack.of_status(status))} {status}" for status in ("added", "changed", "removed")]
    replaced = sum(1 for diff in stack.resources if diff.replaces)
    data = sum(1 for diff in stack.resources if diff.data_volume)
    if replaced:
        parts.append(f"{replaced} {REPLACE_MARK if markdown else TEXT_REPLACE_MARK}")
    data += len(stack.data_findings)
    if data:
        parts.append(f"{data} {DATA_MARK if markdown else TEXT_DATA_MARK}")
    secrets = sum(1 for diff in stack.resources if diff.secret_changes)
    if secrets:
        parts.append(f"{secrets} {SECRET_CHANGED if markdown else TEXT_SECRET_CHANGED}")
    if stack.warnings:
        parts.append(f"{len(stack.warnings)} warning(s)")
    if stack.files:
        parts.append(f"{len(stack.files)} file(s)")
    if stack.outputs:
        parts.append(f"{len(stack.outputs)} output(s)")
    prefix = f"{name} ({stack.status})" if stack.status in ("added", "removed") else name
    return f"{prefix}: " + ", ".join(parts)


def _data_sentence(diff: ResourceDiff, *, markdown: bool) -> str:
    """What happens to the data, in words that never contradict the options that protect it."""
    name = _code(diff.name) if markdown else diff.name
    what = f"{name} ({diff.type})"
    if diff.status == "removed":
        if diff.protected:
            verb = "is removed from the program but PROTECTED: `pulumi up` fails instead of deleting it"
        elif diff.retained:
            verb = (
                "is removed from the stack but KEPT (retainOnDelete): the data stays where it is, no "
                "longer managed - delete it by hand or import it again"
            )
        else:
            verb = "is DELETED: its data is lost"
    elif diff.status == "added":
        verb = "is created (new, empty)"
    elif diff.replaces and diff.type in DATA_VOLUME_TYPES:
        verb = "is REPLACED: the new volume starts empty"
        if diff.protected:
            verb += "; the old one is protected, so `pulumi up` fails until protection is lifted"
        elif diff.retained:
            verb += "; the old one is kept (retainOnDelete) but stranded"
        else:
            verb += "; the old one and its data are deleted"
    elif diff.data_paths:
        verb = "changes " + ", ".join(_code(p) if markdown else p for p in diff.data_paths)
    else:
        verb = "" if diff.data_reasons else "changes (inputs)"
    reasons = list(diff.data_reasons)
    text = f"{what} {verb}".rstrip()
    if reasons:
        joined = "; ".join(_md_inline(reason) if markdown else reason for reason in reasons)
        text = f"{text}: {joined}" if verb else f"{what}: {joined}"
    return text


def _replace_sentence(diff: ResourceDiff, *, markdown: bool) -> str:
    name = _code(diff.name) if markdown else diff.name
    because = ", ".join(_code(path) if markdown else path for path in diff.replaced_by[:8])
    if len(diff.replaced_by) > 8:
        because += f" and {len(diff.replaced_by) - 8} more"
    note = f" - {diff.replace_note}" if diff.replace_note else ""
    return f"{name} ({diff.type}) because of {because}{note}"


def _counts(items: list[FileDiff]) -> str:
    counts = {
        status: sum(1 for item in items if item.status == status)
        for status in ("added", "changed", "removed")
    }
    return ", ".join(f"{count} {status}" for status, count in counts.items() if count)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and "\n" in value.rstrip("\n")


def _text_summary(value: Any) -> str:
    if value is MISSING:
        return "(absent)"
    if not isinstance(value, str):
        return _short(value)
    return f"(text, {len(value.splitlines())} lines)"


def _text_diff(change: ValueChange) -> list[str]:
    old = change.before if isinstance(change.before, str) else ""
    new = change.after if isinstance(change.after, str) else ""
    lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), "before", "after", lineterm=""))[2:]
    if len(lines) > MAX_TEXT_DIFF_LINES:
        lines = [*lines[:MAX_TEXT_DIFF_LINES], f"... {len(lines) - MAX_TEXT_DIFF_LINES} more lines"]
    return [_fence_safe(line) for line in lines]
