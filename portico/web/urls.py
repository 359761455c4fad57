"""The admin area (``/manage/``). Every view here is wrapped by ``admin_required``."""

from django.urls import path

from portico.web.views import (
    audit,
    groups,
    imports,
    invitations,
    letters,
    mailbox,
    projects,
    tokens,
    users,
)

app_name = "web"
urlpatterns = [
    path("", users.home, name="home"),
    path("users/", users.user_list, name="users"),
    path("users/<int:pk>/", users.user_detail, name="user"),
    path("users/<int:pk>/admin/", users.user_set_admin_view, name="user-set-admin"),
    path("users/<int:pk>/active/", users.user_set_active_view, name="user-set-active"),
    path("groups/", groups.group_list_view, name="groups"),
    path("groups/new/", groups.group_create_view, name="group-create"),
    path("groups/<int:pk>/", groups.group_detail, name="group"),
    path("groups/<int:pk>/edit/", groups.group_edit_view, name="group-edit"),
    path("groups/<int:pk>/delete/", groups.group_delete_view, name="group-delete"),
    path("groups/<int:pk>/members/add/", groups.group_add_members_view, name="group-add-members"),
    path(
        "groups/<int:pk>/members/<int:user_pk>/remove/",
        groups.group_remove_member_view,
        name="group-remove-member",
    ),
    path("projects/", projects.project_list_view, name="projects"),
    path("projects/new/", projects.project_create_view, name="project-create"),
    path("projects/<int:pk>/edit/", projects.project_edit_view, name="project-edit"),
    path("projects/<int:pk>/delete/", projects.project_delete_view, name="project-delete"),
    path("invitations/", invitations.invitation_list, name="invitations"),
    path("invitations/invite/", invitations.invite, name="invite"),
    path("invitations/invite/preview/", invitations.invite_preview, name="invite-preview"),
    path("invitations/import/", imports.import_file, name="import-file"),
    path("invitations/codes/", imports.generate_codes, name="generate-codes"),
    path("invitations/template.xlsx", imports.download_template, name="template"),
    path("invitations/export/", imports.export, name="export"),
    path("invitations/imports/<int:pk>/", imports.import_detail, name="import"),
    path("invitations/imports/<int:pk>/progress/", imports.import_progress, name="import-progress"),
    path("invitations/imports/<int:pk>/confirm/", imports.import_confirm, name="import-confirm"),
    path(
        "invitations/imports/<int:pk>/stop-sending/",
        imports.import_stop_sending,
        name="import-stop-sending",
    ),
    path("invitations/imports/<int:pk>/errors.xlsx", imports.import_errors, name="import-errors"),
    path("invitations/imports/<int:pk>/letters/", letters.import_letters, name="import-letters"),
    path(
        "invitations/<int:pk>/resend/", invitations.invitation_resend_view, name="invitation-resend"
    ),
    path(
        "invitations/<int:pk>/address/",
        invitations.invitation_address_view,
        name="invitation-address",
    ),
    path(
        "invitations/<int:pk>/delete/", invitations.invitation_delete_view, name="invitation-delete"
    ),
    path("invitations/resend/", invitations.invitations_resend_view, name="invitations-resend"),
    path("invitations/delete/", invitations.invitations_delete_view, name="invitations-delete"),
    path(
        "invitations/resend-matching/",
        invitations.invitations_resend_matching_view,
        name="invitations-resend-matching",
    ),
    path(
        "invitations/delete-matching/",
        invitations.invitations_delete_matching_view,
        name="invitations-delete-matching",
    ),
    path("invitations/letters/", letters.invitations_letters_view, name="invitations-letters"),
    path("invitations/prints/", letters.letter_print_list, name="letter-prints"),
    path("invitations/prints/<int:pk>/", letters.letter_print_detail, name="letter-print"),
    path(
        "invitations/prints/<int:pk>/progress/",
        letters.letter_print_progress,
        name="letter-print-progress",
    ),
    path(
        "invitations/prints/<int:pk>/letters.pdf",
        letters.letter_print_download_view,
        name="letter-print-download",
    ),
    path("api-tokens/", tokens.token_list, name="api-tokens"),
    path("api-tokens/new/", tokens.token_create_view, name="api-token-create"),
    path("api-tokens/<int:pk>/revoke/", tokens.token_revoke_view, name="api-token-revoke"),
    path("audit-log/", audit.audit_log, name="audit-log"),
    path("mailbox/", mailbox.mailbox, name="mailbox"),
    path("mailbox/<int:pk>/", mailbox.message, name="mailbox-message"),
    path("mailbox/<int:pk>/html/", mailbox.message_html, name="mailbox-message-html"),
]
