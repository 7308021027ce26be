from django.contrib import admin

from gallery import models


class ExhibitionEntryInline(admin.TabularInline):
    model = models.ExhibitionEntry
    raw_id_fields = ("motif", "restoration")
    extra = 0


@admin.register(models.Exhibition)
class ExhibitionAdmin(admin.ModelAdmin):
    list_display = ("title", "slug", "status", "published_at")
    list_filter = ("status",)
    inlines = [ExhibitionEntryInline]


@admin.register(models.ReviewCampaign)
class ReviewCampaignAdmin(admin.ModelAdmin):
    list_display = ("title", "kind", "status", "reference", "created_at")
    list_filter = ("status", "kind")


@admin.register(models.UserStudy)
class UserStudyAdmin(admin.ModelAdmin):
    list_display = ("title", "slug", "kind", "status", "retire_after", "attention_check")
    list_filter = ("status", "kind")


@admin.register(models.StudyVote)
class StudyVoteAdmin(admin.ModelAdmin):
    list_display = ("id", "trial", "participant", "candidate", "repeat", "created_at")
    # Votes are evidence: the admin may look, not edit.
    readonly_fields = ("trial", "participant", "candidate", "repeat", "shown", "ip_hash")
