// The demo calendar is polled every few seconds: show what it finds without a manual reload.
// The period comes from the script tag (data-seconds); a form being filled in is never lost.
(function () {
  const seconds = Number(document.currentScript && document.currentScript.dataset.seconds);
  if (!(seconds > 0)) return;
  setTimeout(function () {
    if (!document.querySelector("form:focus-within")) location.reload();
  }, seconds * 1000);
})();
