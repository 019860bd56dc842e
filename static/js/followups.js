// Follow-up outcome forms: the "why they declined" choice only matters when
// "declined" is chosen, so it is shown only then (without JS it is always shown).
(function () {
  "use strict";
  function sync(form) {
    var chosen = form.querySelector('input[name="outcome"]:checked');
    var reason = form.querySelector(".decline-reason");
    if (!reason) { return; }
    var declined = chosen && chosen.value === "declined";
    reason.hidden = !declined;
    var select = reason.querySelector("select");
    if (select) { select.required = declined; }
  }
  function init() {
    var forms = document.querySelectorAll("form.outcome-form");
    Array.prototype.forEach.call(forms, function (form) {
      if (form.dataset.followupsReady) { return; }
      form.dataset.followupsReady = "1";
      sync(form);
      form.addEventListener("change", function () { sync(form); });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
