"""Error answers as people meet them: the site's own 403/404/500 pages with links onward (JSON
for scripts), HEAD wherever GET works, an icon, and no Django debug page in a development
installation (`make run`)."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import path
from PIL import Image

from heritage import urls as site_urls
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
HTML = {"HTTP_ACCEPT": "text/html,application/xhtml+xml"}
DEBUG_PAGE_MARKS = ("URLconf", "Django tried these URL patterns", "DEBUG = True", "Traceback")


def _boom(request):
    raise RuntimeError("a fault in a view")


def _forbidden(request):
    raise PermissionDenied


# This module is also a URLconf (pytest.mark.urls below): the site's, plus two failing views.
urlpatterns = [
    path("test-boom/", _boom),
    path("test-forbidden/", _forbidden),
    *site_urls.urlpatterns,
]
handler403 = site_urls.handler403
handler404 = site_urls.handler404
handler500 = site_urls.handler500


def _no_debug_page(text: str) -> None:
    for mark in DEBUG_PAGE_MARKS:
        assert mark not in text, f"{mark!r} shown to a visitor"


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/no-such-page/", "/exhibitions/no-such-exhibition/"])
def test_a_missing_page_is_the_sites_404_with_links_onward(client, url):
    response = client.get(url, **HTML)

    assert response.status_code == 404
    text = response.content.decode()
    assert "<h1>Page not found</h1>" in text
    assert f"There is no page at {url}." in text
    assert 'href="/exhibitions/"' in text and 'href="/accounts/login/?next=' in text
    assert "css/app.css" in text and "favicon.svg" in text  # the site's look and icon
    _no_debug_page(text)


@pytest.mark.django_db
def test_scripts_get_the_404_as_json(client):
    response = client.get("/no-such-page/", HTTP_ACCEPT="application/json")

    assert response.status_code == 404
    assert response.json() == {"error": "There is no page at /no-such-page/."}


@pytest.mark.django_db
def test_a_refused_page_says_why_and_who_is_signed_in(expert_client):
    response = expert_client.get("/motifs/upload/", **HTML)

    assert response.status_code == 403
    text = response.content.decode()
    assert "You cannot open this page" in text
    assert "Only curators can do this." in text
    assert "signed in as <strong>expert-user</strong> (expert)" in text
    assert 'href="/motifs/"' in text  # the catalogue, which an expert may open
    assert "403 Forbidden" not in text


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_a_refusal_without_a_reason_still_says_what_happened(client):
    response = client.get("/test-forbidden/", **HTML)

    assert response.status_code == 403
    assert "You do not have permission to open this page." in response.content.decode()
    assert client.get("/test-forbidden/").json() == {
        "error": "You do not have permission to open this page."
    }


@pytest.mark.django_db
def test_a_form_with_a_stale_csrf_token_gets_the_sites_403_saying_what_to_do():
    client = Client(enforce_csrf_checks=True)

    response = client.post("/accounts/login/", {"username": "a", "password": "b"}, **HTML)

    assert response.status_code == 403
    text = response.content.decode()
    assert "The form was not accepted" in text
    assert "Reload the page and send the form again." in text
    assert "CSRF verification failed" not in text


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_a_server_error_is_the_sites_500_page(caplog):
    client = Client(raise_request_exception=False)

    response = client.get("/test-boom/", **HTML)

    assert response.status_code == 500
    text = response.content.decode()
    assert "Something went wrong" in text and "css/app.css" in text
    assert "a fault in a view" not in text
    _no_debug_page(text)
    assert "a fault in a view" in caplog.text  # the traceback goes to the log instead
    scripted = client.get("/test-boom/")
    assert scripted.status_code == 500 and "error" in scripted.json()


@pytest.mark.django_db
def test_head_answers_wherever_get_does(client, curator, media):
    motif = factories.make_motif(user=curator, title="Flying apsaras", seed=100)
    public = ["/", "/exhibitions/", "/accounts/login/", "/favicon.ico"]
    for url in public:
        # HEAD first: it must not leave an empty copy of the page in the public page cache.
        head, got = client.head(url), client.get(url)
        assert len(got.content) > 0 or got.status_code == 302, url
        assert head.status_code == got.status_code, url
        assert head.content == b"", url
        if not got.streaming and got.status_code == 200:
            assert int(head["Content-Length"]) == len(got.content), url
        assert head.get("Content-Type") == got.get("Content-Type"), url

    client.force_login(curator)
    for url in [motif.get_absolute_url(), "/motifs/", f"/motifs/{motif.pk}/damage/new/"]:
        assert client.head(url).status_code == 200, url
    # A view that takes only POST still refuses HEAD (and GET).
    assert client.head(f"/motifs/{motif.pk}/damage/save/").status_code == 405


@pytest.mark.django_db
def test_the_icon_is_linked_on_every_page_and_answered_at_favicon_ico(client):
    page = client.get("/").content.decode()
    assert 'rel="icon" href="/static/favicon.svg" type="image/svg+xml"' in page
    assert 'rel="icon" href="/static/favicon.ico"' in page

    response = client.get("/favicon.ico")

    assert response.status_code == 302
    assert response["Location"] == "/static/favicon.ico"
    with Image.open(ROOT / "static" / "favicon.ico") as icon:
        assert icon.format == "ICO"
        assert (48, 48) in icon.info["sizes"]
    assert b"<svg" in (ROOT / "static" / "favicon.svg").read_bytes()


# --- the development installation, as `make run` serves it ---------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _fetch(url: str, method: str = "GET"):
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, method=method, headers={"Accept": "text/html"})
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_make_runs_server_shows_no_debug_page_and_still_serves_static_files(tmp_path):
    """`make run`'s server (runserver, no variable set): the site's 404 rather than Django's
    list of every URL pattern, static files and the icon served, HEAD answered."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DEBUG", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "SECRET_KEY"}
        and not key.startswith(("HERITAGE_", "DJANGO_"))
    }
    env.update(HERITAGE_VAR_DIR=str(tmp_path), PYTHONUNBUFFERED="1")
    manage = [sys.executable, "manage.py"]
    subprocess.run(
        [*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=300
    )
    port = _free_port()
    log = tmp_path / "runserver.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if server.poll() is not None:
                pytest.fail(f"runserver exited:\n{log.read_text()[-3000:]}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"runserver did not listen:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)

        status, _, body = _fetch(f"{base}/no-such-page/")
        assert status == 404
        text = body.decode()
        assert "<h1>Page not found</h1>" in text
        _no_debug_page(text)

        status, headers, body = _fetch(f"{base}/static/css/app.css")
        assert status == 200 and b"--accent" in body
        status, headers, _ = _fetch(f"{base}/favicon.ico")
        assert status == 302 and headers["Location"] == "/static/favicon.ico"
        assert _fetch(f"{base}/static/favicon.ico")[0] == 200

        got_status, got_headers, got_body = _fetch(f"{base}/")
        head_status, head_headers, head_body = _fetch(f"{base}/", method="HEAD")
        assert (got_status, head_status) == (200, 200)
        assert head_body == b""
        assert int(head_headers["Content-Length"]) == len(got_body)
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
