"""Team management: invitations, accepting them, roles, deactivation, and who may do it."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from heritage import team, tokens
from heritage.models import ApiToken, Invitation
from tests import factories

User = get_user_model()
PASSWORD = "ochre-figures-on-weathered-rock"


@pytest.fixture
def manager(db):
    return factories.make_user("manager-user", role="curator", manages_team=True)


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def accept_url(key: str) -> str:
    return reverse("team:invitation_accept", args=[key])


# Services: invitations


def test_invitation_stores_only_a_digest_and_expires(manager, settings):
    settings.HERITAGE_INVITATION_DAYS = 3
    invitation, key = team.invitation_create(by=manager, username="li.wei", position="expert")
    assert key not in invitation.key_sha256 and len(key) >= 40
    assert invitation.role == "expert" and not invitation.manages_team
    assert timedelta(days=3) - (invitation.expires_at - timezone.now()) < timedelta(minutes=1)
    assert team.invitation_for_key(key) == invitation
    assert not User.objects.filter(username="li.wei").exists()  # made on acceptance


def test_accepting_makes_the_account_and_uses_up_the_link(manager):
    invitation, key = team.invitation_create(
        by=manager, username="zhang", position="manager", email="zhang@example.org"
    )
    user = team.invitation_accept(key=key, password=PASSWORD)
    assert user.check_password(PASSWORD) and user.is_active
    assert user.role == "curator" and user.manages_team and user.email == "zhang@example.org"
    invitation.refresh_from_db()
    assert invitation.user == user and team.invitation_state(invitation) == "used"
    with pytest.raises(ValidationError, match="was used"):
        team.invitation_accept(key=key, password=PASSWORD + "x")
    assert User.objects.filter(username="zhang").count() == 1


def test_expired_and_revoked_links_make_no_account(manager):
    _, expired_key = team.invitation_create(by=manager, username="late", position="expert")
    Invitation.objects.filter(username="late").update(expires_at=timezone.now())
    with pytest.raises(ValidationError, match="expired"):
        team.invitation_accept(key=expired_key, password=PASSWORD)
    invitation, key = team.invitation_create(by=manager, username="gone", position="expert")
    team.invitation_revoke(invitation=invitation, by=manager)
    with pytest.raises(ValidationError, match="revoked"):
        team.invitation_accept(key=key, password=PASSWORD)
    with pytest.raises(ValidationError, match="already revoked"):
        team.invitation_revoke(invitation=invitation, by=manager)
    with pytest.raises(ValidationError, match="not known"):
        team.invitation_accept(key="no-such-key", password=PASSWORD)
    assert not User.objects.filter(username__in=["late", "gone"]).exists()


def test_password_validators_apply(manager):
    invitation, key = team.invitation_create(by=manager, username="weakling", position="expert")
    for weak in ["short", "12345678901", "password123", "weakling1"]:
        with pytest.raises(ValidationError):
            team.invitation_accept(key=key, password=weak)
    invitation.refresh_from_db()
    assert team.invitation_state(invitation) == "valid"
    assert not User.objects.filter(username="weakling").exists()


def test_renewing_kills_the_old_link(manager):
    invitation, old = team.invitation_create(by=manager, username="renewed", position="expert")
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now())
    new = team.invitation_renew(invitation=invitation, by=manager)
    assert team.invitation_for_key(old) is None
    assert team.invitation_state(team.invitation_for_key(new)) == "valid"
    team.invitation_accept(key=new, password=PASSWORD)
    with pytest.raises(ValidationError, match="already used"):
        team.invitation_renew(invitation=invitation, by=manager)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"username": "manager-user"}, "already taken"),
        ({"username": "MANAGER-USER"}, "already taken"),
        ({"username": "has space"}, "valid username"),
        ({"username": "  "}, "user name"),
        ({"username": "ok", "email": "not-an-address"}, "not an e-mail"),
        ({"username": "ok", "position": "admin"}, "Choose expert"),
    ],
)
def test_bad_invitations_are_refused_and_change_nothing(manager, fields, message):
    arguments = {"position": "expert", **fields}
    with pytest.raises(ValidationError, match=message):
        team.invitation_create(by=manager, **arguments)
    assert not Invitation.objects.exists()


def test_a_pending_name_cannot_be_invited_twice(manager):
    team.invitation_create(by=manager, username="twice", position="expert")
    with pytest.raises(ValidationError, match="pending invitation"):
        team.invitation_create(by=manager, username="Twice", position="curator")


def test_an_expired_invitation_gives_way_to_a_new_one(manager):
    old, old_key = team.invitation_create(by=manager, username="again", position="expert")
    Invitation.objects.filter(pk=old.pk).update(expires_at=timezone.now())
    new, key = team.invitation_create(by=manager, username="again", position="curator")
    assert list(team.pending_invitations()) == [new]
    assert team.invitation_accept(key=key, password=PASSWORD).role == "curator"
    with pytest.raises(ValidationError, match="revoked"):
        team.invitation_accept(key=old_key, password=PASSWORD)


def test_invitation_is_mailed_only_with_a_mail_backend(manager, settings):
    invitation, _ = team.invitation_create(
        by=manager, username="mailed", position="expert", email="m@example.org"
    )
    assert team.invitation_mail(invitation=invitation, url="http://site/link/") is True
    assert mail.outbox[-1].to == ["m@example.org"]
    assert "http://site/link/" in mail.outbox[-1].body and "mailed" in mail.outbox[-1].body
    settings.EMAIL_BACKEND = team.DUMMY_EMAIL_BACKEND
    assert team.invitation_mail(invitation=invitation, url="http://site/link/") is False
    invitation.email = ""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert team.invitation_mail(invitation=invitation, url="http://site/link/") is False
    assert len(mail.outbox) == 1


# Services: members


def test_managers_cannot_change_themselves_or_superusers(manager):
    for change in (team.member_deactivate, team.member_reactivate):
        with pytest.raises(ValidationError, match="your own account"):
            change(user=manager, by=manager)
    with pytest.raises(ValidationError, match="your own account"):
        team.member_set_position(user=manager, position="expert", by=manager)
    root = User.objects.create_superuser("root", password="x")
    with pytest.raises(ValidationError, match="superuser"):
        team.member_deactivate(user=root, by=manager)
    assert User.objects.get(pk=manager.pk).is_team_manager and root.is_active


def test_the_last_manager_stays(manager):
    other = factories.make_user("other-manager", role="curator", manages_team=True)
    stale = User.objects.get(pk=manager.pk)
    team.member_deactivate(user=manager, by=other)
    # `stale` still believes it manages the team (a request that began before): the team
    # must keep its last active manager anyway.
    with pytest.raises(ValidationError, match="last team manager"):
        team.member_deactivate(user=other, by=stale)
    with pytest.raises(ValidationError, match="last team manager"):
        team.member_set_position(user=other, position="curator", by=stale)
    other.refresh_from_db()
    assert other.is_team_manager


def test_roles_change(manager, expert):
    team.member_set_position(user=expert, position="manager", by=manager)
    expert.refresh_from_db()
    assert expert.is_curator and expert.is_team_manager and not expert.is_expert
    team.member_set_position(user=expert, position="expert", by=manager)
    expert.refresh_from_db()
    assert expert.is_expert and not expert.manages_team


def test_deactivation_stops_sign_in_sessions_and_tokens(manager, expert, client):
    _, key = tokens.token_create(user=expert, name="script")
    assert tokens.token_authenticate(key=key) is not None
    client.force_login(expert)
    assert client.get(reverse("gallery:review_home")).status_code == 200
    team.member_deactivate(user=expert, by=manager)
    assert tokens.token_authenticate(key=key) is None
    assert ApiToken.objects.get(user=expert).revoked_at is not None
    response = client.get(reverse("gallery:review_home"))
    assert response.status_code == 302 and reverse("login") in response["Location"]
    assert not client.login(username=expert.username, password="pw-for-tests")
    with pytest.raises(ValidationError, match="already deactivated"):
        team.member_deactivate(user=expert, by=manager)
    team.member_reactivate(user=expert, by=manager)
    assert client.login(username=expert.username, password="pw-for-tests")
    assert tokens.token_authenticate(key=key) is None  # revoked tokens stay revoked


def test_only_team_managers_may_manage(curator, expert, plain_user, manager):
    invitation, _ = team.invitation_create(by=manager, username="x", position="expert")
    for user in (curator, expert, plain_user):
        with pytest.raises(PermissionDenied):
            team.invitation_create(by=user, username="y", position="expert")
        with pytest.raises(PermissionDenied):
            team.invitation_revoke(invitation=invitation, by=user)
        with pytest.raises(PermissionDenied):
            team.member_deactivate(user=manager, by=user)
        with pytest.raises(PermissionDenied):
            team.member_set_position(user=curator, position="manager", by=user)
    manager.is_active = False
    assert not manager.is_team_manager


# Views


@pytest.mark.parametrize("who", ["curator", "expert", "plain_user"])
def test_team_pages_refuse_everyone_but_managers(client, request, who, manager):
    target = factories.make_user("target", role="expert")
    invitation, _ = team.invitation_create(by=manager, username="waiting", position="expert")
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse("team:home")).status_code == 403
    posts = [
        (reverse("team:home"), {"username": "intruder", "position": "manager"}),
        (reverse("team:member_position", args=[target.pk]), {"position": "manager"}),
        (reverse("team:member_deactivate", args=[target.pk]), {}),
        (reverse("team:invitation_revoke", args=[invitation.pk]), {}),
        (reverse("team:invitation_renew", args=[invitation.pk]), {}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    target.refresh_from_db()
    invitation.refresh_from_db()
    assert target.is_active and target.role == "expert" and not target.manages_team
    assert invitation.revoked_at is None
    assert not Invitation.objects.filter(username="intruder").exists()


def test_visitors_are_sent_to_sign_in(client, db):
    response = client.get(reverse("team:home"))
    assert response.status_code == 302 and reverse("login") in response["Location"]
    response = client.post(reverse("team:home"), {"username": "anon", "position": "manager"})
    assert response.status_code == 302 and not Invitation.objects.exists()


def test_nav_shows_team_to_managers_only(manager_client, client, curator):
    assert 'href="/team/"' in manager_client.get(reverse("heritage:motif_list")).text
    client.force_login(curator)
    assert 'href="/team/"' not in client.get(reverse("heritage:motif_list")).text


def test_invite_shows_the_link_once_and_the_link_makes_the_account(manager_client, client):
    response = manager_client.post(
        reverse("team:home"), {"username": "new-expert", "email": "", "position": "expert"}
    )
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    link = re.search(r'id="invitation-link"[^>]*value="([^"]+)"', response.text).group(1)
    assert link.startswith("http://testserver/accounts/invitation/")
    assert link not in manager_client.get(reverse("team:home")).text
    assert "new-expert" in manager_client.get(reverse("team:home")).text  # pending

    path = link.removeprefix("http://testserver")
    page = client.get(path)
    assert page.status_code == 200 and "new-expert" in page.text
    refused = client.post(path, {"new_password1": "abc", "new_password2": "abc"})
    assert refused.status_code == 400 and "too short" in refused.text
    assert not User.objects.filter(username="new-expert").exists()
    response = client.post(path, {"new_password1": PASSWORD, "new_password2": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("gallery:review_home")
    assert client.get(reverse("gallery:review_home")).context["user"].username == "new-expert"

    dead = client.get(path)
    assert dead.status_code == 410 and "already used" in dead.text


def test_dead_links_have_a_clear_page(client, manager):
    assert client.get(accept_url("nothing-like-this")).status_code == 404
    _, key = team.invitation_create(by=manager, username="exp", position="expert")
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get(accept_url(key))
    assert response.status_code == 410 and "has expired" in response.text
    response = client.post(accept_url(key), {"new_password1": PASSWORD, "new_password2": PASSWORD})
    assert response.status_code == 410 and not User.objects.filter(username="exp").exists()


def test_invite_with_mail_says_so(manager_client):
    response = manager_client.post(
        reverse("team:home"),
        {"username": "mailme", "email": "mailme@example.org", "position": "curator"},
    )
    assert response.status_code == 200 and "also mailed to mailme@example.org" in response.text
    assert mail.outbox[0].to == ["mailme@example.org"]


def test_bad_invite_form_says_why(manager_client, manager):
    response = manager_client.post(
        reverse("team:home"), {"username": "manager-user", "position": "expert"}
    )
    assert response.status_code == 400 and "already taken" in response.text
    assert not Invitation.objects.exists()


def test_member_actions_from_the_page(manager_client, manager, expert):
    response = manager_client.post(
        reverse("team:member_position", args=[expert.pk]), {"position": "curator"}
    )
    assert response.status_code == 302
    expert.refresh_from_db()
    assert expert.role == "curator"
    manager_client.post(reverse("team:member_deactivate", args=[expert.pk]))
    expert.refresh_from_db()
    assert not expert.is_active
    page = manager_client.get(reverse("team:home"))
    assert "was deactivated" in page.text and f"Reactivate {expert.username}" in page.text
    manager_client.post(reverse("team:member_reactivate", args=[expert.pk]))
    expert.refresh_from_db()
    assert expert.is_active
    response = manager_client.post(reverse("team:member_deactivate", args=[manager.pk]))
    assert "your own account" in manager_client.get(reverse("team:home")).text
    manager.refresh_from_db()
    assert manager.is_active


def test_revoke_from_the_page(manager_client, manager):
    invitation, key = team.invitation_create(by=manager, username="soon", position="expert")
    manager_client.post(reverse("team:invitation_revoke", args=[invitation.pk]))
    assert manager_client.get(accept_url(key)).status_code == 410
    response = manager_client.post(reverse("team:invitation_renew", args=[invitation.pk]))
    assert (
        response.status_code == 302
        and not Invitation.objects.filter(revoked_at__isnull=True).exists()
    )


def test_experts_land_on_my_reviews_curators_on_the_catalogue(client, expert, curator):
    response = client.post(
        reverse("login"), {"username": expert.username, "password": "pw-for-tests"}
    )
    assert response["Location"] == reverse("gallery:review_home")
    client.logout()
    response = client.post(
        reverse("login"), {"username": curator.username, "password": "pw-for-tests"}
    )
    assert response["Location"] == reverse("heritage:motif_list")
    client.logout()
    response = client.post(
        reverse("login") + "?next=/motifs/",
        {"username": expert.username, "password": "pw-for-tests", "next": "/motifs/"},
    )
    assert response["Location"] == "/motifs/"


def test_the_migration_lets_the_existing_curators_manage_the_team(curator, expert):
    import importlib

    from django.apps import apps

    User.objects.filter(pk=curator.pk).update(manages_team=False)
    importlib.import_module("heritage.migrations.0004_team").grant_existing_curators(apps, None)
    curator.refresh_from_db()
    expert.refresh_from_db()
    assert curator.is_team_manager and not expert.manages_team
