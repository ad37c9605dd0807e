/* The instance page's diagram: bpmn-js (served from static/vendor) with the path taken marked,
   current elements highlighted, a visit count on every element passed (loops and send-backs
   show as counts above 1) and the due time of each waiting timer. */
(function () {
  "use strict";
  var container = document.getElementById("instance-diagram");
  var stateNode = document.getElementById("instance-state");
  if (!container || !stateNode || typeof BpmnJS === "undefined") { return; }
  var state = JSON.parse(stateNode.textContent);
  var viewer = new BpmnJS({ container: container });

  function text(tag, className, content, attrs) {
    var node = document.createElement(tag);
    node.className = className;
    node.textContent = content;
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }

  function localTime(iso) {
    var d = new Date(iso);
    if (isNaN(d)) { return iso; }
    // Shown in China Standard Time whatever the browser's zone (the campaign's time).
    var shifted = new Date(d.getTime() + 8 * 3600 * 1000).toISOString();
    return shifted.slice(0, 10) + " " + shifted.slice(11, 16);
  }

  function mark() {
    var canvas = viewer.get("canvas");
    var overlays = viewer.get("overlays");
    var registry = viewer.get("elementRegistry");
    var visits = state.visits || {};
    canvas.zoom("fit-viewport");
    Object.keys(visits).forEach(function (id) {
      if (!registry.get(id)) { return; }
      canvas.addMarker(id, "instance-visited");
      overlays.add(id, "visits", {
        position: { top: -10, right: 10 },
        html: text("span", "visit-count", String(visits[id]),
                   { "data-element": id, title: visits[id] + " " + (container.dataset.visitsLabel || "") })
      });
    });
    registry.filter(function (e) { return e.type === "bpmn:SequenceFlow"; }).forEach(function (flow) {
      var from = flow.businessObject.sourceRef, to = flow.businessObject.targetRef;
      if (from && to && visits[from.id] && visits[to.id]) { canvas.addMarker(flow.id, "instance-taken"); }
    });
    (state.current || []).forEach(function (id) {
      if (registry.get(id)) { canvas.addMarker(id, "instance-current"); }
    });
    if (state.error && registry.get(state.error)) { canvas.addMarker(state.error, "instance-error"); }
    (state.timers || []).forEach(function (timer) {
      if (!registry.get(timer.element_id) || !timer.due_at) { return; }
      overlays.add(timer.element_id, "timer", {
        position: { bottom: -4, left: -30 },
        html: text("span", "timer-due", "⏰ " + localTime(timer.due_at), { "data-element": timer.element_id })
      });
    });
    container.setAttribute("data-ready", "1");
  }

  fetch(container.dataset.diagramUrl, { credentials: "same-origin" })
    .then(function (response) { return response.text(); })
    .then(function (xml) { return viewer.importXML(xml); })
    .then(mark)
    .catch(function (err) {
      container.setAttribute("data-ready", "error");
      container.appendChild(text("div", "alert alert-warning m-2", String(err)));
    });
})();
