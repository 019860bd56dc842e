"""The Socket.IO channel on Redis is one per database: deployments and test runs sharing a
Redis server never receive each other's live events."""

import pytest

from crisis.app import message_queue_channel


def test_processes_of_one_database_share_a_channel_and_other_databases_do_not():
    web = message_queue_channel("postgresql+psycopg://web@db.example:5432/crisis")
    assert web == message_queue_channel("postgresql://scheduler:secret@db.example:5432/crisis")
    assert web != message_queue_channel("postgresql+psycopg://web@db.example:5432/crisis_staging")
    assert web != message_queue_channel("postgresql+psycopg://web@other.example:5432/crisis")
    assert message_queue_channel("sqlite:////tmp/a.sqlite3") != message_queue_channel("sqlite:////tmp/b.sqlite3")


def test_the_app_publishes_on_its_databases_channel(app, database_url):
    from crisis.core.extensions import socketio

    manager = socketio.server.manager
    if not hasattr(manager, "channel"):
        pytest.skip("no REDIS_URL: one process, no message queue")
    assert manager.channel == message_queue_channel(database_url)
