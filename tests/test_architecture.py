"""Imports point down the layers of docs/architecture.md: a test that fails when one points up."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "infoscrub"

# Lower numbers are lower layers; a module may import its own unit and lower layers only.
LAYERS = {
    "errors": 0, "entropy": 0,
    "__init__": 1, "alignments": 1, "attributes": 1, "config": 1, "edit_request": 1, "editing": 1,
    "icc_profile": 1, "kinds": 1,
    "storage": 2,
    "data": 3, "models": 3, "losses": 3, "photo_io": 3, "sharing": 3,
    "training": 4, "inference": 4, "faces": 4, "targeting": 4, "consistency": 4,
    "evaluation": 5, "baselines": 5, "toy": 5, "scrub_report": 5,
    "rounds": 6, "scrubber": 6, "privacy_report": 6,
    "consistent_album": 7,
    "photo_job": 8, "service": 8,
    "bulk": 9,
    "cli": 10,
}


def unit(parts: tuple[str, ...]) -> str:
    """The architectural unit of a module path inside the package: its top-level name."""
    return parts[0].removesuffix(".py")


def imports(package: Path) -> list[tuple[str, str, str]]:
    """(importing unit, imported unit, 'file:line') of every import of the package by
    itself, the ones inside functions too."""
    name = package.name
    found = []
    for path in sorted(package.rglob("*.py")):
        source = unit(path.relative_to(package).parts)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            modules = []
            if isinstance(node, ast.ImportFrom) and node.module == name and node.level == 0:
                modules = [f"{name}.{alias.name}" for alias in node.names]  # from infoscrub import X
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            for module in modules:
                parts = module.split(".")
                if parts[0] == name:
                    target = parts[1] if len(parts) > 1 else "__init__"
                    if not ((package / target).is_dir() or (package / f"{target}.py").is_file()):
                        target = "__init__"  # a name the package itself defines (__version__)
                    found.append((source, target, f"{path.relative_to(package)}:{node.lineno}"))
    return found


def upward_imports(package: Path, layers: dict[str, int]) -> list[str]:
    return [f"{where}: {source} (layer {layers[source]}) imports {target} (layer {layers[target]})"
            for source, target, where in imports(package)
            if source != target and layers[target] >= layers[source]]


def test_every_unit_has_a_layer():
    units = {unit(p.relative_to(PACKAGE).parts) for p in PACKAGE.rglob("*.py")}
    assert units <= set(LAYERS), f"give these a layer in docs/architecture.md and here: {units - set(LAYERS)}"


def test_imports_point_down():
    upward = upward_imports(PACKAGE, LAYERS)
    assert not upward, "imports that do not point down:\n" + "\n".join(upward)


def test_the_check_finds_upward_and_sideways_imports(tmp_path):
    package = tmp_path / "infoscrub"
    (package / "data").mkdir(parents=True)
    (package / "data" / "shards.py").write_text("def f():\n    from infoscrub.training import loop\n")
    (package / "inference.py").write_text("from infoscrub import training\n")
    (package / "training").mkdir()
    (package / "training" / "loop.py").write_text("from infoscrub.data import shards\n")
    found = upward_imports(package, LAYERS)
    assert found == ["data/shards.py:2: data (layer 3) imports training (layer 4)",
                     "inference.py:1: inference (layer 4) imports training (layer 4)"]
