from django.apps import AppConfig


class GroupsConfig(AppConfig):
    name = "portico.groups"
    label = "groups"
