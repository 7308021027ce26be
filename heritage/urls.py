"""URL map of the whole site; each app mounts its own patterns."""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from gallery.views import exhibitions as gallery_exhibitions
from heritage import views

app_name_patterns = (
    [
        path("motifs/", views.motif_list, name="motif_list"),
        path("motifs/upload/", views.motif_upload, name="motif_upload"),
        path("motifs/<int:pk>/", views.motif_detail, name="motif_detail"),
        path("motifs/<int:pk>/edit/", views.motif_edit, name="motif_edit"),
        path("motifs/<int:pk>/original/", views.motif_original, name="motif_original"),
        path("motifs/<int:pk>/damage/new/", views.annotation_editor, name="annotation_new"),
        path(
            "motifs/<int:pk>/damage/<int:annotation_pk>/",
            views.annotation_editor,
            name="annotation_edit",
        ),
        path("motifs/<int:pk>/damage/save/", views.annotation_save, name="annotation_save"),
        path(
            "motifs/<int:pk>/damage/segment/", views.annotation_segment, name="annotation_segment"
        ),
        path("motifs/<int:pk>/damage/import/", views.annotation_import, name="annotation_import"),
        path(
            "motifs/<int:pk>/damage/simulate/",
            views.annotation_simulate,
            name="annotation_simulate",
        ),
        path("damage/<int:pk>/mask.png", views.annotation_mask, name="annotation_mask"),
    ],
    "heritage",
)

urlpatterns = [
    path("", gallery_exhibitions.home, name="home"),
    path("", include("gallery.urls")),
    path("", include(app_name_patterns)),
    path("", include("restoration.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/v1/", include("gallery.api.urls")),
]

if not settings.S3_BUCKET:
    # Local media (embedded default): served by the app itself; behind a proxy, let it serve
    # MEDIA_ROOT instead. Uploaded files are never executed and get nosniff headers.
    urlpatterns += [
        re_path(r"^media/(?P<path>.*)$", views.media),
    ]
