/* Krisstöd's service worker, served from /sw.js so that its scope is the whole site.
 *
 * Two parts, each in a file of its own and readable by hand (docs/phone.md):
 *   sw-offline.js  the outreach worker's pages cached for reading without a connection,
 *                  and the cache emptied at logout and when the session ends;
 *   sw-push.js     push alerts, and acknowledging one from the notification.
 */
"use strict";

importScripts("/static/js/sw-offline.js", "/static/js/sw-push.js");

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
