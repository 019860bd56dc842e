// Suggest the playbook that applies to the chosen type of incident.
(function () {
  var type = document.getElementById("type");
  var playbook = document.getElementById("playbook_id");
  if (!type || !playbook) return;
  function suggest() {
    var chosen = playbook.options[playbook.selectedIndex];
    if (chosen && chosen.dataset.applies.split(" ").indexOf(type.value) >= 0) return;
    for (var i = 0; i < playbook.options.length; i++) {
      if (playbook.options[i].dataset.applies.split(" ").indexOf(type.value) >= 0) {
        playbook.selectedIndex = i;
        return;
      }
    }
  }
  type.addEventListener("change", suggest);
  suggest();
})();
