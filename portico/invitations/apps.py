from django.apps import AppConfig


class InvitationsConfig(AppConfig):
    name = "portico.invitations"
    label = "invitations"

    def ready(self) -> None:
        # Wire the invitations into the apps below them without those importing us:
        # the sign-up guard, the worker's periodic sweeps and the providers' bounces.
        from anymail.signals import tracking

        from portico.accounts.services import SIGN_UP_GUARDS
        from portico.core.sweeps import register_sweep
        from portico.invitations.receivers import record_undelivered
        from portico.invitations.services import imports, jobs, letters, retention
        from portico.invitations.services.guards import refuse_sign_up_of_invited_address

        if refuse_sign_up_of_invited_address not in SIGN_UP_GUARDS:
            SIGN_UP_GUARDS.append(refuse_sign_up_of_invited_address)
        register_sweep("invitations.expire", jobs.invitations_expire)
        register_sweep("invitations.reminders", jobs.invitations_send_due_reminders)
        register_sweep("invitations.outbox", jobs.invitation_messages_deliver_due)
        register_sweep("invitations.import_files", retention.invitation_imports_forget_files)
        register_sweep("invitations.stalled_imports", imports.invitation_imports_resume_stalled)
        register_sweep("invitations.letter_files", retention.letter_prints_forget_files)
        register_sweep("invitations.stalled_letters", letters.letter_prints_resume_stalled)
        tracking.connect(record_undelivered, dispatch_uid="portico.invitations.undelivered")
