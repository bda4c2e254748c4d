"""Fail when an alignkit module imports a private name of another alignkit package.

A package is the first component under `alignkit` (`alignkit.webr.dedup` belongs to `webr`).
Inside one package, modules may share underscore names; across packages only public names and
public modules may be imported. The top-level modules `alignkit._core` (the Rust extension) and
`alignkit._defaults` are importable by every package: their underscore marks them as internal to
alignkit, not to one package.

Usage: python3 tools/check_private_imports.py [SOURCE_ROOT]   (default: python)
Exit status 1 and one line per violation when any is found.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT_PACKAGE = "alignkit"
SHARED_PRIVATE_MODULES = frozenset({"alignkit._core", "alignkit._defaults"})


def module_name(path: Path, source_root: Path) -> str:
    parts = list(path.relative_to(source_root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(module: str) -> str:
    """`alignkit.webr.dedup` -> `alignkit.webr`; `alignkit` itself is its own package."""
    return ".".join(module.split(".")[:2])


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def resolve(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    """The absolute module an ImportFrom reads from (relative imports resolved)."""
    if node.level == 0:
        return node.module or ""
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def private_module_part(module: str) -> str | None:
    """The first private component of `module` that is not a shared private module."""
    parts = module.split(".")
    for i in range(1, len(parts)):
        prefix = ".".join(parts[: i + 1])
        if is_private(parts[i]) and prefix not in SHARED_PRIVATE_MODULES:
            return prefix
    return None


def violations(path: Path, source_root: Path) -> Iterator[str]:
    importer = module_name(path, source_root)
    own_package = package_of(importer)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        targets: list[tuple[str, str | None]] = []  # (module, imported name or None)
        if isinstance(node, ast.Import):
            targets = [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = resolve(node, importer, path.name == "__init__.py")
            targets = [(source, alias.name) for alias in node.names]
        for module, name in targets:
            if module != ROOT_PACKAGE and not module.startswith(ROOT_PACKAGE + "."):
                continue
            full = module if name is None or module != ROOT_PACKAGE else f"{module}.{name}"
            if package_of(full) == own_package:
                continue
            where = f"{path}:{node.lineno}"
            private = private_module_part(full)
            if private is not None:
                yield f"{where}: {importer} imports the private module {private}"
            elif name is not None and module != ROOT_PACKAGE and is_private(name):
                yield f"{where}: {importer} imports the private name {module}.{name}"


def main(argv: list[str]) -> int:
    source_root = Path(argv[1] if len(argv) > 1 else "python")
    package_dir = source_root / ROOT_PACKAGE
    if not package_dir.is_dir():
        print(f"no {ROOT_PACKAGE} package under {source_root}", file=sys.stderr)
        return 2
    found = [v for path in sorted(package_dir.rglob("*.py")) for v in violations(path, source_root)]
    for line in found:
        print(line)
    if found:
        print(
            f"{len(found)} import(s) of another package's private names: make the name public "
            "or move it to a shared layer",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
