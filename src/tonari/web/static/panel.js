// Tonari panel: the live size of a segment while its definition is typed. Nothing else
// needs JavaScript; without it the size shows after saving.
(function () {
  "use strict";
  var editor = document.getElementById("definition");
  if (!editor || !editor.dataset.previewUrl) return;
  var size = document.getElementById("live-size");
  var problem = document.getElementById("live-error");
  var sample = document.getElementById("live-sample");
  var token = document.querySelector('meta[name="csrf-token"]').content;
  var timer = null;
  var latest = 0;

  function showError(error) {
    problem.hidden = false;
    problem.textContent = "";
    var message = document.createElement("p");
    message.textContent = error.message || "This definition cannot be read.";
    problem.appendChild(message);
    if (error.field) {
      var where = document.createElement("p");
      where.appendChild(document.createTextNode("Where: "));
      var code = document.createElement("code");
      code.className = "error-field";
      code.textContent = error.field;
      where.appendChild(code);
      problem.appendChild(where);
    }
    editor.setAttribute("aria-invalid", "true");
    sample.textContent = "";
    size.dataset.state = "error";
    size.textContent = "Fix the definition to see its size";
  }

  function showSize(body) {
    problem.hidden = true;
    editor.removeAttribute("aria-invalid");
    size.dataset.state = "ready";
    size.dataset.size = String(body.size);
    size.textContent = body.size.toLocaleString("en") + (body.size === 1 ? " customer now" : " customers now");
    sample.textContent = "";
    body.sample.forEach(function (member) {
      var item = document.createElement("li");
      item.textContent = [member.external_id, member.email, member.city].filter(Boolean).join(" · ");
      sample.appendChild(item);
    });
  }

  function preview() {
    var asked = ++latest;
    size.dataset.state = "loading";
    fetch(editor.dataset.previewUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": token },
      body: JSON.stringify({ definition: editor.value })
    }).then(function (response) {
      if (response.status === 401) { window.location.href = "/panel/sign-in?reason=expired"; return null; }
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (result) {
      if (!result || asked !== latest) return;  // a newer keystroke has its own answer coming
      if (result.ok) showSize(result.body); else showError(result.body.error || {});
    }).catch(function () {
      if (asked === latest) showError({ message: "The panel could not be reached: check that Tonari is running." });
    });
  }

  editor.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(preview, 300);
  });
  preview();
})();
