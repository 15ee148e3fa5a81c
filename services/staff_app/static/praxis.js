// The inbox's live part: a new urgent request (one that arrives while the page is open) gets a
// highlighted row, a banner and a sound. Polling pauses while someone types in the list.
(function () {
  "use strict";
  var known = new Set();
  var fresh = new Set();
  var primed = false;
  var audio = null;

  function beep() {
    try {
      var Context = window.AudioContext || window.webkitAudioContext;
      audio = audio || new Context();
      audio.resume();
      [0, 0.5].forEach(function (offset) {
        var tone = audio.createOscillator();
        var gain = audio.createGain();
        tone.frequency.value = 880;
        gain.gain.value = 0.25;
        tone.connect(gain);
        gain.connect(audio.destination);
        tone.start(audio.currentTime + offset);
        tone.stop(audio.currentTime + offset + 0.3);
      });
    } catch (e) { /* no audio device: the banner and the row still show it */ }
    window.praxisAlarms = (window.praxisAlarms || 0) + 1;
  }

  function scan() {
    var rows = document.querySelectorAll("#inbox-rows tr[data-id]");
    var alarm = false;
    rows.forEach(function (row) {
      var id = row.dataset.id;
      if (!known.has(id)) {
        known.add(id);
        if (primed && row.dataset.urgent === "1") { fresh.add(id); alarm = true; }
      }
      if (fresh.has(id)) { row.classList.add("neu"); }
    });
    primed = true;
    if (alarm) {
      var banner = document.getElementById("alarm");
      if (banner) { banner.hidden = false; }
      beep();
    }
  }

  // While someone works in the list (focus inside it: a note being typed), the poll waits.
  function busy() {
    var active = document.activeElement;
    var list = document.getElementById("inbox-rows");
    return Boolean(active && list && list.contains(active));
  }

  document.addEventListener("DOMContentLoaded", function () {
    scan();
    document.body.addEventListener("htmx:afterSwap", scan);
    document.body.addEventListener("htmx:beforeRequest", function (event) {
      if (event.detail.elt.id === "inbox-rows" && busy()) { event.preventDefault(); }
    });
    // A poll already under way when someone started working in the list is not swapped in either.
    document.body.addEventListener("htmx:beforeSwap", function (event) {
      if (event.detail.elt.id === "inbox-rows" && busy()) { event.detail.shouldSwap = false; }
    });
    var ok = document.getElementById("alarm-ok");
    if (ok) {
      ok.addEventListener("click", function () {
        fresh.clear();
        document.querySelectorAll("#inbox-rows tr.neu").forEach(function (row) { row.classList.remove("neu"); });
        document.getElementById("alarm").hidden = true;
      });
    }
  });
})();
