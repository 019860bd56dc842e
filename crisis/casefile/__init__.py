"""The case file: an incident's timeline read back for a case review (page, CSV, PDF) and the
access-log review (loggkontroll). A view on top of every capability; it reads, never writes.

The event store it reads is `crisis.timeline`; the sentences it shows come from
`crisis.eventtext`.
"""
