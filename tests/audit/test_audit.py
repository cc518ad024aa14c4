"""The audit log: who did what to which key, readable by staff and never editable."""

from audit.models import AuditEvent

AUDIT_ADMIN = "/admin/audit/auditevent/"


def test_audit_unattended_rotation_is_recorded_as_system(staff, signing_keys):
    page = staff.get(AUDIT_ADMIN).content.decode()
    # (Signing the staff user in is recorded too, as theirs.)
    events = AuditEvent.objects.filter(action__startswith="signing_key.")
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


def listed(staff, **query) -> set[tuple[str, str]]:
    """Return the (action, target) pairs the audit log's list shows for ``query``."""
    response = staff.get(AUDIT_ADMIN, query)
    assert response.status_code == 200
    return {(event.action, event.target) for event in response.context["cl"].result_list}


def test_audit_admin_searches_by_ip_and_filters_by_actor_kind(staff, root):
    from audit.services import audit_record

    audit_record(action="login.failure", target="mallory", actor_label="login form", detail={})
    AuditEvent.objects.filter(action="login.failure").update(ip="198.51.100.23", user_agent="Curl/8")
    audit_record(action="user.mfa_reset", target="bob", actor=root)
    assert listed(staff, q="198.51.100.23") == {("login.failure", "mallory")}
    assert ("user.mfa_reset", "bob") in listed(staff, actor_kind="user")
    assert ("login.failure", "mallory") not in listed(staff, actor_kind="user")
    system = listed(staff, actor_kind="system")
    assert ("login.failure", "mallory") in system and ("user.mfa_reset", "bob") not in system
    assert listed(staff, action__exact="login.failure") == {("login.failure", "mallory")}
    assert listed(staff, q="root") >= {("user.mfa_reset", "bob")}
    event = AuditEvent.objects.get(action="login.failure")
    detail = staff.get(f"{AUDIT_ADMIN}{event.pk}/change/").content.decode()
    assert "198.51.100.23" in detail and "Curl/8" in detail
