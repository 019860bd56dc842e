"""The start page: each role lands where its work is."""

from flask import Blueprint, render_template

from crisis.auth.permissions import login_required

bp = Blueprint("home", __name__, template_folder="templates")


@bp.get("/")
@login_required
def index():
    return render_template("home/index.html")
