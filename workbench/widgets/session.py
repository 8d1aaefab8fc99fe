"""The session status widget: device, session time left and quota, refreshed while the lease lives.

A plain ``ipywidgets.HTML`` whose value a daemon thread rewrites every ``refresh_s`` seconds —
the kernel's comm pushes each change to every view, so no frontend code is needed. The thread
stops once the lease has ended (the last value then carries the reason, e.g. idle reclaim).
"""

from __future__ import annotations

import threading
from typing import Any

import ipywidgets

from workbench.devices.binding import DeviceSession, current_session, describe_html


class SessionStatus(ipywidgets.HTML):
    """``display(SessionStatus())`` in a notebook; ``stop()`` ends the refreshing."""

    def __init__(self, session: DeviceSession | None = None, refresh_s: float = 30.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session = session or current_session()
        self.refresh_s = refresh_s
        self._stop = threading.Event()
        self.refresh()
        if self.session.lease is not None:
            threading.Thread(target=self._loop, name="workbench-session-widget", daemon=True).start()

    def refresh(self) -> dict[str, Any]:
        """Read the lease and quota again and redraw; returns what was shown."""
        info = self.session.info()
        self.value = describe_html(info)
        return info

    def _loop(self) -> None:
        while not self._stop.wait(self.refresh_s):
            try:
                info = self.refresh()
            except Exception as exc:  # a briefly unreachable store must not kill the widget
                self.value = f"<div class='workbench-session'>session status unavailable: {exc}</div>"
                continue
            if info["state"] not in ("live", "queued"):
                return

    def stop(self) -> None:
        self._stop.set()


def session_status(refresh_s: float = 30.0) -> SessionStatus:
    """The widget for this kernel's session (what a lab's first cell displays)."""
    return SessionStatus(refresh_s=refresh_s)
