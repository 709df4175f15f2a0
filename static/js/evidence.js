// Evidence upload on the case page: drag and drop onto the file field, a progress bar while it uploads.
// Without JavaScript the same form posts normally.
(function () {
  "use strict";
  document.querySelectorAll("form.upload").forEach(function (form) {
    var input = form.querySelector("input[type=file]");
    var zone = form.querySelector("[data-dropzone]");
    var bar = form.querySelector("progress");
    var status = form.querySelector(".upload-status");
    var button = form.querySelector("button[type=submit]");
    var max = parseInt(form.dataset.maxBytes, 10);

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
        status.textContent = input.files[0].name;
      }
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var file = input.files[0];
      if (!file) { input.focus(); return; }
      if (file.size > max) { status.textContent = form.dataset.tooLarge; return; }
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRFToken", form.querySelector("[name=csrfmiddlewaretoken]").value);
      bar.hidden = false;
      bar.value = 0;
      button.disabled = true;
      status.textContent = form.dataset.uploading;
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) { bar.value = Math.round((e.loaded / e.total) * 100); }
      });
      xhr.addEventListener("load", function () {
        button.disabled = false;
        if (xhr.status === 201) {
          bar.value = 100;
          status.textContent = form.dataset.done;
          window.location.reload();
          return;
        }
        var message = form.dataset.failed;
        try {
          var error = JSON.parse(xhr.responseText).error;
          var fields = Object.keys(error.fields || {}).map(function (k) { return error.fields[k].join(" "); });
          message = [error.message].concat(fields).join(" ");
        } catch (ignored) { /* keep the general message */ }
        status.textContent = message;
      });
      xhr.addEventListener("error", function () {
        button.disabled = false;
        status.textContent = form.dataset.failed;
      });
      xhr.send(new FormData(form));
    });
  });
})();
