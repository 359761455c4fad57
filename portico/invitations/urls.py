from django.urls import path

from portico.invitations import views

app_name = "invitations"
urlpatterns = [
    path("invite/", views.enter_code, name="enter"),
    path("invite/resend/", views.resend_on_request, name="resend"),
    path("invite/<str:token>/", views.accept, name="accept"),
]
