"""Web Push alerts to staff phones, before the SMS (issue 16, item 4).

- `models.py`: a `PushSubscription` per user and device (the push service's endpoint and the
  browser's keys, encrypted at rest), and a `PushAlert` per dispatch alert sent by push: which
  SMS it holds back, what the push service answered, and whether the alert was acknowledged
  from the notification.
- `vapid.py`: the server's VAPID key pair (`VAPID_PUBLIC_KEY`, `VAPID_PRIVATE_KEY`,
  `VAPID_SUBJECT`), made by `crisis push keys`.
- `services.py`: subscribe and unsubscribe, the push that goes before an alert's SMS, the
  single-use acknowledge token, the SMS that is released when a push fails or is not answered.
- `sender.py`: the request to the push service (pywebpush), and what its answer means.
- `api.py`: `/api/v1/push/...` for the device page; `jobs.py`: the sweep that sends pushes
  whose after-commit send was lost.

How it fits with the SMS and what a push carries: docs/phone.md, "Push alerts".
"""
