// A live "N of MAX characters" under every [data-counter] field with a maxlength.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  for (const field of document.querySelectorAll("[data-counter][maxlength]")) {
    const max = Number(field.getAttribute("maxlength"));
    const counter = document.createElement("p");
    counter.className = "help counter";
    counter.id = `${field.id}-counter`;
    counter.setAttribute("aria-live", "polite");
    const update = () => {
      // The same count as maxlength's (UTF-16 units, a line break as one).
      const used = field.value.length;
      counter.textContent = `${used.toLocaleString("en")} of ${max.toLocaleString("en")} characters`;
      counter.classList.toggle("over-limit", used > max);
    };
    field.addEventListener("input", update);
    update();
    field.closest(".field").append(counter);
  }
});
