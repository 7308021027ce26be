"""The API's root listing, its documentation served locally, its error shape everywhere."""

import re

import pytest
from rest_framework.test import APIClient


@pytest.mark.django_db
def test_root_lists_the_parts_and_the_documentation_is_served_locally(client):
    root = APIClient().get("/api/v1/")
    assert root.status_code == 200
    body = root.json()
    assert {"sites", "motifs", "engines", "jobs", "style-jobs", "exhibitions"} <= set(body["parts"])
    assert {"checkpoints", "team-members", "team-invitations"} <= set(body["parts"])
    for part in body["parts"].values():
        assert part["url"].startswith("/api/v1/")
    for url in (body["documentation"], body["redoc"]):
        page = client.get(url).content.decode()
        # Swagger UI and Redoc come from the project's static files, never from a CDN.
        assert "/static/drf_spectacular_sidecar/" in page
        for link in re.findall(r'(?:src|href)="([^"]*)"', page):
            assert link.startswith("/"), link
    schema = client.get(body["schema"], {"format": "json"})
    assert schema.status_code == 200 and "/api/v1/jobs/" in schema.json()["paths"]
    assert f'href="{body["documentation"]}"' in client.get("/").content.decode()


@pytest.mark.django_db
def test_answers_outside_the_views_keep_the_api_error_format():
    # No such endpoint: Django's 404 handler, in the API's shape under /api/.
    missing = APIClient().get("/api/v1/no-such-part/")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "There is no page at /api/v1/no-such-part/."}
    # Outside the API, scripts keep the site's own shape.
    assert "error" in APIClient().get("/no-such-page/").json()
