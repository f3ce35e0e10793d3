// Progressive enhancement: refresh the preview as the form changes (the buttons work without it).
(function () {
  const form = document.getElementById("plan-form");
  if (!form) return;
  let timer = null;
  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(async function () {
      const data = new FormData(form);
      data.set("action", "preview");
      const reply = await fetch(form.getAttribute("action"), { method: "POST", body: data });
      const page = new DOMParser().parseFromString(await reply.text(), "text/html");
      const fresh = page.getElementById("preview");
      if (fresh) document.getElementById("preview").replaceWith(fresh);
    }, 400);
  });
})();
