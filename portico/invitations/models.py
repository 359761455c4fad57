"""Invitations store intent; acceptance applies it.

An :class:`Invitation` holds who is invited (an address, or none for a printed code),
the rights and groups they will get, and its state. Nothing is given before the invitee
accepts. :class:`InvitationMessage` is the outbox: each email to send is a row written
in the same transaction as the change that calls for it, so a crash loses no mail and a
retry never sends one twice.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import connection, models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.db.models.lookups import GreaterThan
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portico.core.fields import CompressedJSONField
from portico.invitations import tokens


class _Likely(models.Func):
    """SQLite's ``likely(condition)``: the condition holds for most rows."""

    function = "likely"
    output_field = models.BooleanField()


def _not_expired(now: datetime) -> models.Expression:
    """``expires_at > now``. SQLite's planner, without statistics, takes that for a
    selective range: the list of pending invitations read every one of them through the
    expiry index and sorted them (200 ms with 100,000). Marked likely (most pending
    invitations have not expired), it walks the status and date index in the page's
    order instead. PostgreSQL plans it well as it is."""
    condition = GreaterThan(F("expires_at"), now)
    return _Likely(condition) if connection.vendor == "sqlite" else condition


class InvitationQuerySet(models.QuerySet["Invitation"]):
    def pending(self, now: datetime | None = None) -> InvitationQuerySet:
        now = now or timezone.now()
        return self.filter(status=Invitation.Status.PENDING).filter(_not_expired(now))

    def expired(self, now: datetime | None = None) -> InvitationQuerySet:
        """Expired ones, including those the expiry sweep has not marked yet."""
        now = now or timezone.now()
        return self.filter(
            Q(status=Invitation.Status.EXPIRED)
            | Q(status=Invitation.Status.PENDING, expires_at__lte=now)
        )

    def accepted(self) -> InvitationQuerySet:
        return self.filter(status=Invitation.Status.ACCEPTED)

    def open_for_address(self) -> InvitationQuerySet:
        """Not accepted: pending or expired (the row a new invitation renews or merges)."""
        # "email IS NOT NULL" lets the database use the partial unique index below.
        return self.filter(email__isnull=False).exclude(status=Invitation.Status.ACCEPTED)


class Invitation(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        ACCEPTED = "accepted", _("Accepted")
        EXPIRED = "expired", _("Expired")

    # Intent.
    # NULL (not "") for codes without an address, so that the unique constraint skips them.
    email = models.EmailField(_("email"), max_length=254, null=True, blank=True)  # noqa: DJ001
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    language = models.CharField(_("language"), max_length=16)
    is_admin = models.BooleanField(_("admin rights"), default=False)
    moderated_projects = models.ManyToManyField(
        "projects.Project", related_name="+", blank=True, verbose_name=_("moderated projects")
    )
    groups = models.ManyToManyField(
        "groups.Group", related_name="invitations", blank=True, verbose_name=_("groups")
    )
    message = models.TextField(
        _("personal message"), blank=True, help_text="Sanitised HTML (safe formatting only)."
    )
    inviter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sent_invitations",
        db_index=False,  # one index fewer per imported row; never searched by inviter
    )
    send_email = models.BooleanField(default=True)
    batch = models.ForeignKey(
        "invitations.InvitationBatch",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="invitations",
    )

    # Token: see portico.invitations.tokens. The nonce alone is useless without the key.
    token_nonce = models.CharField(max_length=32)  # 128 random bits; token_hash is unique
    # Unique by a constraint (below), not unique=True: that would add, on PostgreSQL, a
    # second index for LIKE queries that a hash never gets.
    token_hash = models.CharField(max_length=64)

    # State.
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When the current lifetime started."
    )
    expires_at = models.DateTimeField()
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="accepted_invitations",
        db_index=False,  # indexed below, only where set: pending invitations cost nothing
    )
    delivery_failed_at = models.DateTimeField(null=True, blank=True)
    delivery_error = models.CharField(max_length=500, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["token_hash"], name="invitations_token_hash_unique"),
            # One open (pending or expired) invitation per address: re-inviting renews or
            # merges it instead of adding a second one; accepted ones do not count.
            models.UniqueConstraint(
                Lower("email"),
                condition=Q(email__isnull=False) & ~Q(status="accepted"),
                name="invitations_one_open_per_address",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "expires_at"], name="invitations_status_expiry"),
            # The list filtered by status, newest first (the admin's usual view).
            models.Index(
                fields=["status", "-created_at", "-id"], name="invitations_status_created"
            ),
            models.Index(fields=["created_at", "id"], name="invitations_created"),
            models.Index(fields=["last_name", "first_name"], name="invitations_name"),
            models.Index(
                fields=["accepted_user"],
                condition=Q(accepted_user__isnull=False),
                name="invitations_accepted_user",
            ),
        ]

    def __str__(self) -> str:
        return self.email or _("code %(prefix)s…") % {"prefix": self.token_display[:4]}

    @property
    def token(self) -> str:
        """The working token (canonical form). Only ever shown to admins and invitees."""
        return tokens.token_for_nonce(self.token_nonce)

    @property
    def token_display(self) -> str:
        return tokens.display(self.token)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def effective_status(self, now: datetime | None = None) -> str:
        now = now or timezone.now()
        if self.status == self.Status.PENDING and self.expires_at <= now:
            return self.Status.EXPIRED
        return self.status

    def get_effective_status_display(self) -> str:
        return str(self.Status(self.effective_status()).label)


