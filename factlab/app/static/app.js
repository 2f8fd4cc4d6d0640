// factlab app: the little the pages need beyond HTML. Every page works without it; with it,
// a dropped file is taken, the button of the mapping follows the required fields as they
// change, and the progress of a delivery is shown without reloading the page.
"use strict";

function dropzones() {
  document.querySelectorAll("[data-dropzone]").forEach(function (zone) {
    var input = zone.querySelector("input[type=file]");
    var form = zone.closest("form");
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("over");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        form.submit();
      }
    });
  });
}

function requiredFields() {
  var form = document.getElementById("mapping-form");
  var button = document.getElementById("continue");
  if (!form || !button) { return; }
  function update() {
    var chosen = {};
    form.querySelectorAll("select[data-role]").forEach(function (select) {
      if (select.value) { chosen[select.value] = (chosen[select.value] || 0) + 1; }
    });
    form.querySelectorAll("input[data-constant]").forEach(function (input) {
      if (input.value.trim()) { chosen[input.getAttribute("data-constant")] = 1; }
    });
    var ready = true;
    document.querySelectorAll("#required-list [data-required]").forEach(function (item) {
      var met = Boolean(chosen[item.getAttribute("data-required")]);
      item.className = met ? "met" : "unmet";
      ready = ready && met;
    });
    Object.keys(chosen).forEach(function (name) { ready = ready && chosen[name] === 1; });
    button.disabled = !ready;
    // a code mapped to a value no longer needs its warning
    form.querySelectorAll("select[name^='code-']").forEach(function (select) {
      var badge = select.closest("tr").querySelector(".badge");
      if (badge) { badge.hidden = Boolean(select.value); }
    });
  }
  form.addEventListener("change", update);
  form.addEventListener("input", update);
  update();
}

function progress() {
  var bar = document.getElementById("progress");
  if (!bar) { return; }
  var label = document.getElementById("phase");
  function poll() {
    fetch(bar.getAttribute("data-poll"), { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.json(); })
      .then(function (status) {
        if (status.state !== "running") { window.location.reload(); return; }
        if (status.fraction === null) { bar.removeAttribute("value"); }
        else { bar.value = status.fraction; }
        label.textContent = status.step + " / " + status.steps + ": " + status.label;
        window.setTimeout(poll, 400);
      })
      .catch(function () { window.setTimeout(poll, 1000); });
  }
  poll();
}

document.addEventListener("DOMContentLoaded", function () {
  dropzones();
  requiredFields();
  progress();
});
