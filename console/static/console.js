// The console works without this script; with it, fee previews follow the form as it
// is typed in. A form with data-preview="<url>" sends its fields (the CSRF token
// excluded) to that URL and puts the answer, HTML the server escaped, into the element
// named by data-preview-target.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-preview]")) {
    const target = document.getElementById(form.dataset.previewTarget);
    let timer;
    const refresh = () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const params = new URLSearchParams(new FormData(form));
        params.delete("_csrf");
        if (form.querySelector('input[name="enabled"]') && !params.has("enabled")) params.set("enabled", "no");
        try {
          const response = await fetch(form.dataset.preview + "?" + params.toString(), { credentials: "same-origin" });
          if (response.ok) target.innerHTML = await response.text();
        } catch (_) { /* the Preview button still works */ }
      }, 250);
    };
    form.addEventListener("input", refresh);
    form.addEventListener("change", refresh);
  }
});
