"""Settings: malformed or insecure environment values stop start-up; URLs pick the backends.

Each case imports the settings module in a fresh interpreter, so this process's settings stay
as they are.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
GOOD_KEY = "k3y-" + "".join(chr(ord("a") + i % 26) + str(i % 10) for i in range(30))
# Every variable the settings read that a test sets; cleared so the developer's shell can't leak in.
VARIABLES = (
    "DEBUG",
    "HERITAGE_DEBUG_PAGES",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "HERITAGE_CHANNEL_LAYER",
    "HERITAGE_MAX_IMAGE_PIXELS",
    "HERITAGE_MAX_UPLOAD_MB",
    "DJANGO_SETTINGS_MODULE",
)


def _import_settings(print_expression: str = "''", **variables: str):
    env = {name: value for name, value in os.environ.items() if name not in VARIABLES}
    env.update(variables)
    code = f"import heritage.settings as s; print({print_expression})"
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _refused(result, *words: str) -> None:
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    for word in words:
        assert word in result.stderr


def test_settings_start_with_no_variables_set():
    result = _import_settings(
        "s.DEVELOPMENT, s.DEBUG, s.DATABASES['default']['ENGINE'], s.HERITAGE_MAX_IMAGE_PIXELS"
    )
    assert result.returncode == 0, result.stderr
    # A development installation, whose visitors still never see Django's debug pages.
    assert result.stdout.strip() == "True False django.db.backends.sqlite3 150000000"


def test_settings_show_debug_pages_only_when_a_developer_asks():
    shown = _import_settings("s.DEBUG, s.WHITENOISE_USE_FINDERS", HERITAGE_DEBUG_PAGES="true")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "True True"
    deployed = _import_settings(
        "s.DEVELOPMENT, s.DEBUG, s.WHITENOISE_USE_FINDERS",
        DEBUG="false",
        HERITAGE_DEBUG_PAGES="true",
        SECRET_KEY=GOOD_KEY,
        ALLOWED_HOSTS="murals.example.org",
    )
    assert deployed.returncode == 0, deployed.stderr
    assert deployed.stdout.strip() == "False False False"


@pytest.mark.parametrize("key", [None, "short", "a" * 60], ids=["default", "short", "one-letter"])
def test_settings_refuse_an_insecure_secret_key_without_debug(key):
    variables = {"DEBUG": "false", "ALLOWED_HOSTS": "murals.example.org"}
    if key is not None:
        variables["SECRET_KEY"] = key
    _refused(_import_settings(**variables), "SECRET_KEY")


def test_settings_start_without_debug_given_a_proper_key_and_hosts():
    result = _import_settings(
        "s.DEBUG, s.SESSION_COOKIE_SECURE",
        DEBUG="false",
        SECRET_KEY=GOOD_KEY,
        ALLOWED_HOSTS="murals.example.org",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False True"


def test_settings_refuse_a_wildcard_host_without_debug():
    result = _import_settings(DEBUG="false", SECRET_KEY=GOOD_KEY, ALLOWED_HOSTS="*")
    _refused(result, "ALLOWED_HOSTS")


def test_settings_refuse_a_malformed_debug_flag():
    _refused(_import_settings(DEBUG="maybe"), "DEBUG")


@pytest.mark.parametrize("value", ["abc", "-5", "0", "1.5e8"])
def test_settings_refuse_a_malformed_pixel_limit(value):
    _refused(_import_settings(HERITAGE_MAX_IMAGE_PIXELS=value), "HERITAGE_MAX_IMAGE_PIXELS")


def test_settings_read_the_pixel_and_upload_limits():
    result = _import_settings(
        "s.HERITAGE_MAX_IMAGE_PIXELS, s.HERITAGE_MAX_UPLOAD_BYTES",
        HERITAGE_MAX_IMAGE_PIXELS="40000000",
        HERITAGE_MAX_UPLOAD_MB="2",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["40000000", str(2 * 1024 * 1024)]


def test_settings_database_url_selects_postgresql():
    result = _import_settings(
        "s.DATABASES['default']['ENGINE'], s.DATABASES['default']['NAME'], "
        "s.DATABASES['default']['HOST']",
        DATABASE_URL="postgres://heritage:secret@db.internal:5432/catalogue",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.postgresql", "catalogue", "db.internal"]


def test_settings_refuse_an_unsupported_database():
    _refused(_import_settings(DATABASE_URL="mysql://u:p@localhost/db"), "DATABASE_URL")


def test_settings_redis_url_selects_the_redis_channel_layer_and_broker():
    result = _import_settings(
        "s.CHANNEL_LAYERS['default']['BACKEND'], s.CHANNEL_LAYERS['default']['CONFIG'], "
        "s.CELERY_BROKER_URL",
        REDIS_URL="redis://cache.internal:6379/1",
    )
    assert result.returncode == 0, result.stderr
    # Pub/sub (one Redis message per server process and event), its channels kept apart
    # per database number as keys are.
    assert "heritage.channel_layers.RedisPubSubLayer" in result.stdout
    assert "'prefix': 'asgi.db1.'" in result.stdout
    assert result.stdout.count("redis://cache.internal:6379/1") == 2


def test_settings_channel_layer_core_selects_channels_redis_lists():
    result = _import_settings(
        "s.CHANNEL_LAYERS['default']['BACKEND']",
        REDIS_URL="redis://cache.internal:6379/1",
        HERITAGE_CHANNEL_LAYER="core",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "channels_redis.core.RedisChannelLayer"


def test_settings_refuse_an_unknown_channel_layer():
    _refused(
        _import_settings(REDIS_URL="redis://cache.internal:6379/1", HERITAGE_CHANNEL_LAYER="x"),
        "HERITAGE_CHANNEL_LAYER",
    )


def test_settings_without_redis_use_the_in_memory_channel_layer():
    result = _import_settings("s.CHANNEL_LAYERS['default']['BACKEND']")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "channels.layers.InMemoryChannelLayer"


@pytest.mark.parametrize("url", ["cache.internal:6379", "http://cache.internal:6379"])
def test_settings_refuse_a_malformed_redis_url(url):
    _refused(_import_settings(REDIS_URL=url), "REDIS_URL")
