"""Team management: invitations (single-use links that expire), roles, deactivation.

A team manager (a curator with `manages_team`, or a superuser) invites experts and curators,
changes their roles and deactivates or reactivates their accounts. Nobody changes their own
account here, superusers are managed in /admin/ only, and the team always keeps an active
manager. An invitation's link carries a random key of which only the sha256 is stored; the
account is made when the invitee sets a password through it.
"""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from heritage.models import ApiToken, Invitation, User

# What the Team page offers for a person: a role, and for curators whether they manage the team.
EXPERT = "expert"
CURATOR = "curator"
MANAGER = "manager"
POSITIONS = (
    (EXPERT, "Expert"),
    (CURATOR, "Curator"),
    (MANAGER, "Curator who manages the team"),
)
_POSITION_FIELDS = {
    EXPERT: {"role": User.Role.EXPERT, "manages_team": False},
    CURATOR: {"role": User.Role.CURATOR, "manages_team": False},
    MANAGER: {"role": User.Role.CURATOR, "manages_team": True},
}
DUMMY_EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def position_of(user: User | Invitation) -> str:
    """The Team page's position of a person or an invitation ("" for no role)."""
    if user.role == User.Role.EXPERT:
        return EXPERT
    if user.role == User.Role.CURATOR:
        return MANAGER if user.manages_team else CURATOR
    return ""


def _position_fields(position: str) -> dict:
    try:
        return _POSITION_FIELDS[position]
    except KeyError:
        raise ValidationError(
            {"position": f"Choose expert, curator or team manager, not {position!r}."}
        ) from None


def require_manager(user: User) -> None:
    if not (user.is_authenticated and user.is_team_manager):
        raise PermissionDenied("Only curators who manage the team can do this.")


def mail_configured() -> bool:
    """Whether invitations are mailed: a mail backend other than Django's dummy one is set
    (EMAIL_URL; tests use the in-memory one)."""
    return settings.EMAIL_BACKEND != DUMMY_EMAIL_BACKEND


# Reading


def team_members() -> QuerySet[User]:
    """Every account, active ones first, then by user name."""
    return User.objects.order_by("-is_active", "username")


def pending_invitations() -> QuerySet[Invitation]:
    """Invitations neither used nor revoked (expired ones included), newest first."""
    return Invitation.objects.filter(accepted_at__isnull=True, revoked_at__isnull=True)


def active_managers() -> QuerySet[User]:
    return User.objects.filter(is_active=True).filter(
        Q(is_superuser=True) | Q(role=User.Role.CURATOR, manages_team=True)
    )


def invitation_state(invitation: Invitation) -> str:
    """ "used", "revoked", "expired" or "valid"."""
    if invitation.accepted_at is not None:
        return "used"
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.expires_at <= timezone.now():
        return "expired"
    return "valid"


def invitation_for_key(key: str) -> Invitation | None:
    """The invitation whose link carries `key`, whatever its state, or None."""
    if not key:
        return None
    return Invitation.objects.filter(key_sha256=_digest(key)).first()


# Invitations


def _username_free(username: str, *, ignore: Invitation | None = None) -> None:
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": f"The user name {username!r} is already taken."})
    pending = pending_invitations().filter(username__iexact=username, expires_at__gt=timezone.now())
    if ignore is not None:
        pending = pending.exclude(pk=ignore.pk)
    if pending.exists():
        raise ValidationError(
            {"username": f"{username!r} already has a pending invitation; renew or revoke it."}
        )


def _new_key(invitation: Invitation) -> str:
    key = secrets.token_urlsafe(32)
    invitation.key_sha256 = _digest(key)
    invitation.expires_at = timezone.now() + timedelta(days=settings.HERITAGE_INVITATION_DAYS)
    return key


def invitation_create(
    *, by: User, username: str, position: str, email: str = ""
) -> tuple[Invitation, str]:
    """Invite `username` as `position` (expert, curator, manager); returns the invitation and
    its link key (shown once, never stored). Raises PermissionDenied unless `by` manages the
    team, ValidationError for a bad or taken user name, a bad address or position."""
    require_manager(by)
    username = username.strip()
    email = email.strip()
    errors = {}
    if not username:
        errors["username"] = "Give the new account a user name."
    else:
        try:
            User.username_validator(username)
        except ValidationError as exc:
            errors["username"] = exc.messages
        if len(username) > 150:
            errors["username"] = "A user name has at most 150 characters."
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = f"{email!r} is not an e-mail address."
    if errors:
        raise ValidationError(errors)
    fields = _position_fields(position)
    with transaction.atomic():
        _username_free(username)
        # An expired invitation of the same name gives way to the new one.
        pending_invitations().filter(
            username__iexact=username, expires_at__lte=timezone.now()
        ).update(revoked_at=timezone.now())
        invitation = Invitation(username=username, email=email, invited_by=by, **fields)
        key = _new_key(invitation)
        invitation.save()
    return invitation, key


