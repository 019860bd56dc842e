"""Timeline events in words (`render.py`): one renderer per event type, in the reader's language.

It reads the working capabilities' rows to name things (tasks, staff, teams, relatives'
labels), so it sits with them, above the event store (`crisis.timeline`) and below the
views that show the sentences (the case file, the live feed) and the API that returns them.
"""
