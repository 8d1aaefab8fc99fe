"""AICC Workbench: the kernel-side API stays tiny and stable; everything else lives in subpackages."""

from typing import Any

from workbench._version import __version__

__all__ = ["__version__", "check", "session"]


def session() -> Any:
    """This kernel's device session: ``workbench.session().use("torch")`` binds to the leased device."""
    from workbench.devices.binding import current_session

    return current_session()


def __getattr__(name: str) -> Any:
    """Lazy names, so ``import workbench`` stays cheap in every kernel."""
    if name == "check":
        from workbench.grading.checks import check

        return check
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