def invitation_renew(*, invitation: Invitation, by: User) -> str:
    """A new link for a pending invitation (the old one stops working), valid for the full
    period again; returns its key."""
    require_manager(by)
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        state = invitation_state(invitation)
        if state in ("used", "revoked"):
            raise ValidationError(f"The invitation of {invitation.username} was already {state}.")
        _username_free(invitation.username, ignore=invitation)
        key = _new_key(invitation)
        invitation.save(update_fields=["key_sha256", "expires_at"])
    return key


def invitation_revoke(*, invitation: Invitation, by: User) -> Invitation:
    """Revoke a pending invitation: its link stops working at once."""
    require_manager(by)
    revoked = Invitation.objects.filter(
        pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    invitation.refresh_from_db()
    if not revoked:
        raise ValidationError(
            f"The invitation of {invitation.username} was already {invitation_state(invitation)}."
        )
    return invitation


def invitation_mail(*, invitation: Invitation, url: str) -> bool:
    """Mail the link to the invitation's address when a mail backend is configured; whether a
    mail was sent. Errors of the mail server propagate (the page still shows the link)."""
    if not invitation.email or not mail_configured():
        return False
    days = settings.HERITAGE_INVITATION_DAYS
    role = dict(POSITIONS)[position_of(invitation)].lower()
    inviter = invitation.invited_by.get_username() if invitation.invited_by else "A curator"
    send_mail(
        subject="Your invitation to the heritage restoration team",
        message=(
            f"{inviter} invites you to join the heritage restoration team as {role}.\n\n"
            f"Your user name is {invitation.username}. Choose your password here:\n{url}\n\n"
            f"The link works once and expires in {days} day{'s' if days != 1 else ''}.\n"
        ),
        from_email=None,
        recipient_list=[invitation.email],
    )
    return True


def invitation_accept(*, key: str, password: str) -> User:
    """Make the invited account with `password` (checked by the password validators) and use
    up the link. Raises ValidationError for a dead link, a taken name or a weak password."""
    with transaction.atomic():
        found = invitation_for_key(key)
        if found is None:
            raise ValidationError("This invitation link is not known.")
        invitation = Invitation.objects.select_for_update().get(pk=found.pk)
        state = invitation_state(invitation)
        if state != "valid":
            raise ValidationError(f"This invitation link was {state}.")
        user = User(
            username=invitation.username,
            email=invitation.email,
            role=invitation.role,
            manages_team=invitation.manages_team,
        )
        password_validation.validate_password(password, user)
        if User.objects.filter(username__iexact=invitation.username).exists():
            raise ValidationError(f"The user name {invitation.username!r} was taken meanwhile.")
        user.set_password(password)
        user.save()
        invitation.accepted_at = timezone.now()
        invitation.user = user
        invitation.save(update_fields=["accepted_at", "user"])
    return user


# Members


def _check_member_change(*, user: User, by: User) -> None:
    require_manager(by)
    if user.pk == by.pk:
        raise ValidationError("You cannot change your own account here; ask another team manager.")
    if user.is_superuser:
        raise ValidationError(f"{user.username} is a superuser, managed in the admin site only.")


def _keep_a_manager(user: User) -> None:
    """Refuse when `user` is the last active team manager (called under a lock)."""
    managers = list(active_managers().select_for_update().values_list("pk", flat=True))
    if user.pk in managers and len(managers) == 1:
        raise ValidationError(
            f"{user.username} is the last team manager; make someone else one first."
        )


def member_set_position(*, user: User, position: str, by: User) -> User:
    """Make `user` an expert, curator or team manager."""
    _check_member_change(user=user, by=by)
    fields = _position_fields(position)
    with transaction.atomic():
        if not fields["manages_team"]:
            _keep_a_manager(user)
        User.objects.filter(pk=user.pk).update(**fields)
    user.refresh_from_db()
    return user


def member_deactivate(*, user: User, by: User) -> User:
    """Deactivate `user`: they can no longer sign in, their sessions end at their next request
    and their API tokens are revoked."""
    _check_member_change(user=user, by=by)
    with transaction.atomic():
        _keep_a_manager(user)
        changed = User.objects.filter(pk=user.pk, is_active=True).update(is_active=False)
        if not changed:
            raise ValidationError(f"{user.username} is already deactivated.")
        ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
    user.refresh_from_db()
    return user


def member_reactivate(*, user: User, by: User) -> User:
    """Let a deactivated `user` sign in again (with their old password; tokens stay revoked)."""
    _check_member_change(user=user, by=by)
    changed = User.objects.filter(pk=user.pk, is_active=False).update(is_active=True)
    user.refresh_from_db()
    if not changed:
        raise ValidationError(f"{user.username} is already active.")
    return user


def landing_url_name(user: User) -> str | None:
    """Where a person lands after signing in when no page was asked for: experts on their
    reviews; others on the default (None)."""
    if user.is_expert:
        return "gallery:review_home"
    return None
