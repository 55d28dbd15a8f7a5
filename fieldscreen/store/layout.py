"""Where a profile's files live in a data folder; light enough to import at start-up."""

from __future__ import annotations

from pathlib import Path

PROFILES_DIR = "profiles"
DATABASE_FILE = "profile.db"


def profiles_root(data_dir: Path) -> Path:
    return data_dir / PROFILES_DIR


def profile_names(data_dir: Path) -> list[str]:
    """Names of the profiles that exist under `data_dir` (no database is opened)."""
    root = profiles_root(data_dir)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / DATABASE_FILE).is_file())
