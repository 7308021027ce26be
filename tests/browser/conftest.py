"""Browser fixtures: Debian's chromium driven by Playwright against the live test server."""

import os
import shutil
import threading
import time

import pytest

CHROMIUM = os.environ.get("HERITAGE_CHROMIUM", "/usr/bin/chromium")


# Package scope: Playwright's sync API keeps an event loop running while it is open, which
# the async tests of other packages could not start under.
@pytest.fixture(scope="package")
def browser():
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: CI must install Debian's chromium")
        pytest.skip(
            f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
    # between browser steps are still plain synchronous calls. Only browser tests allow this.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()
    if previous is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def signed_in(page, live_server, django_user_model, settings, tmp_path):
    """A page signed in as a fresh curator; returns (page, user)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    user = django_user_model.objects.create_user(
        username="curator-b", password="a-long-test-password", role="curator"
    )
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "curator-b")
    page.fill("#id_password", "a-long-test-password")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/motifs/")
    return page, user


@pytest.fixture(scope="package")
def asgi_server():
    """Base URL of Daphne serving heritage.asgi.application (and static files) in a thread.

    Twisted's reactor runs once per process, so one server serves every browser test module.
    """
    from daphne.server import Server  # installs Twisted's asyncio reactor: import it first
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
    from twisted.internet import reactor

    from heritage.asgi import application

    server = Server(
        application=ASGIStaticFilesHandler(application),
        endpoints=["tcp:port=0:interface=127.0.0.1"],
        signal_handlers=False,
        verbosity=0,
    )
    errors = []

    def serve():
        try:
            server.run()
        except BaseException as exc:  # reported to the test below
            errors.append(exc)

    thread = threading.Thread(target=serve, name="daphne", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.listening_addresses:
        if errors or not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"Daphne did not start: {errors}")
        time.sleep(0.05)
    port = server.listening_addresses[0][1]
    # "localhost", like live_server: the session cookie of signed_in applies to every port.
    yield f"http://localhost:{port}"
    reactor.callFromThread(reactor.stop)
    thread.join(10)
