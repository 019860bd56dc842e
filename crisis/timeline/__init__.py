"""The event store: `TimelineEvent` and `AccessLog`, `record_event`/`log_access` (the one write
path) and the kinds a reviewer filters by. A foundation every capability writes to; the pages
that read it back are the case file (`crisis.casefile`)."""
