// Progressive enhancement: refresh the preview as the form changes (the buttons work without it).
// The notes beside the fields follow too, so a mistake is marked where it was typed.
(function () {
  const form = document.getElementById("plan-form");
  if (!form) return;
  let timer = null;

  function syncNotes(fresh) {
    form.querySelectorAll(".field-error").forEach(function (note) { note.remove(); });
    form.querySelectorAll("[aria-invalid]").forEach(function (field) {
      field.removeAttribute("aria-invalid");
      field.removeAttribute("aria-describedby");
    });
    fresh.querySelectorAll("#plan-form .field-error").forEach(function (note) {
      const field = document.getElementById(note.id.replace(/-error$/, ""));
      if (!field || !form.contains(field)) return;
      if (field.tagName === "FIELDSET") {
        field.querySelector("legend").after(note.cloneNode(true));
      } else {
        field.setAttribute("aria-invalid", "true");
        field.after(note.cloneNode(true));
      }
      field.setAttribute("aria-describedby", note.id);
    });
  }

  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(async function () {
      const data = new FormData(form);
      data.set("action", "preview");
      const reply = await fetch(form.getAttribute("action"), { method: "POST", body: data });
      const page = new DOMParser().parseFromString(await reply.text(), "text/html");
      const fresh = page.getElementById("preview");
      if (fresh) document.getElementById("preview").replaceWith(fresh);
      syncNotes(page);
    }, 400);
  });
})();
