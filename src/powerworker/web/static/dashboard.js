// powerworker dashboard: progressive enhancements only; every page works without script.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // A "select all" checkbox ticks every checkbox of the same name on the page.
  for (const master of document.querySelectorAll("input[data-select-all]")) {
    const name = master.getAttribute("data-select-all");
    const boxes = () => document.querySelectorAll(`input[type=checkbox][name="${name}"]`);
    master.addEventListener("change", () => { for (const box of boxes()) box.checked = master.checked; });
  }
  // Filter segments (radio buttons styled as tabs) show the choice at once.
  for (const radio of document.querySelectorAll(".segmented input[type=radio]")) {
    radio.addEventListener("change", () => {
      for (const label of radio.closest(".segmented").querySelectorAll("label")) {
        label.classList.toggle("active", label.contains(radio));
      }
    });
  }
});
