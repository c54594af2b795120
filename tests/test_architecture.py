"""Imports point down the layers of docs/architecture.md: a test that fails when one points up."""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "infoscrub"

# Lower numbers are lower layers; a module may import its own unit and lower layers only.
LAYERS = {
    "errors": 0, "entropy": 0,
    "__init__": 1, "alignments": 1, "attributes": 1, "config": 1, "edit_request": 1, "editing": 1,
    "icc_profile": 1, "kinds": 1,
    "storage": 2,
    "data": 3, "models": 3, "losses": 3, "photo_io": 3, "sharing": 3,
    "training": 4, "inference": 4, "randomised_edit": 4, "faces": 4, "targeting": 4, "consistency": 4,
    "evaluation": 5, "baselines": 5, "toy": 5, "scrub_report": 5,
    "editors": 6, "rounds": 6, "privacy_report": 6,
    "scrubber": 7,
    "consistent_album": 8,
    "photo_job": 9, "service": 9,
    "video": 10,
    "bulk": 11,
    "cli": 12,
}


def unit(parts: tuple[str, ...]) -> str:
    """The architectural unit of a module path inside the package: its top-level name."""
    return parts[0].removesuffix(".py")


def imports(package: Path) -> list[tuple[str, str, str]]:
    """(importing unit, imported unit, 'file:line') of every import of the package by
    itself: the ones inside functions too, modules named as strings where the file imports
    by name (``import_module``), and the ``kinds`` table's targets where it resolves them."""
    name = package.name
    kinds = package / "kinds.py"
    kind_targets = string_targets(kinds, name) if kinds.is_file() else []
    found = []
    for path in sorted(package.rglob("*.py")):
        source = unit(path.relative_to(package).parts)
        tree = ast.parse(path.read_text(), str(path))
        where = str(path.relative_to(package))
        for node in ast.walk(tree):
            modules = []
            if isinstance(node, ast.ImportFrom) and node.module == name and node.level == 0:
                modules = [f"{name}.{alias.name}" for alias in node.names]  # from infoscrub import X
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.Call) and called(node) == "import_module" and path.name != "kinds.py":
                modules = [m for m, _ in string_targets(path, name)]  # the modules it may name
            elif isinstance(node, ast.Call) and resolves_kinds(node, tree, name):
                modules = [m for m, _ in kind_targets]  # resolve() turns kinds' strings into imports
            for module in modules:
                target = target_unit(package, module)
                if target is not None:
                    found.append((source, target, f"{where}:{node.lineno}"))
    return found


def called(node: ast.Call) -> str | None:
    """The bare name of what a call calls: ``f(...)`` and ``x.f(...)`` are both ``f``."""
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def resolves_kinds(node: ast.Call, tree: ast.Module, name: str) -> bool:
    """A call of ``infoscrub.kinds.resolve`` (as ``resolve(...)`` imported from kinds, or
    ``kinds.resolve(...)``), not any other ``resolve`` such as ``Path.resolve``."""
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr == "resolve" and isinstance(func.value, ast.Name) and func.value.id == "kinds"
    return isinstance(func, ast.Name) and func.id == "resolve" and any(
        isinstance(n, ast.ImportFrom) and n.module == f"{name}.kinds" and any(a.name == "resolve" for a in n.names)
        for n in ast.walk(tree))


def string_targets(path: Path, name: str) -> list[tuple[str, str]]:
    """(module, attribute) of every string constant in a file that names a module of the
    package, as ``"infoscrub.x.y"`` or ``"infoscrub.x.y:attr"``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            module, _, attribute = node.value.partition(":")
            if module.startswith(f"{name}.") and all(p.isidentifier() for p in module.split(".")):
                found.append((module, attribute))
    return found


def target_unit(package: Path, module: str) -> str | None:
    """The unit a dotted module name of the package belongs to (None: another package)."""
    parts = module.split(".")
    if parts[0] != package.name:
        return None
    target = parts[1] if len(parts) > 1 else "__init__"
    if not ((package / target).is_dir() or (package / f"{target}.py").is_file()):
        target = "__init__"  # a name the package itself defines (__version__)
    return target


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


def test_the_check_follows_modules_named_by_string(tmp_path):
    package = tmp_path / "infoscrub"
    (package / "data").mkdir(parents=True)
    (package / "kinds.py").write_text('KINDS = {"x": "infoscrub.training.loop:fit"}\n')
    (package / "data" / "loader.py").write_text(
        "import importlib\nPLUGINS = ['infoscrub.training.loop']\n"
        "def f():\n    return importlib.import_module(PLUGINS[0])\n")
    (package / "inference.py").write_text("from infoscrub.kinds import resolve\nresolve('x')\n")
    (package / "training").mkdir()
    (package / "training" / "loop.py").write_text("")
    found = upward_imports(package, LAYERS)
    assert found == ["data/loader.py:4: data (layer 3) imports training (layer 4)",
                     "inference.py:2: inference (layer 4) imports training (layer 4)"]


def test_every_module_named_by_string_exists():
    """A kinds row or a COMMAND_MODULES entry naming a module that is gone fails here, not at
    run time."""
    for path in sorted(PACKAGE.rglob("*.py")):
        for module, attribute in string_targets(path, PACKAGE.name):
            parts = module.split(".")[1:]
            file = PACKAGE.joinpath(*parts)
            assert file.with_suffix(".py").is_file() or (file / "__init__.py").is_file(), (path, module)
            if attribute:
                source = (file.with_suffix(".py") if file.with_suffix(".py").is_file() else file / "__init__.py").read_text()
                assert f"def {attribute}(" in source or f"class {attribute}" in source, (path, module, attribute)


def test_editors_load_no_training_code():
    """Opening any checkpoint an editor reads must not pull in the trainers (stargan-v2's
    separate eval mode): the editor registry and everything it imports stay free of
    ``infoscrub.training``."""
    code = ("import sys, infoscrub.editors; "
            "print(sorted(m for m in sys.modules if m.startswith('infoscrub.training')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=PACKAGE.parent.parent)
    assert out.stdout.strip() == "[]"
