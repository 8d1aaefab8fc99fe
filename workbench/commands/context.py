"""What every command needs: the settings and the store they name, opened once."""

from __future__ import annotations

import json
import os
import pwd
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from workbench.config import Workbench, load_settings
from workbench.errors import WorkbenchError
from workbench.store import Store, open_store


@lru_cache(maxsize=1)
def settings() -> Workbench:
    return load_settings()


def store() -> Store:
    return open_store(settings().effective_db_url)


def print_json(data: Any) -> None:
    """Exactly one JSON object on stdout: the contract scripts rely on."""
    sys.stdout.write(json.dumps(data, default=str) + "\n")


def admin() -> str:
    """The account running a write command, checked to be the store's admin; recorded as who did it.

    The admin is root, or the account that owns the store: on a personal install that is you, under
    the hub the service's account (students never hold the store's URL or file). A PostgreSQL URL
    carries its own credentials, so whoever holds it is the admin already.
    """
    me = pwd.getpwuid(os.geteuid()).pw_name
    url = settings().effective_db_url
    if os.geteuid() != 0 and url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        try:
            owner_uid = path.stat().st_uid if path.exists() else os.geteuid()
        except PermissionError:
            raise WorkbenchError(f"the store {path} is out of {me}'s reach; write commands are its admin's: "
                                 "run this as the account that owns it, or root") from None
        if owner_uid != os.geteuid():
            owner = pwd.getpwuid(owner_uid).pw_name
            raise WorkbenchError(f"the store {path} belongs to {owner}; write commands are its admin's: "
                                 f"run this as {owner} or root")
    return me
