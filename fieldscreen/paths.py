"""Where FieldScreen keeps its files: platformdirs locations, or one base directory.

`--basedir DIR` (and demo mode, and every test) puts everything under one directory so that
runs are isolated and nothing is written elsewhere.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "FieldScreen"


@dataclass(frozen=True, slots=True)
class AppDirectories:
    """The directories one run of the app may write to."""

    data: Path
    config: Path
    cache: Path

    @classmethod
    def under(cls, base: Path) -> AppDirectories:
        """Everything under one base directory (tests, demo, --basedir)."""
        base = base.expanduser().resolve()
        return cls(data=base / "data", config=base / "config", cache=base / "cache")

    @classmethod
    def platform_default(cls) -> AppDirectories:
        """The per-user locations the operating system expects."""
        # Imported lazily: keeps the CLI start-up path light.
        import platformdirs

        return cls(
            data=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
            config=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
            cache=Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
        )

    def ensure(self) -> AppDirectories:
        """Create the directories, readable by their owner only.

        On a read-only drive nothing is created or changed, and nothing fails here: reading
        works there, and whatever has to write says the folder is read-only
        (fieldscreen/store/database.py).
        """
        for folder in (self.data, self.config, self.cache):
            try:
                folder.mkdir(parents=True, exist_ok=True, mode=0o700)
                if os.name == "posix" and folder.stat().st_mode & 0o777 != 0o700:
                    folder.chmod(0o700)
            except OSError:
                continue
        return self


def shipped_dir(name: str) -> Path:
    """A folder of files shipped with FieldScreen: `forms` or `translations`.

    In a source checkout (and an editable install) they sit beside the package; an installed
    wheel puts them under `<prefix>/share/fieldscreen/`.
    """
    beside_package = Path(__file__).resolve().parent.parent / name
    if beside_package.is_dir():
        return beside_package
    return Path(sys.prefix) / "share" / "fieldscreen" / name
