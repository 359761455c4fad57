from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "portico.core"
    label = "core"
    verbose_name = "Portico core"

    def ready(self) -> None:
        from django.db import models

        from portico.core import checks  # noqa: F401 (registers the deploy checks)
        from portico.core.lookups import OneOf

        models.IntegerField.register_lookup(OneOf)
        models.ForeignKey.register_lookup(OneOf)
