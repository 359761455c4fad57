from django.urls import include, path

from portico.accounts.api import router as users_router
from portico.core.api import api
from portico.groups.api import router as groups_router
from portico.invitations.api import public_router as invites_router
from portico.invitations.api import router as invitations_router
from portico.invitations.api_bulk import router as bulk_router
from portico.invitations.api_imports import router as imports_router
from portico.invitations.api_letters import router as letters_router
from portico.projects.api import router as projects_router

api.add_router("/v1/users", users_router)
api.add_router("/v1/groups", groups_router)
api.add_router("/v1/projects", projects_router)
api.add_router("/v1/invitations", letters_router)
api.add_router("/v1/invitations", imports_router)
api.add_router("/v1/invitations", bulk_router)
api.add_router("/v1/invitations", invitations_router)
api.add_router("/v1/invites", invites_router)

urlpatterns = [
    path("", include("portico.projects.urls")),
    path("accounts/", include("portico.accounts.urls")),
    path("", include("portico.invitations.urls")),
    path("manage/", include("portico.web.urls")),
    path("i18n/", include("portico.core.urls")),
    path("api/", api.urls),
    # Email providers' tracking webhooks (bounces); 404 until ANYMAIL_WEBHOOK_SECRET is set.
    path("anymail/", include("portico.core.webhooks")),
]

handler403 = "portico.core.views.forbidden"
handler404 = "portico.core.views.not_found"
handler500 = "portico.core.views.server_error"
