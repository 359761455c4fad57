from django.urls import include, path

from portico.core.api import api, register_routers

register_routers()

urlpatterns = [
    path("", include("portico.projects.urls")),
    path("accounts/", include("portico.accounts.urls")),
    path("manage/", include("portico.web.urls")),
    path("i18n/", include("portico.core.urls")),
    path("api/", api.urls),
]

handler403 = "portico.core.views.forbidden"
handler404 = "portico.core.views.not_found"
handler500 = "portico.core.views.server_error"
