"""A rolling update: the release that runs now (the committed tree) and the next one (the same
plus an expand migration, a nullable column on alerts) side by side on the migrated database,
as pods are while a Deployment rolls. Presses on either process commit and reach the manager;
then the migration is reversed."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from backend.alerts.models import Alert
from harness.processes import PYTHON, ROOT, Processes, Server, free_port
from tests.conftest import World

from .clients import Device, Phone

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EXPAND = """from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("alerts", "{previous}")]
    operations = [
        migrations.AddField("alert", "rollout_note", models.TextField(null=True, blank=True)),
    ]
"""


def _release(tmp: Path, name: str) -> Path:
    """The committed tree, as an image would be built from it."""
    archive = tmp / f"{name}.tar"
    subprocess.run(["git", "archive", "-o", str(archive), "HEAD"], cwd=ROOT, check=True)
    target = tmp / name
    target.mkdir()
    subprocess.run(["tar", "-xf", str(archive), "-C", str(target)], check=True)
    return target


def _next_release(tree: Path) -> str:
    """Add the expand migration and its field; returns the migration it follows."""
    migrations = tree / "backend" / "alerts" / "migrations"
    previous = sorted(p.stem for p in migrations.glob("0*.py"))[-1]
    (migrations / "9999_rollout_note.py").write_text(EXPAND.format(previous=previous))
    models = tree / "backend" / "alerts" / "models.py"
    marker = "    resolution_note = models.TextField(blank=True)\n"
    text = models.read_text()
    assert marker in text
    field = "    rollout_note = models.TextField(null=True, blank=True)\n"
    models.write_text(text.replace(marker, marker + field, 1))
    return previous


def _manage(tree: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(tree / "infra" / "entrypoint.sh"), "manage", *args],
        env={**env, "GRIDLINE_PYTHON": PYTHON},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _server(procs: Processes, tree: Path, name: str, env: dict[str, str]) -> Server:
    server = Server(name, free_port(), env, procs.log(name))
    server.argv[0] = str(tree / "infra" / "entrypoint.sh")  # that release's entry point
    procs.add(server)
    server.start()
    return server


def test_old_and_new_release_serve_presses_side_by_side(
    procs: Processes,
    phones: Callable[..., Phone],
    world: World,
    device: Device,
    shared_redis: str,
    tmp_path: Path,
) -> None:
    old = _release(tmp_path, "old")
    new = _release(tmp_path, "new")
    previous = _next_release(new)
    env = procs.django_env(shared_redis)
    probe = "import backend; print(backend.__file__)"
    assert str(old) in _manage(old, env, "shell", "-c", probe)  # each runs its own code
    assert str(new) in _manage(new, env, "shell", "-c", probe)

    _manage(new, env, "migrate", "--noinput")  # the migration Job of the new release
    try:
        a = _server(procs, old, "asgi-old", env)
        b = _server(procs, new, "asgi-new", env)
        procs.wait_ready(a, b)
        procs.dispatcher("dispatcher", redis_url=shared_redis)
        manager = phones(a, world.worker_a.phone)
        manager.open([a, b])
        answers = [device.press(server) for server in (a, b) * 5]
        assert [r.status_code for r in answers] == [201] * 10, [r.text for r in answers]
        # One resident pressing on: both releases fold the presses into one alert (issue 13).
        (pressed,) = {r.json()["alert_id"] for r in answers}
        manager.wait(lambda p: pressed in p.alert_ids(), 20, "the alert on the socket")
        manager.assert_no_duplicates()
        assert Alert.objects.get(pk=pressed).presses == 10
        procs.close()
    finally:
        _manage(new, env, "migrate", "alerts", previous, "--noinput")  # contract it away
