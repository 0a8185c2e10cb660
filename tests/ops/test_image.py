"""The image (infra/Dockerfile) without a container engine: a parser-based lint of the file,
and proof that what it runs is what the tests run (the same entry point, the same settings)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import tomllib
from dockerfile_parse import DockerfileParser

from harness.processes import ENTRYPOINT, ROOT, Server

DOCKERFILE = ROOT / "infra" / "Dockerfile"
IMAGE_ENTRYPOINT = "/app/infra/entrypoint.sh"


@pytest.fixture(scope="module")
def parsed() -> DockerfileParser:
    parser = DockerfileParser(fileobj=DOCKERFILE.open("rb"))
    return parser


def _final_stage(parsed: DockerfileParser) -> list[dict[str, str]]:
    last_from = max(i for i, ins in enumerate(parsed.structure) if ins["instruction"] == "FROM")
    return parsed.structure[last_from:]


def test_every_base_image_is_pinned(parsed: DockerfileParser) -> None:
    for ref in parsed.parent_images:
        assert "@sha256:" in ref or re.search(r":[\w.-]*\d[\w.-]*$", ref), ref
        assert not ref.endswith(":latest"), ref


def test_the_final_stage_runs_as_a_numeric_non_root_user(parsed: DockerfileParser) -> None:
    users = [ins["value"] for ins in _final_stage(parsed) if ins["instruction"] == "USER"]
    assert users, "the final stage sets no USER (it would run as root)"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000  # numeric: runAsNonRoot can check it


def test_the_entry_point_is_the_script_in_exec_form(parsed: DockerfileParser) -> None:
    final = _final_stage(parsed)
    (entrypoint,) = [ins["value"] for ins in final if ins["instruction"] == "ENTRYPOINT"]
    assert json.loads(entrypoint) == [IMAGE_ENTRYPOINT]
    (health,) = [ins["value"] for ins in final if ins["instruction"] == "HEALTHCHECK"]
    assert f'["{IMAGE_ENTRYPOINT}", "healthcheck"]' in health
    copies = " ".join(ins["value"] for ins in parsed.structure if ins["instruction"] == "COPY")
    assert "infra/" in copies and "/app /app" in copies


def test_static_files_are_collected_at_build_and_the_runtime_is_read_only_ready(
    parsed: DockerfileParser,
) -> None:
    runs = [ins["value"] for ins in parsed.structure if ins["instruction"] == "RUN"]
    assert any("manage.py collectstatic" in run for run in runs)
    assert any("bootstrap.sh --runtime" in run for run in runs)  # the same install script
    env = parsed.envs  # the final stage's
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["STATIC_ROOT"] == "/app/static"
    assert env["MEDIA_ROOT"].startswith("/data")  # a volume, not the root filesystem
    tmpfs = "/tmp/"  # noqa: S108 (the image's tmpfs, not a temporary file)
    assert env["GRIDLINE_RUN_DIR"].startswith(tmpfs)
    assert env["PROMETHEUS_MULTIPROC_DIR"].startswith(tmpfs)


def test_the_image_and_the_tests_use_the_same_settings_and_entry_point(
    parsed: DockerfileParser,
) -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    tests_settings = pyproject["tool"]["pytest"]["ini_options"]["DJANGO_SETTINGS_MODULE"]
    assert parsed.envs["DJANGO_SETTINGS_MODULE"] == tests_settings
    assert Path(ENTRYPOINT) == ROOT / IMAGE_ENTRYPOINT.removeprefix("/app/")
    server = Server("probe", 1, {}, Path("/dev/null"))
    assert server.argv[:2] == [ENTRYPOINT, "asgi"]  # the harness starts servers through it


def test_the_entry_point_refuses_an_unknown_role() -> None:
    done = subprocess.run([ENTRYPOINT, "nonsense"], capture_output=True, text=True, check=False)
    assert done.returncode == 64
    assert "unknown role" in done.stderr


def test_the_healthcheck_of_a_dispatcher_reads_its_heartbeat(tmp_path: Path) -> None:
    import os
    import sys

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "role").write_text("dispatcher\n")
    env = dict(os.environ, GRIDLINE_RUN_DIR=str(run_dir), GRIDLINE_PYTHON=sys.executable)
    env.pop("DISPATCHER_HEARTBEAT_FILE", None)

    def check() -> int:
        return subprocess.run([ENTRYPOINT, "healthcheck"], env=env, check=False).returncode

    assert check() == 1  # no heartbeat yet
    (run_dir / "dispatcher.heartbeat").touch()
    assert check() == 0
    old = (run_dir / "dispatcher.heartbeat").stat().st_mtime - 3600
    os.utime(run_dir / "dispatcher.heartbeat", (old, old))
    assert check() == 1  # a stuck dispatcher
