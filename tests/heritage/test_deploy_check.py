"""`manage.py check --deploy` is clean with the production settings README.md documents."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def documented_production_env() -> dict[str, str]:
    """The KEY=VALUE lines of the README block marked <!-- production-settings -->."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- production-settings -->\s*```\n(.*?)```", readme, re.S)
    assert block, "README.md documents the production settings in a marked block"
    pairs = dict(line.split("=", 1) for line in block.group(1).splitlines() if "=" in line)
    pairs["SECRET_KEY"] = secrets.token_urlsafe(50)
    return pairs


def run_check(env_vars: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    keep = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    env = {**keep, "HERITAGE_VAR_DIR": str(tmp_path), **env_vars}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_documented_production_settings(tmp_path):
    documented = documented_production_env()
    assert documented["SECURE_HSTS_SECONDS"] == "31536000"

    result = run_check(documented, tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_hsts_comes_from_the_environment(tmp_path):
    without_hsts = {
        key: value
        for key, value in documented_production_env().items()
        if not key.startswith("SECURE_HSTS")
    }

    result = run_check(without_hsts, tmp_path)

    assert result.returncode != 0
    assert "security.W004" in result.stdout + result.stderr


def test_a_malformed_hsts_value_stops_start_up(tmp_path):
    result = run_check({**documented_production_env(), "SECURE_HSTS_SECONDS": "a year"}, tmp_path)
    assert result.returncode != 0
    assert "SECURE_HSTS_SECONDS must be a whole number" in result.stderr
