"""Plain data for a hackathon event as written in ``events/<id>/event.yaml`` (event format v1).

Times are timezone-aware (the YAML states the zone; UTC when it does not). Paths are absolute,
resolved against the event directory by the loader. A team's kernels lease as the team
(``workbench.devices.team_holders``), so quotas and fair share apply across teams.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

METRICS = ("accuracy", "macro_f1", "roc_auc", "rmse", "mean_iou")
# Metrics where a lower value ranks higher; an organiser's scoring function states its direction.
LOWER_IS_BETTER = frozenset({"rmse"})
SELECTION_RULES = ("best_public", "last", "chosen")
TEAM_MODES = ("declared", "self")
SUBMISSION_KINDS = ("predictions", "notebook")


@dataclass(frozen=True)
class Phase:
    """A stretch of the window with its own board; ``blind`` boards show teams only "received".

    ``migrate_from`` names an earlier phase whose submissions are re-scored into this one when it
    opens (Codabench's ``auto_migrate_to_this_phase``).
    """

    id: str
    title: str
    opens: datetime
    closes: datetime
    blind: bool = False
    migrate_from: str | None = None


@dataclass(frozen=True)
class TeamRules:
    """Declared teams (``declared``: team id -> member accounts) or self-registration (``self``)."""

    mode: str = "self"
    max_size: int = 4
    merge_deadline: datetime | None = None
    declared: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class TeamQuota:
    """What one team may lease at once (devices of ``kind``) and in all (device-hours)."""

    kind: str = "cpu"
    devices: int = 1
    device_hours: float = 10.0


@dataclass(frozen=True)
class Task:
    """What teams solve: a starter notebook, public training data, hidden inputs and labels.

    Hidden files are CSV with ``id_column``; labels hold ``target_column``. ``scorer`` is an
    organiser's Python file defining ``score(y_true, y_pred) -> float`` used instead of ``metric``
    (``metric`` is then ``"custom"`` and ``higher_is_better`` says the direction).
    """

    starter: Path
    train: Path
    hidden_inputs: Path
    hidden_labels: Path
    id_column: str = "id"
    target_column: str = "label"
    metric: str = "accuracy"
    scorer: Path | None = None
    higher_is_better: bool = True


@dataclass(frozen=True)
class Split:
    """The share of hidden rows on the public board; the rest is private. Seeded: reproducible."""

    public_share: float = 0.3
    seed: int = 0


@dataclass(frozen=True)
class Limits:
    """Submission limits per team (only successful submissions count) and a notebook run's limits."""

    per_day: int = 5
    total: int = 100
    run_timeout_s: float = 600.0
    memory_mb: int = 4096


@dataclass(frozen=True)
class Selection:
    """How final entries are picked at finalize: best public, last, or up to ``k`` the team chose
    (a team that chose none gets its ``k`` best public)."""

    rule: str = "best_public"
    k: int = 2


@dataclass(frozen=True)
class Baseline:
    """An organiser's reference entry, shown on the board marked as a baseline."""

    name: str
    predictions: Path


@dataclass(frozen=True)
class Event:
    id: str
    title: str
    root: Path
    timezone: str
    opens: datetime
    closes: datetime
    phases: tuple[Phase, ...]
    task: Task
    teams: TeamRules = field(default_factory=TeamRules)
    quota: TeamQuota = field(default_factory=TeamQuota)
    split: Split = field(default_factory=Split)
    limits: Limits = field(default_factory=Limits)
    selection: Selection = field(default_factory=Selection)
    baselines: tuple[Baseline, ...] = ()
    organisers: tuple[str, ...] = ()
    description: str = ""
    kinds: tuple[str, ...] = SUBMISSION_KINDS

    def phase_at(self, moment: datetime) -> Phase | None:
        """The phase open at ``moment`` (opens inclusive, closes exclusive), or None."""
        return next((p for p in self.phases if p.opens <= moment < p.closes), None)

    def phase(self, phase_id: str) -> Phase | None:
        return next((p for p in self.phases if p.id == phase_id), None)

