"""The Team page (invite, roles, deactivate), the invitation link's page and the sign-in page
that sends experts to their reviews."""

import smtplib
from functools import wraps

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.urls import path, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from heritage import team
from heritage.models import Invitation, User
from heritage.views import error_text


class InviteForm(forms.Form):
    username = forms.CharField(
        label="User name",
        max_length=150,
        help_text="Letters, digits and @ . + - _ only; the person signs in with it.",
    )
    email = forms.EmailField(
        label="E-mail address (optional)",
        required=False,
        help_text="The link is mailed to it when the site has a mail server; "
        "it is always shown here.",
    )
    position = forms.ChoiceField(label="Role", choices=team.POSITIONS, initial=team.EXPERT)


class PositionForm(forms.Form):
    position = forms.ChoiceField(label="Role", choices=team.POSITIONS)


class LoginView(auth_views.LoginView):
    """Django's sign-in; without a `next` page, experts land on My reviews."""

    def get_default_redirect_url(self):
        name = team.landing_url_name(self.request.user)
        return resolve_url(name) if name else super().get_default_redirect_url()


def manager_required(view):
    """Team managers only; visitors are sent to sign in, everyone else gets a 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        team.require_manager(request.user)
        return view(request, *args, **kwargs)

    return wrapper


def _invitation_url(request: HttpRequest, key: str) -> str:
    return request.build_absolute_uri(reverse("team:invitation_accept", args=[key]))


def _render_team(request, *, form=None, new_link=None, new_invitation=None, status=200):
    members = list(team.team_members())
    for member in members:
        member.position = team.position_of(member)
        member.position_form = PositionForm(
            initial={"position": member.position}, auto_id=f"id_member{member.pk}_%s"
        )
    invitations = list(team.pending_invitations().select_related("invited_by"))
    for invitation in invitations:
        invitation.state = team.invitation_state(invitation)
        invitation.position_label = dict(team.POSITIONS)[team.position_of(invitation)]
    response = render(
        request,
        "heritage/team.html",
        {
            "form": form or InviteForm(),
            "members": members,
            "invitations": invitations,
            "new_link": new_link,
            "new_invitation": new_invitation,
            "mail_configured": team.mail_configured(),
            "invitation_days": settings.HERITAGE_INVITATION_DAYS,
        },
        status=status,
    )
    if new_link:
        # The link is on this page only (its key is not stored): no cache may keep it.
        response["Cache-Control"] = "no-store"
    return response


def _mail_link(request, invitation: Invitation, url: str) -> None:
    try:
        mailed = team.invitation_mail(invitation=invitation, url=url)
    except (smtplib.SMTPException, OSError) as exc:
        messages.warning(
            request, f"The link could not be mailed to {invitation.email} ({exc}); copy it below."
        )
        return
    if mailed:
        messages.info(request, f"The link was also mailed to {invitation.email}.")


@manager_required
def team_page(request: HttpRequest) -> HttpResponse:
    """GET lists members and invitations; POST invites someone and shows the link once."""
    if request.method != "POST":
        return _render_team(request)
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            invitation, key = team.invitation_create(by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            url = _invitation_url(request, key)
            _mail_link(request, invitation, url)
            return _render_team(request, new_link=url, new_invitation=invitation)
    return _render_team(request, form=form, status=400)


@manager_required
@require_POST
def member_position(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_object_or_404(User, pk=pk)
    form = PositionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose expert, curator or curator who manages the team.")
        return redirect("team:home")
    try:
        team.member_set_position(
            user=member, position=form.cleaned_data["position"], by=request.user
        )
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        label = dict(team.POSITIONS)[form.cleaned_data["position"]].lower()
        messages.success(request, f"{member.username} is now {label}.")
    return redirect("team:home")


@manager_required
@require_POST
def member_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_object_or_404(User, pk=pk)
    try:
        team.member_deactivate(user=member, by=request.user)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(
            request,
            f"{member.username} was deactivated: they can no longer sign in, and their API "
            "tokens were revoked.",
        )
    return redirect("team:home")


@manager_required
@require_POST
def member_reactivate(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_object_or_404(User, pk=pk)
    try:
        team.member_reactivate(user=member, by=request.user)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, f"{member.username} can sign in again.")
    return redirect("team:home")


@manager_required
@require_POST
def invitation_renew(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = get_object_or_404(Invitation, pk=pk)
    try:
        key = team.invitation_renew(invitation=invitation, by=request.user)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
        return redirect("team:home")
    invitation.refresh_from_db()
    url = _invitation_url(request, key)
    _mail_link(request, invitation, url)
    return _render_team(request, new_link=url, new_invitation=invitation)


@manager_required
@require_POST
def invitation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = get_object_or_404(Invitation, pk=pk)
    try:
        team.invitation_revoke(invitation=invitation, by=request.user)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(
            request, f"The invitation of {invitation.username} was revoked; its link is dead."
        )
    return redirect("team:home")


DEAD_LINK_REASONS = {
    "unknown": "This invitation link is not known: it may have been mistyped, or replaced by a "
    "newer link.",
    "used": "This invitation link was already used to set a password. Sign in with it instead.",
    "revoked": "This invitation was withdrawn.",
    "expired": "This invitation link has expired.",
}


@sensitive_post_parameters("new_password1", "new_password2")
@never_cache
def invitation_accept(request: HttpRequest, key: str) -> HttpResponse:
    """Open to anyone with the link: choose a password, which makes the account and signs in."""
    invitation = team.invitation_for_key(key)
    state = "unknown" if invitation is None else team.invitation_state(invitation)
    if state != "valid":
        return render(
            request,
            "heritage/invitation_dead.html",
            {"reason": DEAD_LINK_REASONS[state], "state": state},
            status=404 if state == "unknown" else 410,
        )
    prospective = User(username=invitation.username, email=invitation.email, role=invitation.role)
    form = SetPasswordForm(prospective, request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                user = team.invitation_accept(key=key, password=form.cleaned_data["new_password1"])
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                messages.success(request, f"Welcome, {user.username}: your account is ready.")
                name = team.landing_url_name(user) or settings.LOGIN_REDIRECT_URL
                return redirect(name)
        status = 400
    return render(
        request,
        "heritage/invitation_accept.html",
        {
            "form": form,
            "invitation": invitation,
            "position_label": dict(team.POSITIONS)[team.position_of(invitation)],
        },
        status=status,
    )


urlpatterns = (
    [
        path("team/", team_page, name="home"),
        path("team/members/<id:pk>/role/", member_position, name="member_position"),
        path("team/members/<id:pk>/deactivate/", member_deactivate, name="member_deactivate"),
        path("team/members/<id:pk>/reactivate/", member_reactivate, name="member_reactivate"),
        path("team/invitations/<id:pk>/renew/", invitation_renew, name="invitation_renew"),
        path("team/invitations/<id:pk>/revoke/", invitation_revoke, name="invitation_revoke"),
        path("accounts/invitation/<str:key>/", invitation_accept, name="invitation_accept"),
    ],
    "team",
)
