"""The API apps import services, selectors, forms and the shared API pieces, never views."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
API_MODULES = sorted(
    path
    for package in ("heritage/api", "restoration/api", "gallery/api")
    for path in (ROOT / package).glob("*.py")
)


@pytest.mark.parametrize("path", API_MODULES, ids=lambda path: str(path.relative_to(ROOT)))
def test_api_modules_import_no_views(path):
    imported = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.append(node.module)
            imported += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
    # The project's page modules (DRF's and drf-spectacular's own views are the API's tools).
    ours = [
        name for name in imported if name.split(".")[0] in {"heritage", "restoration", "gallery"}
    ]
    assert [name for name in ours if "views" in name.split(".")] == []


def test_there_are_api_modules():
    assert len(API_MODULES) >= 12
