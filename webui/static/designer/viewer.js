/* Read-only diagrams: <div data-diagram="ID-of-a-JSON-script" data-markers='{"id": "class"}'>.
   The JSON script holds {"kind": "bpmn"|"dmn", "content": "<xml>"}. Each container gets
   data-state="ok"|"error" and data-warnings (count) once rendered, for people and tests. */
(function () {
  "use strict";

  function render(container) {
    var source = JSON.parse(document.getElementById(container.dataset.diagram).textContent);
    var markers = container.dataset.markers ? JSON.parse(container.dataset.markers) : {};
    var done = function (warnings) {
      container.dataset.warnings = String((warnings || []).length);
      container.dataset.state = "ok";
    };
    var fail = function (err) {
      container.dataset.state = "error";
      container.dataset.error = String(err && err.message || err);
      var note = document.createElement("div");
      note.className = "alert alert-danger m-2";
      note.textContent = container.dataset.error;
      container.appendChild(note);
    };
    if (source.kind === "dmn") {
      var dmn = new window.DmnJS({ container: container });
      dmn.importXML(source.content).then(function (result) { done(result.warnings); }, fail);
      return;
    }
    var Viewer = window.BpmnViewer || window.BpmnJS;
    var viewer = new Viewer({ container: container });
    viewer.importXML(source.content).then(function (result) {
      var canvas = viewer.get("canvas");
      var registry = viewer.get("elementRegistry");
      canvas.zoom("fit-viewport");
      Object.keys(markers).forEach(function (id) {
        if (registry.get(id)) { canvas.addMarker(id, markers[id]); }
      });
      container.dataset.marked = String(Object.keys(markers).filter(function (id) { return registry.get(id); }).length);
      done(result.warnings);
    }, fail);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-diagram]").forEach(render);
  });
})();
