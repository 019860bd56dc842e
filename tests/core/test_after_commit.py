"""`after_commit` work runs once the outermost transaction commits, whatever savepoints ran inside it."""

import pytest
from sqlalchemy import text

from crisis.core.db import after_commit, pending_after_commit


@pytest.fixture
def ran(session):
    session.rollback()
    session.execute(text("SELECT 1"))
    return []


def test_work_registered_in_a_released_savepoint_waits_for_the_real_commit(session, ran):
    with session.begin_nested():
        after_commit(session, lambda: ran.append("inner"))
    assert ran == []
    session.commit()
    assert ran == ["inner"]


def test_a_rolled_back_savepoint_drops_only_its_own_work(session, ran):
    after_commit(session, lambda: ran.append("before"))
    with pytest.raises(RuntimeError), session.begin_nested():
        after_commit(session, lambda: ran.append("rolled back"))
        raise RuntimeError
    with session.begin_nested():
        after_commit(session, lambda: ran.append("after"))
    session.commit()
    assert ran == ["before", "after"]


def test_work_of_a_released_savepoint_goes_with_an_outer_savepoint_that_rolls_back(session, ran):
    with pytest.raises(RuntimeError), session.begin_nested():
        with session.begin_nested():
            after_commit(session, lambda: ran.append("inner"))
        raise RuntimeError
    session.commit()
    assert ran == []


def test_a_rolled_back_transaction_runs_none_of_its_work(session, ran):
    with session.begin_nested():
        after_commit(session, lambda: ran.append("inner"))
    after_commit(session, lambda: ran.append("outer"))
    session.rollback()
    session.commit()
    assert ran == []


def test_pending_work_is_what_survives_the_current_savepoint(session, ran):
    def outer():
        ran.append("outer")

    after_commit(session, outer)
    with session.begin_nested():
        def inner():
            ran.append("inner")

        after_commit(session, inner)
        assert pending_after_commit(session) == [outer, inner]
    with session.begin_nested():
        assert pending_after_commit(session) == [outer, inner]
    session.rollback()


def test_batched_work_of_one_commit_runs_once_with_every_item_that_survived(session, ran):
    from crisis.core.db import Batched

    def publish(items):
        ran.append(list(items))

    after_commit(session, Batched(publish, ["first"]))
    with pytest.raises(RuntimeError), session.begin_nested():
        after_commit(session, Batched(publish, ["rolled back"]))
        raise RuntimeError
    with session.begin_nested():
        after_commit(session, Batched(publish, ["second", "third"]))
    session.commit()
    assert ran == [["first", "second", "third"]]


def test_the_events_of_one_transaction_are_published_together(session, ran):
    from crisis.timeline.services import add_publisher, record_event, remove_publisher

    def one(event):
        ran.append(("one", event.type))

    def batch(events, *, rendered=False):
        ran.append(("batch", [e.type for e in events], rendered))

    add_publisher(one, batch=batch)
    try:
        record_event(session, kind="note", type="note.first", summary="1")
        record_event(session, kind="note", type="note.second", summary="2")
        session.commit()
    finally:
        remove_publisher(one)
    assert ("batch", ["note.first", "note.second"], True) in ran
    assert not [r for r in ran if r[0] == "one"]
