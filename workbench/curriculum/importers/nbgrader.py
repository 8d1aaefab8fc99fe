"""Import an nbgrader course: ``source/<assignment>/*.ipynb`` (or a folder of notebooks, or one
notebook) becomes a course whose labs are those notebooks, unchanged.

nbgrader's cell metadata *is* our format, so nothing is rewritten but cell ids (nbgrader's older
notebooks lack them). An assignment with one notebook becomes lab ``<assignment>``; with several,
lab ``<assignment>-<notebook>`` each, which ``workbench autograde`` matches to nbgrader's
``submitted/<student>/<assignment>/<notebook>.ipynb`` layout.
"""

from __future__ import annotations

from pathlib import Path

from workbench.curriculum.importers.common import ImportedLab, ImportError_, read_notebook, slug

SKIPPED = (".ipynb_checkpoints", "__pycache__", "feedback")  # folders nbgrader itself ignores


def _assignments(path: Path) -> dict[str, list[Path]]:
    if path.is_file():
        return {path.stem: [path]}
    root = path / "source" if (path / "source").is_dir() else path
    found: dict[str, list[Path]] = {}
    direct = sorted(root.glob("*.ipynb"))
    if direct:
        found[root.name] = direct
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        notebooks = sorted(p for p in folder.glob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        if notebooks:
            found[folder.name] = notebooks
    return found


def read(path: Path) -> list[ImportedLab]:
    if not path.exists():
        raise ImportError_(f"{path}: no such file or folder")
    assignments = _assignments(path)
    if not assignments:
        raise ImportError_(f"{path}: no notebooks found; expected an nbgrader course (source/<assignment>/"
                           "*.ipynb), an assignment folder or a notebook")
    labs: list[ImportedLab] = []
    for assignment, notebooks in assignments.items():
        folder = notebooks[0].parent
        # the assignment's other files and folders (data/, helpers), released with each of its labs
        extras = [p for p in sorted(folder.iterdir()) if not p.name.startswith(".") and not p.is_symlink()
                  and ((p.is_file() and p.suffix != ".ipynb") or (p.is_dir() and p.name not in SKIPPED))]
        for notebook in notebooks:
            single = len(notebooks) == 1
            lab_id = slug(assignment if single else f"{assignment}-{notebook.stem}")
            title = assignment if single else f"{assignment}: {notebook.stem}"
            labs.append(ImportedLab(lab_id, title, read_notebook(notebook), notebook.name,
                                    extras))
    return labs
