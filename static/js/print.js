// "Afdrukken": shown only when script runs, and prints the page (the print
// stylesheet leaves only the codes). Without script, the browser's own print works.
document.querySelectorAll("[data-print]").forEach((button) => {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
});
