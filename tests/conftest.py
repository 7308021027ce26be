"""Fixtures shared by every app's tests."""

import pytest

from tests import factories


@pytest.fixture
def media(settings, tmp_path):
    """MEDIA_ROOT in a fresh temporary folder, returned as a Path."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture
def curator(db):
    return factories.make_user("curator-user", role="curator")


@pytest.fixture
def expert(db):
    return factories.make_user("expert-user", role="expert")


@pytest.fixture
def plain_user(db):
    """Signed in, but neither curator nor expert."""
    return factories.make_user("plain-user")


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Test users need no brute-force resistance; the default hasher costs ~0.25 s a user."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def curator_client(client, curator):
    client.force_login(curator)
    return client


@pytest.fixture
def expert_client(client, expert):
    client.force_login(expert)
    return client


@pytest.fixture(autouse=True)
def empty_cache():
    """The cache (public pages, vote throttles) lives in process memory and outlives each test's
    database: start every test with it empty."""
    from django.core.cache import cache

    from gallery.cache import forget_local_pages  # each process's own copies of the pages

    cache.clear()
    forget_local_pages()
    yield
    cache.clear()
    forget_local_pages()


@pytest.fixture(autouse=True, scope="session")
def no_embedded_sweep_thread():
    """A test that serves heritage.asgi in this process would start the embedded runner's sweep
    thread, which would then query the database under every later test: tests sweep
    themselves (restoration.services.job_sweep)."""
    from django.conf import settings

    settings.RESTORATION_EMBEDDED_SWEEP = False


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """An SQLite test database in a file, like the embedded default it stands for.

    Django would otherwise test in memory, where connections share one cache whose table locks
    fail at once ("database table is locked") instead of waiting like the file's locks: the
    embedded jobs that browser tests run in threads of the server then crash at random.
    """
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        folder = tmp_path_factory.mktemp("database")
        database.setdefault("TEST", {})["NAME"] = str(folder / "test.sqlite3")
