"""docs/architecture.md names every module of the package, so the map cannot fall behind."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).parents[2]
PACKAGE = ROOT / "src" / "privlog"


def test_every_module_is_named_in_the_architecture_doc() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.name == "__init__.py" and rel.parent != Path("."):
            name = f"{rel.parent.as_posix()}/"  # a subpackage is named by its folder
        else:
            name = rel.as_posix()
        if f"`{name}`" not in doc and f"`{rel.as_posix()}`" not in doc:
            missing.append(rel.as_posix())
    assert not missing, f"docs/architecture.md does not name: {', '.join(missing)}"
