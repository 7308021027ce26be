"""URLs of the gallery: public exhibitions and studies, expert review, curators' set-up pages."""

from gallery.views import exhibitions, review, studies

app_name = "gallery"

urlpatterns = [*exhibitions.urlpatterns, *review.urlpatterns, *studies.urlpatterns]
