"""The layering is a contract that the suite checks (``.importlinter``): it holds for the tree,
and it breaks when a domain module imports an I/O library or a layer above it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter on ``tree`` (its packages first on the path), with ``tree``'s config."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT), "--config", str(tree / ".importlinter"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def copy_of_the_tree(into: Path) -> Path:
    for package in ("coordination", "workers", "schemas"):
        shutil.copytree(
            ROOT / package, into / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / ".importlinter", into / ".importlinter")
    return into


LAYERS = "Layers from the entry points down to the domain"
PURE = "The domain imports no framework or I/O library"
JOBS = "Nothing in coordination imports the RQ jobs"
SCHEMAS = "Schemas are imported by the API only"
CONTRACTS = {LAYERS, PURE, JOBS, SCHEMAS}


def verdicts(output: str) -> dict[str, str]:
    """Each contract's name -> KEPT or BROKEN, from lint-imports' summary."""
    found = {}
    for line in output.splitlines():
        name, _, verdict = line.rpartition(" ")
        if verdict in ("KEPT", "BROKEN"):
            found[name] = verdict
    return found


def test_the_tree_keeps_every_layer_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert verdicts(result.stdout) == dict.fromkeys(CONTRACTS, "KEPT")


@pytest.mark.parametrize(
    ("line", "broken"),
    [
        ("import redis", {PURE}),
        # The store is a layer above, and it imports redis: the domain would too, indirectly.
        ("from coordination.store import keys", {LAYERS, PURE}),
        ("import marshmallow", {PURE, SCHEMAS}),
        # The jobs build the whole app (bootstrap, handlers, store, redis) when imported.
        ("import workers.jobs", {LAYERS, PURE, JOBS}),
    ],
)
def test_a_domain_module_importing_what_it_must_not_breaks_the_contract(
    tmp_path: Path, line: str, broken: str
) -> None:
    tree = copy_of_the_tree(tmp_path)
    units = tree / "coordination" / "domain" / "units.py"
    units.write_text(units.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", encoding="utf-8")
    result = lint_imports(tree)
    assert result.returncode != 0, result.stdout
    assert verdicts(result.stdout) == {
        name: "BROKEN" if name in broken else "KEPT" for name in CONTRACTS
    }
    assert "coordination.domain.units -> " in result.stdout
