/* The live dashboard (lägesbild): keeps the page current over the /live Socket.IO namespace.
 *
 * Each `timeline` event is a committed timeline event. It is added to the feed and, as a
 * notification, makes the page fetch the affected incident's card (or the team section) again:
 * the figures always come from the server, so handling an event twice would be harmless, and
 * events are still dropped by id when seen before.
 *
 * After every (re)connect the page asks GET /api/v1/events?after=<resume point> for what it
 * missed. The resume point trails the newest event seen by the overlap the server names
 * (data-overlap-seconds): on PostgreSQL an event with a smaller id may commit after a larger
 * one, so resuming from exactly the newest id could skip it (crisis/live/dashboard.py).
 */
(function () {
  "use strict";

  var root = document.getElementById("live");
  if (!root || typeof window.io !== "function") return;

  var cfg = root.dataset;
  var overlapMs = Number(cfg.overlapSeconds || 120) * 1000;
  var feed = document.getElementById("live-feed");
  var noEvents = document.getElementById("live-no-events");
  var cardsBox = document.getElementById("live-incidents");
  var noIncidents = document.getElementById("live-no-incidents");
  var incidentCount = document.getElementById("live-incident-count");
  var teamsBox = document.getElementById("live-teams");
  var statusLine = document.getElementById("live-status");
  var announcer = document.getElementById("live-announcer");
  var HIGHLIGHT_MS = 4000;

  var FEED_MAX = 50;
  var SEEN_MAX = 5000;
  var MAX_TIMER_MS = 6 * 60 * 60 * 1000;

  var seen = new Map(); // event id -> occurred_at (ms)
  var resumeAfter = Number(cfg.resumeAfter || 0);
  var newestAt = 0;
  var ended = false;
  var cardTimers = new Map(); // incident id -> pending refresh
  var dueTimers = new Map(); // incident id -> timer for the next deadline
  var teamsTimer = null;

  var timeFormat = new Intl.DateTimeFormat(document.documentElement.lang || "sv", {
    dateStyle: "short", timeStyle: "short", timeZone: "Europe/Stockholm"
  });

  // -- connection state -------------------------------------------------------------

  function setState(state) {
    if (ended && state !== "ended") return;
    var text = {
      live: cfg.textLive, connecting: cfg.textConnecting, "catching-up": cfg.textCatchingUp,
      offline: cfg.textOffline, ended: cfg.textEnded
    }[state];
    statusLine.dataset.state = state;
    statusLine.textContent = text;
  }

  function endSession() {
    setState("ended");
    ended = true;
    socket.disconnect();
  }

  // -- events -----------------------------------------------------------------------

  function remember(id, at) {
    seen.set(id, at);
    if (at > newestAt) newestAt = at;
    seen.forEach(function (occurred, seenId) {
      if (occurred <= newestAt - overlapMs && seenId > resumeAfter) resumeAfter = seenId;
    });
    if (seen.size > SEEN_MAX) {
      seen.forEach(function (_occurred, seenId) {
        if (seenId <= resumeAfter && seen.size > SEEN_MAX) seen.delete(seenId);
      });
    }
  }

  function referenceOf(incidentId) {
    var card = document.getElementById("incident-" + incidentId);
    return card ? card.dataset.reference : "#" + incidentId;
  }

  function addToFeed(event) {
    var item = document.createElement("li");
    item.className = "live-event live-event-new";
    item.dataset.eventId = String(event.id);
    item.dataset.occurredAt = event.occurred_at;
    var time = document.createElement("time");
    time.dateTime = event.occurred_at;
    time.textContent = timeFormat.format(new Date(event.occurred_at));
    item.append(time, " ");
    if (event.incident_id !== null && event.incident_id !== undefined) {
      var tag = document.createElement("span");
      tag.className = "tag";
      tag.dataset.incidentRef = String(event.incident_id);
      tag.textContent = referenceOf(event.incident_id);
      item.append(tag, " ");
    }
    var summary = document.createElement("span");
    summary.className = "live-summary";
    // The sentence in the page's language (the payload carries sv and en; see crisis/live/publish.py).
    var lang = document.documentElement.lang || "sv";
    summary.textContent = (event.summaries && event.summaries[lang]) || event.summary;
    item.append(summary);
    // Newest first, in id order even when an older event arrives late.
    var before = null;
    for (var i = 0; i < feed.children.length; i++) {
      if (Number(feed.children[i].dataset.eventId) < event.id) { before = feed.children[i]; break; }
    }
    feed.insertBefore(item, before);
    while (feed.children.length > FEED_MAX) feed.lastElementChild.remove();
    noEvents.hidden = true;
  }

  // Screen readers hear new events through a polite live region (issue 18): the newest one,
  // without interrupting what is being read.
  function announce(event) {
    if (!announcer) return;
    var ref = event.incident_id !== null && event.incident_id !== undefined ? referenceOf(event.incident_id) + ": " : "";
    announcer.textContent = (cfg.textNewEvent || "") + " " + ref + event.summary;
  }

  function handle(event) {
    if (!event || typeof event.id !== "number" || seen.has(event.id)) return;
    remember(event.id, Date.parse(event.occurred_at));
    addToFeed(event);
    announce(event);
    if (event.incident_id !== null && event.incident_id !== undefined) {
      scheduleCard(event.incident_id);
      // An acknowledged alert changes who is on the way: the team section shows it.
      if (teamsBox && typeof event.type === "string" && event.type.indexOf("dispatch.") === 0) scheduleTeams();
    } else if (teamsBox) {
      scheduleTeams();
    }
  }

  // -- fragments --------------------------------------------------------------------

  // Spread the refreshes of many open dashboards over a second.
  function jitter() { return 200 + Math.floor(Math.random() * 800); }

  function fetchFragment(url) {
    return fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "text/html" } });
  }

  function parse(html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  function scheduleCard(incidentId) {
    if (cardTimers.has(incidentId)) return;
    cardTimers.set(incidentId, setTimeout(function () {
      cardTimers.delete(incidentId);
      refreshCard(incidentId);
    }, jitter()));
  }

  function refreshCard(incidentId) {
    var url = cfg.cardUrl.replace(/\/0\/card$/, "/" + incidentId + "/card");
    fetchFragment(url).then(function (response) {
      if (response.status === 401) { endSession(); return null; }
      if (response.status === 403 || response.status === 404) { placeCard(incidentId, null); return null; }
      if (!response.ok) throw new Error("card " + incidentId + ": " + response.status);
      return response.text();
    }).then(function (html) {
      if (html) placeCard(incidentId, parse(html));
    }).catch(function () { /* the next event or reconnect fetches it again */ });
  }

  // A changed card stands out for a few seconds (issue 18), so the eye finds what moved.
  function highlight(card) {
    card.classList.add("live-card-changed");
    setTimeout(function () { card.classList.remove("live-card-changed"); }, HIGHLIGHT_MS);
  }

  function placeCard(incidentId, card) {
    var current = document.getElementById("incident-" + incidentId);
    var active = card && card.dataset.status === "active";
    if (current && active) current.replaceWith(card);
    else if (current) current.remove();
    else if (active) cardsBox.prepend(card);
    if (active) highlight(card);
    watchDeadline(incidentId, active ? card : null);
    if (card) {
      // Events that arrived before their incident's card named it by id.
      feed.querySelectorAll('[data-incident-ref="' + incidentId + '"]').forEach(function (tag) {
        tag.textContent = card.dataset.reference;
      });
    }
    // The dashboard is paged (50 cards a page): the tag says how many are shown of how many in all,
    // never the cards on this page as if they were all.
    var total = Number(incidentCount.dataset.total || 0);
    if (current && !active) total = Math.max(0, total - 1);
    else if (!current && active) total += 1;
    incidentCount.dataset.total = String(total);
    var count = cardsBox.querySelectorAll("[data-incident-id]").length;
    incidentCount.textContent = total > count
      ? (incidentCount.dataset.textPaged || "{shown} / {total}").replace("{shown}", String(count)).replace("{total}", String(total))
      : String(count);
    noIncidents.hidden = count > 0;
  }

  // A task becomes overdue when its deadline passes, not by an event: refresh then.
  function watchDeadline(incidentId, card) {
    clearTimeout(dueTimers.get(incidentId));
    dueTimers.delete(incidentId);
    if (!card || !card.dataset.nextDue) return;
    var wait = Date.parse(card.dataset.nextDue) - Date.now() + 1000;
    if (isNaN(wait)) return;
    dueTimers.set(incidentId, setTimeout(function () {
      dueTimers.delete(incidentId);
      if (wait > MAX_TIMER_MS) watchDeadline(incidentId, document.getElementById("incident-" + incidentId));
      else refreshCard(incidentId);
    }, Math.max(0, Math.min(wait, MAX_TIMER_MS))));
  }

  function scheduleTeams() {
    if (teamsTimer !== null) return;
    teamsTimer = setTimeout(function () {
      teamsTimer = null;
      fetchFragment(cfg.teamsUrl).then(function (response) {
        if (response.status === 401) { endSession(); return null; }
        return response.ok ? response.text() : null;
      }).then(function (html) {
        if (html !== null && html !== undefined) teamsBox.innerHTML = html;
      }).catch(function () { /* fetched again on the next staff event */ });
    }, jitter());
  }

  // -- catching up ------------------------------------------------------------------

  function catchUp() {
    var after = resumeAfter;
    function page(round) {
      var url = cfg.eventsUrl + "?limit=500&after=" + encodeURIComponent(after);
      return fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (response.status === 401) { endSession(); return null; }
          if (!response.ok) throw new Error("events: " + response.status);
          return response.json();
        })
        .then(function (body) {
          if (!body) return;
          body.items.forEach(handle);
          if (body.has_more && body.items.length && round < 100) {
            after = body.items[body.items.length - 1].id;
            return page(round + 1);
          }
        });
    }
    return page(0);
  }

  function joinRooms() {
    if (cfg.joinDashboard !== "true") return Promise.resolve();
    return new Promise(function (resolve, reject) {
      socket.timeout(10000).emit("join", { room: "dashboard" }, function (err, answer) {
        if (err) reject(err);
        else if (answer && answer.ok) resolve();
        else reject(answer);
      });
    });
  }

  // -- the socket -------------------------------------------------------------------

  document.querySelectorAll("#live-feed [data-event-id]").forEach(function (item) {
    remember(Number(item.dataset.eventId), Date.parse(item.dataset.occurredAt));
  });
  cardsBox.querySelectorAll("[data-incident-id]").forEach(function (card) {
    watchDeadline(Number(card.dataset.incidentId), card);
  });

  var socket = window.io(cfg.namespace, { withCredentials: true });
  setState("connecting");

  socket.on("connect", function () {
    setState("catching-up");
    joinRooms().then(catchUp).then(function () {
      if (socket.connected) setState("live");
    }).catch(function () {
      setState("offline");
      // Joining or catching up failed: start over with a fresh connection.
      socket.disconnect();
      setTimeout(function () { if (!ended) socket.connect(); }, 3000 + jitter());
    });
  });

  socket.on("timeline", handle);

  socket.on("refused", function (answer) {
    if (answer && answer.status === 401) endSession();
  });

  socket.on("connect_error", function (err) {
    // Refused by the server (not logged in, deactivated): no automatic retry.
    if (err && err.message === "unauthorized") endSession();
    else setState("offline");
  });

  socket.on("disconnect", function (reason) {
    if (ended) return;
    setState("offline");
    // The server closed the socket (a logout elsewhere, a restart): try once more; a
    // still valid session reconnects and catches up, an ended one is refused.
    if (reason === "io server disconnect") {
      setTimeout(function () { if (!ended) socket.connect(); }, 3000 + jitter());
    }
  });
})();
