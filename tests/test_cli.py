"""The ``pyroscope-bundle`` command's surface: version, help, exit codes, project discovery, logs."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pyroscope_bundle
import pyroscope_bundle_runtime
import pytest
from pyroscope_bundle import cli

from tests.harness import PROJECT_DIR

SOURCE = os.pathsep.join(str(PROJECT_DIR / part) for part in ("components", "runtime/src"))
COMMANDS = ("render", "diff", "docs", "smoke")


def run_cli(*args: str, cwd: Path = PROJECT_DIR) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyroscope_bundle.cli", *args],
        cwd=cwd, env={**os.environ, "PYTHONPATH": SOURCE}, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip


def test_version_is_the_release_of_both_distributions_and_the_changelog():
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"pyroscope-bundle {pyroscope_bundle.__version__} (runtime 0.2.0)"
    assert pyroscope_bundle.__version__ == pyroscope_bundle_runtime.__version__
    changelog = (PROJECT_DIR / "CHANGELOG.md").read_text()
    assert re.search(r"^## (\S+)", changelog, flags=re.M)[1] == pyroscope_bundle.__version__  # type: ignore[index]
    pyproject = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "pyroscope_bundle.__version__"}
    # The bundle requires the runtime release it ships with.
    major, minor, _ = pyroscope_bundle.__version__.split(".")
    assert (
        f"pyroscope-bundle-runtime>={major}.{minor},<{major}.{int(minor) + 1}"
        in pyproject["project"]["dependencies"]
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_a_description_an_example_and_its_exit_codes(command, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main([command, "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert "example:" in text and f"pyroscope-bundle {command}" in text.split("example:", 1)[1]
    assert re.search(r"exit codes: 0 [^\n]+", text), text
    description = text.split("\n\n")[1]
    assert len(description) > 40, description


def test_top_level_help_describes_the_tool():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "Offline tools for the pyroscope-bundle Pulumi program" in result.stdout
    assert "exit codes: 0 success" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "the following arguments are required: command"),
        (("deploy",), "invalid choice: 'deploy'"),
        (("render", "--out", "x"), "the following arguments are required: --stack"),
        (("diff", "a"), "the following arguments are required: head"),
        (("smoke",), "the following arguments are required: --url"),
        (("smoke", "--url", "pyroscope:4040"), "--url must be an http:// or https:// URL"),
        (("smoke", "--url", "http://127.0.0.1:9", "--user", "push"), "--user and --password-env go together"),
        (("smoke", "--url", "http://127.0.0.1:9", "--password", "x"), "unrecognized arguments: --password"),
        (("smoke", "--url", "http://x:9", "--timeout", "-5"), "'-5' is not a number of seconds above 0"),
        (("smoke", "--url", "http://x:9", "--timeout", "1m"), "'1m' is not a number of seconds, e.g. 60"),
        (("smoke", "--url", "http://x:9", "--timeout", "nan"), "'nan' is not a number of seconds above 0"),
    ],
)
def test_usage_errors_exit_2_with_one_message(args, message, capsys):
    try:
        status = cli.main(list(args))
    except SystemExit as exited:
        status = int(exited.code or 0)
    assert status == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_smoke_usage_error_never_echoes_url_credentials(capsys):
    assert cli.main(["smoke", "--url", "ftp://push:s3cret@host"]) == 2
    err = capsys.readouterr().err
    assert "s3cret" not in err and "***@host" in err


def _fake_checkout(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Pulumi.yaml").write_text("name: pyroscope\nruntime: python\n")
    (root / "pyproject.toml").write_text('[project]\nname = "pyroscope-bundle"\nversion = "0"\n')
    return root


def test_docs_writes_into_the_checkout_not_the_current_directory(tmp_path):
    checkout = _fake_checkout(tmp_path / "clone")
    inside = checkout / "components" / "deep"
    inside.mkdir(parents=True)
    assert cli.find_checkout(inside) == checkout
    result = run_cli("docs", cwd=inside)
    assert result.returncode == 0, result.stderr
    assert (checkout / "docs" / "configuration.md").is_file()
    assert not (inside / "docs").exists()


def test_docs_outside_any_checkout_uses_the_package_checkout(tmp_path):
    """Standing elsewhere, the checkout this package is imported from (never the cwd)."""
    assert cli.find_checkout(tmp_path) == PROJECT_DIR
    result = run_cli("docs", "--check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert str(PROJECT_DIR / "docs" / "configuration.md") in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_docs_refuses_a_project_dir_that_is_not_the_bundle(tmp_path, capsys):
    """An explicit --project-dir elsewhere is refused, nothing written (it wrote <dir>/docs/)."""
    assert cli.main(["docs", "--project-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"--project-dir {tmp_path}: is not a pyroscope-bundle checkout" in err
    assert list(tmp_path.iterdir()) == []
    checkout = _fake_checkout(tmp_path / "clone")
    assert cli.main(["docs", "--project-dir", str(checkout)]) == 0
    assert (checkout / "docs" / "configuration.md").is_file()


def test_a_consumer_project_is_not_mistaken_for_the_bundle(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: shop\nruntime: python\n")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "shop"\n')
    assert not cli._is_checkout(tmp_path)
    assert cli._is_checkout(PROJECT_DIR)


def test_program_warnings_carry_their_severity(capsys):
    cli.configure_logging()
    try:
        logging.getLogger().warning("ECS services invoices push to an in-cluster address")
        logging.getLogger().info("not shown")
    finally:
        logging.getLogger().handlers.clear()
    assert capsys.readouterr().err == "warning: ECS services invoices push to an in-cluster address\n"


def test_setup_script_readme_and_pyproject_agree_on_python_versions(tmp_path):
    pyproject = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())
    runtime = tomllib.loads((PROJECT_DIR / "runtime" / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == runtime["project"]["requires-python"] == ">=3.11,<3.14"
    setup = (PROJECT_DIR / "scripts" / "setup.sh").read_text()
    assert "(3, 11) <= sys.version_info[:2] < (3, 14)" in setup
    readme = (PROJECT_DIR / "README.md").read_text()
    assert "Python 3.11, 3.12 or 3.13" in readme and "bash scripts/setup.sh" in readme
    assert "source scripts/setup.sh" not in readme + setup
    # An interpreter outside the range (here one that fails the check) is refused before any venv.
    fake = tmp_path / "python3.10"
    fake.write_text("#!/bin/sh\n[ \"$1\" = --version ] && echo 'Python 3.10.14'\nexit 1\n")
    fake.chmod(0o755)
    copy = tmp_path / "repo"
    (copy / "scripts").mkdir(parents=True)
    (copy / "scripts" / "setup.sh").write_text(setup)
    result = subprocess.run(
        ["bash", str(copy / "scripts" / "setup.sh")], env={**os.environ, "PYTHON": str(fake)},
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "Python 3.11, 3.12 or 3.13 is needed (found Python 3.10.14)" in result.stderr
    assert not (copy / ".venv").exists()


def test_the_review_recipe_renders_the_base_with_its_own_code():
    """docs/review.md: the base gets a worktree AND a venv of its own, installed from itself."""
    text = (PROJECT_DIR / "docs" / "review.md").read_text()
    recipe = text.split("## Locally", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    lines = [line.strip() for line in recipe.splitlines()]
    assert 'git worktree add --detach "$base" main' in lines
    assert 'python3 -m venv "$base/.venv"' in lines
    install = next(line for line in lines if "pip install" in line)
    assert install.startswith('(cd "$base" && .venv/bin/pip install') and "-r requirements.txt" in install
    base_render = next(line for line in lines if "--out /tmp/render/base" in line)
    assert base_render.startswith('(cd "$base" && .venv/bin/pyroscope-bundle render')
    assert "../main/.venv" not in recipe
