/* Registers the service worker (/sw.js, scope "/") on every page of a logged-in user. */
"use strict";
(function () {
  if (!("serviceWorker" in navigator) || !window.isSecureContext) return;
  window.addEventListener("load", function () {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function (err) {
      console.warn("service worker not registered", err);
    });
  });
})();
