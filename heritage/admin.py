from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from heritage.models import DamageAnnotation, Invitation, Motif, Site, User


@admin.register(User)
class HeritageUserAdmin(UserAdmin):
    fieldsets = UserAdmin.fieldsets + (("Role", {"fields": ("role", "manages_team")}),)
    list_display = ("username", "email", "role", "manages_team", "is_active", "is_staff")
    list_filter = ("role", "is_active", "is_staff")


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ("name", "region")
    search_fields = ("name", "region")


@admin.register(Motif)
class MotifAdmin(admin.ModelAdmin):
    list_display = ("title", "site", "era", "style", "width", "height", "created_at")
    list_filter = ("site", "era", "style")
    search_fields = ("title",)
    readonly_fields = (
        "original",
        "sha256",
        "width",
        "height",
        "working",
        "preview",
        "thumbnail",
        "conversions",
        "original_format",
        "original_mode",
        "file_size",
    )


@admin.register(DamageAnnotation)
class DamageAnnotationAdmin(admin.ModelAdmin):
    list_display = ("motif", "method", "protocol", "seed", "coverage", "created_at")
    list_filter = ("method", "protocol")
    readonly_fields = ("mask", "coverage", "supersedes")


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = (
        "username",
        "email",
        "role",
        "invited_by",
        "expires_at",
        "accepted_at",
        "revoked_at",
    )
    readonly_fields = ("key_sha256", "created_at", "accepted_at", "user")
