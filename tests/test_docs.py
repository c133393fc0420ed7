"""The documentation: the site builds with warnings as errors, every command page exists, and
every ``renaissance`` command shown on the pages runs (pages in navigation order, one folder)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.main import get_command
from typer.testing import CliRunner

from renaissance.cli import app

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
BLOCK = re.compile(r"```bash\n(.*?)```", re.S)


def _pages() -> list[Path]:
    """Markdown pages in navigation order."""
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]
    out = []

    def walk(items):
        for item in items:
            for value in item.values():
                if isinstance(value, list):
                    walk(value)
                else:
                    out.append(DOCS / value)

    walk(nav)
    return out


def _commands(page: Path) -> list[str]:
    return [line.strip() for block in BLOCK.findall(page.read_text()) for line in block.splitlines()
            if line.strip().startswith("renaissance ")]


def test_every_command_has_a_page_and_every_page_shows_its_command():
    commands = sorted(get_command(app).commands)
    pages = {p.stem for p in (DOCS / "commands").glob("*.md")}
    assert pages == set(commands)
    for name in commands:
        shown = _commands(DOCS / "commands" / f"{name}.md")
        assert shown and all(c.split()[1] == name for c in shown), name


def test_site_builds_strict(tmp_path):
    pytest.importorskip("mkdocs", reason="mkdocs-material is a test dependency (pip install '.[test]')")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "site" / "commands" / "landscape" / "index.html").exists()


def test_every_documented_command_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    ran = 0
    for page in _pages():
        for command in _commands(page):
            result = runner.invoke(app, shlex.split(command)[1:])
            assert result.exit_code == 0, f"{page.name}: {command}\n{result.output[-2000:]}"
            ran += 1
    assert ran >= 25
