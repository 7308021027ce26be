"""Personal API tokens: made on the profile page (key shown once, stored hashed), used with
`Authorization: Token KEY`, revoked."""

import hashlib
import re

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from heritage import tokens
from heritage.models import ApiToken

PROFILE = "/accounts/profile/"


def _key(page: str) -> str:
    return re.search(r'id="new-key" type="text" readonly value="([^"]+)"', page).group(1)


def _api(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_a_curator_makes_uses_and_revokes_a_token(curator_client, curator):
    page = curator_client.get(PROFILE)
    assert page.status_code == 200 and "You have no tokens yet" in page.content.decode()
    made = curator_client.post(PROFILE, {"name": "import script"})
    assert made.status_code == 200 and made["Cache-Control"] == "no-store"
    key = _key(made.content.decode())
    token = ApiToken.objects.get(user=curator)
    # Only the hash is kept; the page shows the key once.
    assert token.key_sha256 == hashlib.sha256(key.encode()).hexdigest()
    assert key not in str(ApiToken.objects.values_list()) and token.prefix == key[:8]
    assert key not in curator_client.get(PROFILE).content.decode()

    assert _api(key).get("/api/v1/motifs/").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None

    revoked = curator_client.post(reverse("token_revoke", args=[token.pk]), follow=True)
    assert "was revoked" in revoked.content.decode()
    refused = _api(key).get("/api/v1/motifs/")
    assert refused.status_code == 401 and refused.json() == {"detail": "Invalid token."}


def test_token_names_are_required_and_unique_among_active_ones(curator_client, curator):
    assert curator_client.post(PROFILE, {"name": " "}).status_code == 400
    assert curator_client.post(PROFILE, {"name": "lab"}).status_code == 200
    again = curator_client.post(PROFILE, {"name": "LAB"})
    assert again.status_code == 400 and "already have an active token" in again.content.decode()
    assert ApiToken.objects.filter(user=curator).count() == 1


def test_only_the_owner_revokes_and_people_without_a_role_make_none(
    curator, expert, expert_client, plain_user, client
):
    token, _key = tokens.token_create(user=curator, name="mine")
    assert expert_client.post(reverse("token_revoke", args=[token.pk])).status_code == 404
    token.refresh_from_db()
    assert token.is_active
    # Experts hold tokens too (their review queue); people without a role do not.
    assert expert_client.post(PROFILE, {"name": "queue"}).status_code == 200
    client.force_login(plain_user)
    assert "for curators and experts" in client.get(PROFILE).content.decode()
    assert client.post(PROFILE, {"name": "x"}).status_code == 403
    assert not ApiToken.objects.filter(user=plain_user).exists()


def test_a_deactivated_person_s_token_stops_working(curator):
    _token, key = tokens.token_create(user=curator, name="ci")
    assert _api(key).get("/api/v1/sites/").status_code == 200
    curator.is_active = False
    curator.save()
    assert _api(key).get("/api/v1/sites/").status_code == 401


def test_drf_authtoken_keys_still_work(curator):
    key = Token.objects.create(user=curator).key
    assert _api(key).get("/api/v1/sites/").status_code == 200


@pytest.mark.django_db
def test_a_bad_token_still_reads_public_endpoints():
    assert _api("not-a-token").get("/api/v1/exhibitions/").status_code == 200
    assert _api("not-a-token").get("/api/v1/sites/").status_code == 401
