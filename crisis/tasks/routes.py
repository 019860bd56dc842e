"""Outreach staff on a phone: my tasks, one task, done."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from crisis.auth.models import Role
from crisis.auth.permissions import login_required
from crisis.core.db import db, utcnow
from crisis.core.forms import show_error
from crisis.core.navigation import add_nav_item
from crisis.dispatch.forms import ConfirmForm
from crisis.incidents import access
from crisis.incidents.services import IncidentError, StaleVersion
from crisis.tasks.forms import TaskUpdateForm
from crisis.tasks.models import Task, TaskStatus
from crisis.tasks.queries import MY_TASKS_PAGE_SIZE, count_my_open_tasks, my_open_tasks
from crisis.tasks.services import update_task

bp = Blueprint("tasks", __name__, template_folder="templates")

add_nav_item("tasks.my_tasks", _l("My tasks"), [Role.OUTREACH, Role.COORDINATOR], 1)

@bp.get("/me/tasks")
@login_required
def my_tasks():
    """What needs me: alerts waiting for my answer first, then my tasks by when they are due."""
    from crisis.tasks.mine import group_tasks, pending_alerts

    now = utcnow()
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    total = count_my_open_tasks(current_user)
    pages = max(1, -(-total // MY_TASKS_PAGE_SIZE))
    page = min(page, pages)
    offset = (page - 1) * MY_TASKS_PAGE_SIZE
    tasks = my_open_tasks(current_user, offset=offset, limit=MY_TASKS_PAGE_SIZE)
    # Alerts waiting for an answer always come first, on the first page.
    alerts = pending_alerts(db.session, current_user) if page == 1 else []
    return render_template("tasks/mine.html", tasks=tasks, groups=group_tasks(tasks, now), now=now,
                           alerts=alerts, ack_form=ConfirmForm(), page=page, pages=pages, total=total,
                           first=offset + 1, last=offset + len(tasks))


@bp.app_template_global()
def may_call(relative) -> bool:
    """A call button for `relative`: after consent, never for a protected identity, only for those
    who may see the record (the dispatch page's next step uses it too)."""
    return bool(relative is not None and relative.phone and relative.consent.value == "given"
                and not relative.protected_identity
                and access.can_see_relative_details(db.session, current_user, relative))


def may_read_note(task: Task) -> bool:
    """The note goes where the relative's record may (crisis.tasks.api.NoteReader, issue 9)."""
    from crisis.tasks.api import NoteReader

    return NoteReader(current_user)(task)


def get_task_or_404(task_id: int) -> Task:
    task = db.session.get(Task, task_id)
    if task is None:
        abort(404, _("No such task."))
    if not access.can_view_incident(db.session, current_user, task.incident):
        abort(403, _("You are not assigned to this incident."))
    return task


def render_task(task: Task, form: TaskUpdateForm | None = None, status: int = 200):
    if form is None:
        form = TaskUpdateForm(formdata=None)
        form.status.data = task.status.value
        # The note may say things about the relative: only for those who may open the record (issue 9).
        form.note.data = (task.note or "") if may_read_note(task) else ""
    form.version.data = task.version
    can_call = may_call(task.relative)
    return render_template(
        "tasks/task.html", task=task, form=form, now=utcnow(), can_call=can_call,
        show_note=may_read_note(task),
        can_work=access.can_work_task(db.session, current_user, task),
    ), status


@bp.get("/tasks/<int:task_id>")
@login_required
def show(task_id: int):
    return render_task(get_task_or_404(task_id))


@bp.post("/tasks/<int:task_id>")
@login_required
def update(task_id: int):
    task = get_task_or_404(task_id)
    if not access.can_work_task(db.session, current_user, task):
        abort(403, _("This task belongs to someone else."))
    form = TaskUpdateForm()
    if not form.validate_on_submit():
        return render_task(task, form, 422)
    if (form.status.data == TaskStatus.BLOCKED.value and task.status != TaskStatus.BLOCKED
            and not (form.blocked_reason.data or "").strip()):
        form.blocked_reason.errors = [_("Say briefly what blocks the task; the coordinator sees it.")]
        return render_task(task, form, 422)
    # A one-tap "done" from the list sends neither checklist nor note: leave them as they are.
    checklist = None
    if request.form.get("checklist") or any(key.startswith("check-") for key in request.form):
        checklist = [request.form.get(f"check-{i}") == "on" for i in range(len(task.checklist))]
    try:
        update_task(db.session, task, actor=current_user, expected_version=int(form.version.data),
                    status=form.status.data, checklist_done=checklist,
                    note=form.note.data if may_read_note(task) and "note" in request.form else None,
                    blocked_reason=form.blocked_reason.data)
    except StaleVersion as error:
        db.session.rollback()
        flash(str(error), "error")
        # Show what is there now; the user's note is kept in the form so nothing typed is lost.
        fresh = db.session.get(Task, task_id)
        kept = TaskUpdateForm(formdata=None)
        kept.status.data = fresh.status.value
        kept.note.data = form.note.data
        return render_task(fresh, kept, 409)
    except (IncidentError, ValueError) as error:
        db.session.rollback()
        show_error(form, error, fields=("note", "status"))  # once: by the field the page shows, else a flash
        return render_task(db.session.get(Task, task_id), form, 422)
    db.session.commit()
    if task.status == TaskStatus.DONE:
        flash(_("Done: %(title)s", title=task.title_in(str(get_locale() or "sv"))), "success")
    else:
        flash(_("Saved."), "success")
    if task.status.is_closed and "next" not in request.args:
        return redirect(url_for("tasks.my_tasks"))
    return redirect(url_for("tasks.show", task_id=task.id))
