"""What every command needs: the settings and the store they name, opened once."""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from typing import Any

from workbench.config import Workbench, load_settings
from workbench.store import Store, open_store


@lru_cache(maxsize=1)
def settings() -> Workbench:
    return load_settings()


def store() -> Store:
    return open_store(settings().effective_db_url)


def print_json(data: Any) -> None:
    """Exactly one JSON object on stdout: the contract scripts rely on."""
    sys.stdout.write(json.dumps(data, default=str) + "\n")
