"""AICC Workbench: the kernel-side API stays tiny and stable; everything else lives in subpackages."""

from workbench._version import __version__

__all__ = ["__version__"]
