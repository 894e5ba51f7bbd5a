"""Paths as committed results record them: relative to the repository, never a machine's absolute path.

The bench scripts import it as a sibling (`python bench/<script>.py` puts bench/ on sys.path)."""
from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def rel(p: str | Path) -> str:
    """`p` relative to the repository; outside it, only the file's name (what a reader can look for)."""
    p = Path(p).resolve()
    return str(p.relative_to(REPO)) if p.is_relative_to(REPO) else p.name
