/* Offline reading for the outreach worker (issue 16, item 2; docs/phone.md).
 *
 * The server decides what may be kept: only responses marked X-Offline-Cache: allow,
 * which it sends only to outreach staff, only for their own pages, and never for a
 * page about a relative with protected identity (crisis/pwa/offline.py). They are kept
 * in one cache per user, "krisstod-pages-u<id>"; another user's cache is deleted as
 * soon as a page of someone else is kept.
 *
 * Pages: network first. Without a connection the kept copy is shown, marked on <body>
 * with data-offline-fetched="<when it was fetched>" so the page can say so; a page not
 * kept gives "/me/offline". A form sent while the connection fails on the way goes
 * back to its page with #offline-unsent, where static/js/offline.js queues it.
 *
 * Emptied: at logout (POST /logout), whenever the login page is shown (the session has
 * ended, or someone else is logging in), on a 401, and when the page side asks.
 * The queue of changes (IndexedDB) is not touched here: it is never emptied silently.
 */
"use strict";

(function () {
  var PAGES = "krisstod-pages-u";
  var STATIC = "krisstod-static";
  var STATIC_FILES = ["/static/css/app.css", "/static/js/pwa.js", "/static/js/offline.js",
                      "/static/js/followups.js", "/static/icons/icon-192.png"];
  // Pages are fetched ahead at most every 10 minutes from any page, every minute from "Mina uppgifter"
  // or after waiting changes were sent (`force`): each fetch of a relative's record is in the access log.
  var REFRESH_EVERY_MS = 10 * 60 * 1000;
  var REFRESH_SOONEST_MS = 60 * 1000;
  var lastRefresh = 0;
  // Raised each time everything is emptied: a fetch that started before must not keep its page after.
  var generation = 0;

  function ours(name) { return name.indexOf("krisstod-") === 0; }

  function emptyAll() {
    generation += 1;
    return caches.keys().then(function (names) {
      return Promise.all(names.filter(ours).map(function (name) { return caches.delete(name); }));
    });
  }

  function keepOnly(cacheName) {
    return caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.indexOf(PAGES) === 0 && name !== cacheName;
      }).map(function (name) { return caches.delete(name); }));
    });
  }

  function allowed(response) {
    var user = response.headers.get("X-Offline-User");
    return response.status === 200 && response.headers.get("X-Offline-Cache") === "allow" && user ? user : null;
  }

  /* A copy of `response` with the moment it was fetched, for the "fetched at 14:32" line. */
  function stamped(response) {
    return response.blob().then(function (body) {
      var headers = new Headers(response.headers);
      headers.set("X-Fetched-At", new Date().toISOString());
      return new Response(body, { status: response.status, statusText: response.statusText, headers: headers });
    });
  }

  function remember(url, response, started) {
    var user = allowed(response);
    if (started !== generation) return Promise.resolve();
    if (!user) {
      // No longer the user's to read offline (closed, reassigned, protected, logged out): forget it.
      if (response.type === "opaqueredirect" || response.status >= 500) return Promise.resolve();
      return caches.keys().then(function (names) {
        return Promise.all(names.filter(function (name) { return name.indexOf(PAGES) === 0; })
          .map(function (name) { return caches.open(name).then(function (cache) { return cache.delete(url); }); }));
      });
    }
    var name = PAGES + user;
    return keepOnly(name).then(function () { return Promise.all([caches.open(name), stamped(response)]); })
      .then(function (both) { return both[0].put(url, both[1]); });
  }

  /* The kept copy of `url`, marked as read offline; the offline page when it was not kept. */
  function keptCopy(url) {
    return caches.match(url).then(function (copy) {
      if (!copy) return caches.match(new URL("/me/offline", self.location.origin).href);
      return copy;
    }).then(function (copy) {
      if (!copy) return Response.error();
      var fetched = copy.headers.get("X-Fetched-At") || "";
      return copy.text().then(function (html) {
        html = html.replace("<body", '<body data-offline-fetched="' + fetched.replace(/[^0-9TZ:.+-]/g, "") + '"');
        return new Response(html, { status: 200, headers: copy.headers });
      });
    });
  }

  function page(event) {
    var request = event.request;
    var started = generation;
    return fetch(request).then(function (response) {
      if (response.status === 401) {
        event.waitUntil(emptyAll());
      } else {
        event.waitUntil(remember(request.url, response.clone(), started));
      }
      return response;
    }, function () {
      return keptCopy(request.url);
    });
  }

  function sentForm(event) {
    return fetch(event.request).catch(function () {
      var back = new URL(event.request.referrer || "/me/tasks", self.location.origin);
      if (back.origin !== self.location.origin) back = new URL("/me/tasks", self.location.origin);
      back.hash = "offline-unsent";
      return Response.redirect(back.href, 303);
    });
  }

  /* Network first; the kept copy (refreshed with the pages) without a connection. */
  function staticFile(request) {
    return fetch(request).catch(function () {
      return caches.open(STATIC).then(function (cache) { return cache.match(request); })
        .then(function (copy) { return copy || Response.error(); });
    });
  }

  self.addEventListener("fetch", function (event) {
    var request = event.request;
    var url = new URL(request.url);
    if (url.origin !== self.location.origin) return;
    if (request.mode === "navigate") {
      if (url.pathname === "/logout" || url.pathname === "/login" || url.pathname.indexOf("/login/") === 0) {
        event.waitUntil(emptyAll());
      }
      if (request.method === "GET") event.respondWith(page(event));
      else if (request.method === "POST") event.respondWith(sentForm(event));
    } else if (request.method === "GET" && url.pathname.indexOf("/static/") === 0) {
      event.respondWith(staticFile(request));
    }
  });

  /* Fetch one listed page for `user`; true to go on, false when the connection is gone. */
  function fetchAhead(cache, url, user, wanted, started) {
    return fetch(url, { credentials: "same-origin", headers: { "X-Offline-Prefetch": "1" } })
      .then(function (response) {
        if (started !== generation) return false;  // logged out meanwhile: stop
        if (allowed(response) !== user) return cache.delete(url).then(function () { return true; });
        wanted[url] = true;
        return stamped(response).then(function (copy) { return cache.put(url, copy); })
          .then(function () { return true; });
      }, function () { return false; });
  }

  /* Keep the listed pages one after the other; forget kept pages no longer listed (when all were fetched). */
  function keepListed(listing, started) {
    if (started !== generation) return Promise.resolve(null);
    var name = PAGES + listing.user_id;
    var user = String(listing.user_id);
    var wanted = {};
    return keepOnly(name).then(function () { return caches.open(name); }).then(function (cache) {
      var chain = Promise.resolve(true);
      listing.pages.forEach(function (path) {
        var url = new URL(path, self.location.origin).href;
        chain = chain.then(function (online) { return online && fetchAhead(cache, url, user, wanted, started); });
      });
      return chain.then(function (complete) {
        if (!complete) return null;  // the connection went half-way: keep what is there
        return cache.keys().then(function (requests) {
          return Promise.all(requests.filter(function (r) { return !wanted[r.url]; })
            .map(function (r) { return cache.delete(r); }));
        });
      }).then(function () { return Object.keys(wanted).length; });
    });
  }

  /* Fetch ahead what the server lists for this user (crisis/pwa/offline.py): the style sheet and
     scripts first, since a kept page is of little use without them, then the pages. */
  function refresh(force) {
    if (Date.now() - lastRefresh < (force ? REFRESH_SOONEST_MS : REFRESH_EVERY_MS)) return Promise.resolve(null);
    lastRefresh = Date.now();
    var started = generation;
    return fetch("/me/offline/pages", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        var json = (response.headers.get("Content-Type") || "").indexOf("application/json") === 0;
        if (!response.ok || !json) return emptyAll().then(function () { return null; });  // logged out
        return response.json();
      })
      .then(function (listing) {
        if (!listing) return null;
        if (!listing.pages.length) return emptyAll().then(function () { return 0; });  // not outreach
        if (started !== generation) return null;
        return caches.open(STATIC).then(function (files) { return files.addAll(STATIC_FILES); })
          .catch(function () { return null; })
          .then(function () { return keepListed(listing, started); });
      })
      .catch(function () { return null; });
  }

  function tellPages(count) {
    return self.clients.matchAll({ type: "window" }).then(function (clients) {
      clients.forEach(function (client) { client.postMessage({ type: "offline-refreshed", count: count }); });
    });
  }

  self.addEventListener("message", function (event) {
    var data = event.data || {};
    if (data.type === "offline-refresh") {
      event.waitUntil(refresh(data.force).then(function (count) { return count === null ? null : tellPages(count); }));
    } else if (data.type === "offline-clear") {
      event.waitUntil(emptyAll());
    }
  });
})();
