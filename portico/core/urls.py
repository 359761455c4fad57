from django.urls import path

from portico.core import views

app_name = "core"
urlpatterns = [path("language/", views.set_language, name="set-language")]
