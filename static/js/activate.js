// Suggest the playbook that applies to the chosen type of incident; show the date of death
// only when the outcome is "deceased" (the fields stay in the form without JavaScript).
(function () {
  var type = document.getElementById("type");
  var playbook = document.getElementById("playbook_id");
  var outcome = document.getElementById("outcome");
  var death = document.getElementById("death-facts");
  if (outcome && death) {
    var showDeath = function () { death.hidden = outcome.value !== "deceased"; };
    outcome.addEventListener("change", showDeath);
    showDeath();
  }
  if (!type || !playbook) return;
  function suggest() {
    if (!type.value) return;
    var chosen = playbook.options[playbook.selectedIndex];
    if (chosen && chosen.dataset.applies && chosen.dataset.applies.split(" ").indexOf(type.value) >= 0) return;
    for (var i = 0; i < playbook.options.length; i++) {
      var applies = playbook.options[i].dataset.applies;
      if (applies && applies.split(" ").indexOf(type.value) >= 0) {
        playbook.selectedIndex = i;
        return;
      }
    }
  }
  type.addEventListener("change", suggest);
  suggest();
})();
