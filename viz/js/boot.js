// Starts the viewer (js/main.js, an ES module) -- unless the page was opened from
// file://, where browsers neither run ES modules nor fetch files: then it says what to
// run instead. A classic script, so that it runs from file:// too.
(function () {
  var status = document.getElementById("status");
  if (location.protocol === "file:") {
    status.textContent = "This page cannot load a replay from a file:// address. Serve " +
      "the run instead: fleetsim view RUN_DIR (or: python3 -m http.server -d " +
      "RUN_DIR/replay, then open http://127.0.0.1:8000/).";
    status.className = "error";
    return;
  }
  var s = document.createElement("script");
  s.type = "module";
  s.src = "js/main.js";
  document.body.appendChild(s);
})();
