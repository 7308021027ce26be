"""The team API: members with roles and state, invitations (the link answered once), revoking,
renewing, roles, deactivation; team managers only, with the Team page's rules and words."""

import pytest
from django.core import mail
from rest_framework.test import APIClient

from heritage import team
from heritage.models import Invitation, User
from tests import factories
from tests.api.conftest import token_client

pytestmark = pytest.mark.django_db

MEMBERS = "/api/v1/team/members/"
INVITATIONS = "/api/v1/team/invitations/"


@pytest.fixture
def manager(db):
    return factories.make_user("manager-user", role="curator", manages_team=True)


@pytest.fixture
def manager_api(manager):
    return token_client(manager)


def test_managers_list_every_account_with_its_role_and_state(manager_api, curator, expert):
    gone = factories.make_user("gone-user", role="expert", is_active=False)
    answer = manager_api.get(MEMBERS)
    assert answer.status_code == 200
    rows = {row["username"]: row for row in answer.json()["results"]}
    assert list(rows) == ["curator-user", "expert-user", "manager-user", "gone-user"]
    assert rows["manager-user"]["position"] == "manager" and rows["manager-user"]["is_team_manager"]
    assert rows["curator-user"]["position"] == "curator"
    assert not rows["curator-user"]["is_team_manager"]
    assert rows["expert-user"]["position"] == "expert" and rows["expert-user"]["is_active"]
    assert rows["gone-user"]["is_active"] is False and rows["gone-user"]["id"] == gone.pk
    assert "password" not in rows["gone-user"]


def test_an_invitation_answers_its_link_once_and_the_link_works(manager_api, client):
    answer = manager_api.post(
        INVITATIONS,
        {"username": "new-expert", "email": "new@example.org", "position": "expert"},
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    assert answer["Cache-Control"] == "no-store"
    body = answer.json()
    assert (body["username"], body["position"], body["state"], body["invited_by"]) == (
        "new-expert",
        "expert",
        "valid",
        "manager-user",
    )
    link = body["link"]
    assert link.startswith("http://testserver/accounts/invitation/")
    key = link.rstrip("/").rsplit("/", 1)[1]
    # Only the key's hash is stored; the link was mailed since the address was given.
    assert not Invitation.objects.filter(key_sha256=key).exists()
    assert body["mailed"] is True and body["mail_error"] is None
    assert mail.outbox[-1].to == ["new@example.org"] and link in mail.outbox[-1].body
    assert client.get(link).status_code == 200

    listed = manager_api.get(INVITATIONS).json()["results"]
    assert [row["username"] for row in listed] == ["new-expert"]
    assert "link" not in listed[0]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"username": "expert-user"},
            {"username": ["The user name 'expert-user' is already taken."]},
        ),
        ({}, {"username": ["Give the new account a user name."]}),
        (
            {"username": "x", "position": "boss"},
            {"position": ["Choose expert, curator or team manager, not 'boss'."]},
        ),
        (
            {"username": "x", "email": "not-mail"},
            {"email": ["'not-mail' is not an e-mail address."]},
        ),
    ],
)
def test_a_bad_invitation_is_refused_by_field(manager_api, expert, body, expected):
    answer = manager_api.post(INVITATIONS, body, format="json")
    assert answer.status_code == 400 and answer.json() == expected
    assert not Invitation.objects.exists()


def test_someone_who_does_not_manage_the_team_cannot_invite(curator_api, expert_api, client):
    for who in (curator_api, expert_api):
        answer = who.post(INVITATIONS, {"username": "sneaky"}, format="json")
        assert answer.status_code == 403
        assert answer.json() == {"detail": "Only curators who manage the team can do this."}
        assert who.get(MEMBERS).status_code == 403
    anonymous = APIClient().post(INVITATIONS, {"username": "sneaky"}, format="json")
    assert anonymous.status_code in (401, 403) and "detail" in anonymous.json()
    assert not Invitation.objects.exists()


def test_revoking_kills_the_link_and_renewing_replaces_it(manager_api, manager, client):
    _invitation, first_key = team.invitation_create(by=manager, username="a", position="curator")
    invitation, _ = team.invitation_create(by=manager, username="b", position="manager")

    renewed = manager_api.post(f"{INVITATIONS}{_invitation.pk}/renew/")
    assert renewed.status_code == 200 and renewed["Cache-Control"] == "no-store"
    new_link = renewed.json()["link"]
    assert renewed.json()["mailed"] is False  # no address given
    assert client.get(f"/accounts/invitation/{first_key}/").status_code == 404
    assert client.get(new_link).status_code == 200

    revoked = manager_api.post(f"{INVITATIONS}{invitation.pk}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    again = manager_api.post(f"{INVITATIONS}{invitation.pk}/revoke/")
    assert again.status_code == 400
    assert again.json() == {"detail": "The invitation of b was already revoked."}
    assert [row["username"] for row in manager_api.get(INVITATIONS).json()["results"]] == ["a"]
    assert manager_api.post(f"{INVITATIONS}999999/revoke/").json() == {
        "detail": "No such invitation."
    }


def test_deactivating_an_account_ends_its_api_access_and_reactivating_restores_sign_in(
    manager_api, expert
):
    expert_api = token_client(expert)
    assert expert_api.get("/api/v1/motifs/").status_code == 200

    answer = manager_api.post(f"{MEMBERS}{expert.pk}/deactivate/")
    assert answer.status_code == 200 and answer.json()["is_active"] is False
    assert expert_api.get("/api/v1/motifs/").status_code == 401  # its tokens were revoked
    again = manager_api.post(f"{MEMBERS}{expert.pk}/deactivate/")
    assert again.json() == {"detail": "expert-user is already deactivated."}

    back = manager_api.post(f"{MEMBERS}{expert.pk}/reactivate/")
    assert back.status_code == 200 and back.json()["is_active"] is True
    expert.refresh_from_db()
    assert expert.is_active and expert.check_password("pw-for-tests")
    assert manager_api.post(f"{MEMBERS}999999/reactivate/").json() == {"detail": "No such account."}


def test_roles_change_with_the_team_pages_rules(manager_api, manager, expert):
    answer = manager_api.post(f"{MEMBERS}{expert.pk}/role/", {"position": "curator"}, format="json")
    assert answer.status_code == 200 and answer.json()["position"] == "curator"
    assert User.objects.get(pk=expert.pk).role == User.Role.CURATOR

    own = manager_api.post(f"{MEMBERS}{manager.pk}/deactivate/")
    assert own.status_code == 400
    assert own.json() == {
        "detail": "You cannot change your own account here; ask another team manager."
    }
    bad = manager_api.post(f"{MEMBERS}{expert.pk}/role/", {"position": "king"}, format="json")
    assert bad.status_code == 400
    assert bad.json() == {"position": ["Choose expert, curator or team manager, not 'king'."]}
    assert User.objects.get(pk=manager.pk).is_active
