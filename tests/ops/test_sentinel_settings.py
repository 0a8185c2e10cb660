"""REDIS_SENTINEL_URL, the sentinels in one URL (backend/config/settings.py), and what the
settings build from the sentinels: the channel layer and the rate-limit cache through them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from backend.config.settings import sentinel_url


def test_a_sentinel_url_names_the_sentinels_the_master_and_the_db() -> None:
    assert sentinel_url("redis+sentinel://s1:26379,s2:26380/gridline/3") == (
        [("s1", 26379), ("s2", 26380)],
        "gridline",
        3,
    )
    assert sentinel_url("redis+sentinel://s1,s2/city") == (
        [("s1", 26379), ("s2", 26379)],
        "city",
        0,
    )


@pytest.mark.parametrize(
    "url", ["redis://s1:26379/gridline", "redis+sentinel://s1:26379", "redis+sentinel:///x/0"]
)
def test_a_malformed_sentinel_url_is_refused_at_start(url: str) -> None:
    with pytest.raises(ImproperlyConfigured):
        sentinel_url(url)


def _settings_with(**env: str) -> dict[str, object]:
    """CACHES and CHANNEL_LAYERS as a fresh process builds them from `env`."""
    code = (
        "import json; from django.conf import settings as s; "
        "print(json.dumps({'cache': s.CACHES['default'], 'layer': s.CHANNEL_LAYERS['default']}))"
    )
    child_env = dict(os.environ, DJANGO_SETTINGS_MODULE="backend.config.settings", **env)
    out = subprocess.run(
        [sys.executable, "-c", code], env=child_env, capture_output=True, text=True, check=True
    )
    return dict(json.loads(out.stdout))


def test_the_cache_and_the_channel_layer_both_go_through_the_sentinels() -> None:
    built = _settings_with(
        REDIS_URL="", REDIS_SENTINELS="", REDIS_SENTINEL_URL="redis+sentinel://h:26379/gl/2"
    )
    cache, layer = built["cache"], built["layer"]
    assert isinstance(cache, dict) and isinstance(layer, dict)
    assert cache["BACKEND"] == "django_redis.cache.RedisCache"
    assert cache["LOCATION"] == "redis://gl/2"
    assert cache["OPTIONS"]["CONNECTION_FACTORY"] == "django_redis.pool.SentinelConnectionFactory"
    assert cache["OPTIONS"]["SENTINELS"] == [["h", 26379]]
    host = layer["CONFIG"]["hosts"][0]
    assert (host["sentinels"], host["master_name"], host["db"]) == ([["h", 26379]], "gl", 2)
