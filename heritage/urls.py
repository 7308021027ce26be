"""URL map of the whole site; each app mounts its own patterns."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from gallery.views import exhibitions as gallery_exhibitions
from gallery.views import media as gallery_media
from heritage import favicon, media, profile, views, views_team

app_name_patterns = (
    [
        path("motifs/", views.motif_list, name="motif_list"),
        path("motifs/upload/", views.motif_upload, name="motif_upload"),
        path("motifs/<id:pk>/", views.motif_detail, name="motif_detail"),
        path("motifs/<id:pk>/edit/", views.motif_edit, name="motif_edit"),
        path("motifs/<id:pk>/original/", views.motif_original, name="motif_original"),
        path("motifs/<id:pk>/damage/new/", views.annotation_editor, name="annotation_new"),
        path(
            "motifs/<id:pk>/damage/<id:annotation_pk>/",
            views.annotation_editor,
            name="annotation_edit",
        ),
        path("motifs/<id:pk>/damage/save/", views.annotation_save, name="annotation_save"),
        path("motifs/<id:pk>/damage/segment/", views.annotation_segment, name="annotation_segment"),
        path("motifs/<id:pk>/damage/import/", views.annotation_import, name="annotation_import"),
        path("motifs/<id:pk>/damage/open/", views.annotation_read_file, name="annotation_open"),
        path(
            "motifs/<id:pk>/damage/simulate/",
            views.annotation_simulate,
            name="annotation_simulate",
        ),
        path("damage/<id:pk>/mask.png", views.annotation_mask, name="annotation_mask"),
    ],
    "heritage",
)

# Stored files, each through a view that checks who asks (nothing serves MEDIA_ROOT as a folder).
media_patterns = (
    [
        path("files/motifs/<id:pk>/<str:kind>.<str:ext>", media.motif_file, name="motif"),
        path(
            "files/restorations/<id:pk>/<str:kind>.<str:ext>",
            media.restoration_file,
            name="restoration",
        ),
        path("files/works/<id:pk>/<str:kind>.<str:ext>", gallery_media.work_file, name="work"),
    ],
    "media",
)

# A refused request (unreadable form data, too many fields) says why, as HTML or JSON; so do
# refused permissions, missing pages and server errors.
handler400 = "heritage.errors.bad_request"
handler403 = "heritage.errors.permission_denied"
handler404 = "heritage.errors.page_not_found"
handler500 = "heritage.errors.server_error"

urlpatterns = [
    path("", gallery_exhibitions.home, name="home"),
    path("favicon.ico", favicon.favicon, name="favicon"),
    path("", include(media_patterns)),
    path("", include("gallery.urls")),
    path("", include(app_name_patterns)),
    path("", include("restoration.urls")),
    path("accounts/login/", views_team.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/profile/", profile.profile, name="profile"),
    path("accounts/tokens/<id:pk>/revoke/", profile.token_revoke, name="token_revoke"),
    path("", include(views_team.urlpatterns)),
    path("admin/", admin.site.urls),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/v1/", include("heritage.api.urls")),
    path("api/v1/", include("restoration.api.urls")),
    path("api/v1/", include("gallery.api.urls")),
]