class InvitationBatch(models.Model):
    """One run of "invite people": typed addresses or an imported file."""

    class Source(models.TextChoices):
        TYPED = "typed", _("Typed addresses")
        FILE = "file", _("Imported file")
        CODES = "codes", _("Registration codes")

    source = models.CharField(max_length=8, choices=Source.choices, default=Source.TYPED)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    counts = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"batch {self.pk} ({self.source})"


class InvitationMessage(models.Model):
    """The outbox: one email to send (an invitation or a reminder).

    Written in the transaction that calls for it; sent by the worker after commit;
    claimed with a conditional update so that any number of workers send it once;
    retried with back-off while the mail server is unavailable.
    """

    class Kind(models.TextChoices):
        INVITATION = "invitation", _("Invitation")
        REMINDER = "reminder", _("Reminder")

    invitation = models.ForeignKey(Invitation, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # The batch whose storing queued this email (new and renewed invitations alike; a
    # renewed one keeps the batch that first created it): an import's "emails sent" bar
    # counts these. Empty for resends, reminders and address fixes.
    batch = models.ForeignKey(
        "invitations.InvitationBatch",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(sent_at__isnull=True, failed_at__isnull=True),
                name="invitations_outbox_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for invitation {self.invitation_id}"


class InvitationImport(models.Model):
    """An uploaded file on its way to becoming invitations: checked (preview), then,
    once an admin confirms, stored in chunks and sent by the worker. Its counters are
    the progress bar."""

    class Kind(models.TextChoices):
        FILE = "file", _("Imported file")
        CODES = "codes", _("Registration codes")

    class Status(models.TextChoices):
        CHECKING = "checking", _("Checking")
        INVALID = "invalid", _("Has errors")
        READY = "ready", _("Ready to confirm")
        STORING = "storing", _("Storing")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.FILE)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CHECKING)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    filename = models.CharField(max_length=255)
    file = models.FileField(upload_to="imports/%Y/%m/")
    options = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Moves whenever the worker makes progress; a stalled import is queued again.
    heartbeat_at = models.DateTimeField(default=timezone.now)

    rows_total = models.PositiveIntegerField(default=0)
    rows_checked = models.PositiveIntegerField(default=0)
    to_store = models.PositiveIntegerField(default=0)
    stored = models.PositiveIntegerField(default=0)
    stored_through = models.IntegerField(default=-1, help_text="Index of the last stored row.")
    emails_queued = models.PositiveIntegerField(default=0)

    summary = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    # The checked plan, one compact list per row: the preview, and what storing stores
    # (see portico.invitations.services.import_plan). Megabytes for a large import.
    plan = CompressedJSONField(default=list, blank=True)
    batch = models.OneToOneField(
        InvitationBatch,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="source_import",
    )
    failure = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_status_display()})"


class LetterPrint(models.Model):
    """A print of letters: the admin's selection (a batch and/or invitation ids), drawn
    by the worker into one PDF kept in the private file storage (never under a public
    URL) until the retention sweep deletes it. Its counters are the progress bar.

    ``attempts`` numbers the worker runs that claimed it: a run whose number is no
    longer the latest (the print was queued again after a crash) stops and throws its
    file away, so that only one run's PDF is ever kept."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        DRAWING = "drawing", _("Drawing")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The selection. A batch is never deleted while a print names it: without it the
    # selection would silently widen.
    batch = models.ForeignKey(
        InvitationBatch,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="letter_prints",
    )
    ids = models.JSONField(null=True, blank=True, help_text="Invitation ids, sorted.")

    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0, help_text="Letters to draw.")
    drawn = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    file = models.FileField(upload_to="letters/", blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Moves whenever the worker makes progress; a stalled print is queued again.
    heartbeat_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    failure = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(batch__isnull=False) | Q(ids__isnull=False),
                name="invitations_letter_print_selects",
            ),
        ]

    def __str__(self) -> str:
        return _("letters #%(number)s") % {"number": self.pk}
