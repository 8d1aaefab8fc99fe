"""Keep ``import nbformat`` cheap in grading commands.

nbformat imports jsonschema, which imports ``rfc3987_syntax`` to check the "iri" string format;
that module builds a Lark grammar at import time (1 to 3 s here, 10 s under load). nbformat's
schemas use no string formats at all, so grading commands, whose process never validates anything
else, mark the module unavailable before jsonschema is imported; jsonschema then simply skips that
one format checker. Never call this in the server, where other extensions may validate IRIs.
"""

from __future__ import annotations

import sys


def skip_iri_format_checker() -> None:
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
