"""The start page: each role lands where its work is."""

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from crisis.auth.models import Role
from crisis.auth.permissions import login_required

bp = Blueprint("home", __name__, template_folder="templates")


@bp.get("/")
@login_required
def index():
    """Coordinators and managers land on the incidents; outreach staff on their tasks."""
    if current_user.has_role(Role.COORDINATOR, Role.MANAGER, Role.ADMIN):
        return redirect(url_for("incidents.list_incidents", status="active"))
    if current_user.has_role(Role.OUTREACH):
        return redirect(url_for("tasks.my_tasks"))
    return render_template("home/index.html")


@bp.get("/more")
@login_required
def more():
    """Everything the phone's bottom bar has no room for, with language and logging out (issue 18)."""
    return render_template("home/more.html")
