"""Files beside the notebook: what the instructor releases with a lab, what a student hands in with it.

nbgrader grades a notebook in a folder holding the files released with the assignment (data, helper
modules, images) and whatever the student submitted beside the notebook, so ``open("data.txt")`` in a
test works. We give the sandbox the same working directory: the *released* files are every file in
the source notebook's folder (sub-folders included) except notebooks, the instructor's ``README.md``
notes at the top, hidden names and nbgrader's ignore list; the *submitted* files are the other files
of a student's submission folder (nbgrader's ``submitted/<student>/<assignment>/``). Released files
win over a student's file of the same name and are read-only in the sandbox, as the instructor's.

Symbolic links are never followed (a student's link to ``/etc/shadow`` must not be read by the
grader), and both sets are capped in size: large data belongs in the course's ``data/`` folder,
which is bound read-only rather than copied into every sandbox.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from workbench.errors import WorkbenchError

IGNORE = (".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback")  # nbgrader's CourseDirectory.ignore
PRIVATE = ("README.md",)  # instructor notes beside a course's source notebook (docs/course-format.md)
MAX_BYTES = 32 << 20  # per set; copied into each sandbox's home


class LabFilesError(WorkbenchError):
    """The files beside a notebook cannot be given to the sandbox (too large, a clash with ./data)."""


def _skipped(name: str) -> bool:
    return name.startswith(".") or any(fnmatch.fnmatch(name, pattern) for pattern in IGNORE)


def collect(folder: Path, what: str, private: tuple[str, ...] = ()) -> dict[str, bytes]:
    """The regular files under ``folder`` as {posix relative path: bytes}: notebooks, hidden names,
    nbgrader's ignore list, links and ``private`` top-level names left out."""
    found: dict[str, bytes] = {}
    total = 0
    for top, dirs, files in os.walk(folder, followlinks=False):
        here = Path(top)
        dirs[:] = sorted(d for d in dirs if not _skipped(d) and not (here / d).is_symlink())
        for name in sorted(files):
            path = here / name
            rel = path.relative_to(folder).as_posix()
            if _skipped(name) or name.endswith(".ipynb") or path.is_symlink() or not path.is_file():
                continue
            if here == folder and name in private:
                continue
            total += path.stat().st_size
            if total > MAX_BYTES:
                raise LabFilesError(f"{folder}: the {what} beside the notebook exceed {MAX_BYTES >> 20} MB; "
                                    "put large data in the course's data/ folder (shown read-only at ./data)")
            found[rel] = path.read_bytes()
    return found


def released(source: Path) -> dict[str, bytes]:
    """What the instructor releases with the lab whose source notebook is ``source``."""
    return collect(Path(source).parent, "files released", PRIVATE)


def submitted(folder: Path | None) -> dict[str, bytes]:
    """What a student handed in beside the notebook in ``folder`` (nothing when None)."""
    return collect(folder, "files submitted") if folder is not None else {}


def check_clash(released_files: dict[str, bytes], data_dir: Path | None, where: Path) -> None:
    """The course's data folder is shown at ./data; a lab folder's own data/ would be hidden by it."""
    if data_dir is not None and any(PurePosixPath(rel).parts[0] == "data" for rel in released_files):
        raise LabFilesError(f"{where}: the lab's folder has its own data/, but the course's data/ folder is "
                            "shown at ./data; move those files into the course's data/ or rename the folder")


def for_sandbox(released_files: dict[str, bytes], submitted_files: dict[str, bytes],
                data_dir: Path | None) -> dict[str, bytes]:
    """The student's files that go in beside the released ones: a released file wins over a student's
    file of the same path (as nbgrader copies the instructor's over them), a student's path that would
    turn a released file into a folder or the reverse is left out, and so is ./data when the course
    shows its data folder there."""
    taken = set(released_files)
    folders = {str(parent) for rel in released_files for parent in PurePosixPath(rel).parents}
    kept: dict[str, bytes] = {}
    for rel, data in submitted_files.items():
        path = PurePosixPath(rel)
        if rel in taken or rel in folders or any(str(parent) in taken for parent in path.parents):
            continue
        if data_dir is not None and path.parts[0] == "data":
            continue
        kept[rel] = data
    return kept


def digest(notebook: bytes, files: dict[str, bytes]) -> str:
    """A submission's identity: the notebook's SHA-256 alone (as before files existed), or with the
    files handed in beside it, so changing only a data file is a new submission."""
    if not files:
        return hashlib.sha256(notebook).hexdigest()
    digest_ = hashlib.sha256(hashlib.sha256(notebook).digest())
    for rel in sorted(files):
        digest_.update(rel.encode() + b"\0" + hashlib.sha256(files[rel]).digest())
    return digest_.hexdigest()


def files_dir(stored: Path) -> Path:
    """Where a stored submission's files live: ``<sha>.files/`` beside ``<sha>.ipynb``."""
    return stored.with_suffix(".files")


def store(files: dict[str, bytes], stored: Path) -> None:
    """Keep a submission's files beside its stored notebook (a folder written aside, then renamed),
    so a later re-grade from the store has them."""
    target = files_dir(stored)
    if not files or target.is_dir():
        return
    staging = Path(tempfile.mkdtemp(dir=stored.parent, prefix=".incoming-files-"))
    try:
        for rel, data in files.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def refuse(stored: Path, reason: str) -> None:
    """Record why a submission's files could not be kept, so grading it fails with that reason (now
    and at every re-grade) while the rest of the class is graded."""
    stored.with_suffix(".refused").write_text(reason)


def stored_files(stored: Path) -> dict[str, bytes]:
    """The files kept with a stored submission (none for a notebook handed in alone)."""
    refused = stored.with_suffix(".refused")
    if refused.is_file():
        raise LabFilesError(refused.read_text())
    folder = files_dir(stored)
    return collect(folder, "files submitted") if folder.is_dir() else {}
