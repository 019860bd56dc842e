"""The floor for bench/capacity.py: Flask + SQLAlchemy and one query, served like the product.

    gunicorn --worker-class gthread --workers 1 --threads 256 bench.floor_app:app   (DATABASE_URL set)
"""

from __future__ import annotations

import os

from flask import Flask, jsonify
from sqlalchemy import create_engine, text

engine = create_engine(os.environ["DATABASE_URL"], pool_size=10, max_overflow=20, pool_pre_ping=True)
app = Flask("floor")


@app.get("/floor")
def floor():
    with engine.connect() as conn:
        value = conn.execute(text("SELECT id FROM incidents ORDER BY id LIMIT 1")).scalar()
    return jsonify({"id": value})


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
