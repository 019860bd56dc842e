"""The outreach worker's phone as an installable web app (issue 16).

- `routes.py`: the web app manifest, the service worker served from the root scope
  (`/sw.js`, which pulls in `static/js/sw-offline.js` and `static/js/sw-push.js`), and the
  device settings page ("Den här enheten": push status, test notification, offline queue).

How it works, what is cached for whom and what is never cached: docs/phone.md.
"""
