from django.urls import path

from portico.projects import views

app_name = "projects"
urlpatterns = [
    path("", views.project_list, name="list"),
    path("projects/<int:pk>/", views.project_detail, name="detail"),
    path("projects/<int:pk>/edit/", views.project_edit, name="edit"),
]
