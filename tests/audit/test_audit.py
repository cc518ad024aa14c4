"""The audit log: who did what to which key, readable by staff and never editable."""

from audit.models import AuditEvent

AUDIT_ADMIN = "/admin/audit/auditevent/"


def test_audit_unattended_rotation_is_recorded_as_system(staff, signing_keys):
    page = staff.get(AUDIT_ADMIN).content.decode()
    events = AuditEvent.objects.all()
    assert events and {event.actor_label for event in events} == {"system"}
    assert all(event.actor_id is None for event in events)
    assert "signing_key.created_active" in page
    assert "system" in page


def test_audit_admin_is_read_only(staff, signing_keys):
    event = AuditEvent.objects.first()
    assert staff.get(f"{AUDIT_ADMIN}add/").status_code == 403
    assert staff.get(f"{AUDIT_ADMIN}{event.pk}/delete/").status_code == 403
    change = staff.get(f"{AUDIT_ADMIN}{event.pk}/change/")
    assert change.status_code == 200
    assert b'name="_save"' not in change.content
    staff.post(f"{AUDIT_ADMIN}{event.pk}/change/", {"action": "nothing.happened", "target": ""})
    staff.post(AUDIT_ADMIN, {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"})
    event.refresh_from_db()
    assert event.action == "signing_key.created_active"
