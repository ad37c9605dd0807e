/* The designer's modeler page: bpmn-js (or dmn-js for a DMN file) with a properties panel for
   what Chengxin's engine reads, "open a local file", validate and deploy.

   No bundler: plain JS over the vendor UMD builds (window.BpmnJS = the modeler,
   window.BpmnViewer = the navigated viewer used for the read-only preview, window.DmnJS).
   The spiffworkflow moddle extension (static/designer/spiffworkflow.json) makes
   spiffworkflow:properties, calledDecisionId, pre/postScript and serviceTaskOperator
   round-trip. Properties are written with modeling.updateProperties / updateModdleProperties,
   so every change is on the undo stack.

   State for people and tests: #import-status gets data-state (loading|ok|error) and
   data-warnings; #problems lists the server's problems, each with data-element-id and
   data-marked (whether the element was found and marked on the diagram). */
(function () {
  "use strict";

  // Lane roles the engine routes by (engine/lanes.py), with their names from the vocabulary.
  var LANES = JSON.parse(document.getElementById("modeler-config").textContent).lanes;
  var STAGES = ["triage", "rejected", "assigning", "rectifying", "reviewing", "awaiting_spot_check", "spot_check", "closed"];
  var SPIFF_PROPS = ["stage", "candidateUnit", "candidateGroup", "dueDate", "endsWith", "flag"];
  var TIMER_KINDS = ["timeDate", "timeDuration", "timeCycle"];

  var cfg = JSON.parse(document.getElementById("modeler-config").textContent);
  var T = cfg.text;
  var isDmn = cfg.kind === "dmn";
  var canvasEl = document.getElementById("canvas");
  var panelEl = document.getElementById("properties");
  var statusEl = document.getElementById("import-status");
  var problemsEl = document.getElementById("problems");
  var previewEl = document.getElementById("preview");
  var modeler = null;
  var filename = cfg.filename;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") { node.textContent = attrs[key]; }
      else if (key === "className") { node.className = attrs[key]; }
      else if (attrs[key] !== undefined && attrs[key] !== null && attrs[key] !== false) { node.setAttribute(key, attrs[key]); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  var imports = 0;
  function setStatus(state, message, warnings) {
    if (state !== "loading") { imports += 1; statusEl.dataset.imports = String(imports); }
    statusEl.dataset.state = state;
    statusEl.dataset.warnings = String(warnings || 0);
    statusEl.className = "small mb-2 " + (state === "error" ? "text-danger" : "text-muted");
    statusEl.textContent = message;
  }

  // --- import ----------------------------------------------------------------------------
  function importXml(xml) {
    setStatus("loading", T.loading);
    clearProblems();
    return modeler.importXML(xml).then(function (result) {
      var warnings = (result && result.warnings) || [];
      if (isDmn) {
        var table = modeler.getViews().filter(function (v) { return v.type === "decisionTable"; })[0];
        if (table) { modeler.open(table); }
      } else {
        modeler.get("canvas").zoom("fit-viewport");
        renderPanel(null);
      }
      setStatus("ok", warnings.length ? T.imported_with_warnings.replace("{n}", warnings.length) : T.imported, warnings.length);
      if (warnings.length && window.console) { warnings.forEach(function (w) { console.warn(w.message); }); }
      if (previewEl && !previewEl.classList.contains("d-none")) { preview(); }
    }).catch(function (err) {
      setStatus("error", T.import_failed + " " + (err && err.message || err), ((err && err.warnings) || []).length);
    });
  }

  function openLocalFile(event) {
    var file = event.target.files && event.target.files[0];
    if (!file) { return; }
    var reader = new FileReader();
    reader.onload = function () {
      if (!cfg.base) { filename = file.name; }
      importXml(String(reader.result));
    };
    reader.readAsText(file, "utf-8");
  }

  // --- read-only preview (the viewer readers see) -----------------------------------------
  var previewViewer = null;
  function preview() {
    if (!previewEl || !window.BpmnViewer) { return Promise.resolve(); }
    previewEl.classList.remove("d-none");
    previewEl.dataset.state = "loading";
    return modeler.saveXML({ format: false }).then(function (saved) {
      if (!previewViewer) { previewViewer = new window.BpmnViewer({ container: previewEl }); }
      return previewViewer.importXML(saved.xml);
    }).then(function (result) {
      previewViewer.get("canvas").zoom("fit-viewport");
      previewEl.dataset.warnings = String((result.warnings || []).length);
      previewEl.dataset.shapes = String(previewViewer.get("elementRegistry").getAll().length);
      previewEl.dataset.state = "ok";
    }).catch(function (err) {
      previewEl.dataset.state = "error";
      previewEl.dataset.error = String(err && err.message || err);
    });
  }

  // --- problems from the server ----------------------------------------------------------
  var marked = [];
  function clearProblems() {
    problemsEl.innerHTML = "";
    if (!isDmn && modeler) {
      var canvas = modeler.get("canvas");
      marked.forEach(function (id) { canvas.removeMarker(id, "marker-problem"); });
      modeler.get("overlays").remove({ type: "problem" });
    }
    marked = [];
  }

  function showProblems(problems) {
    clearProblems();
    if (!problems.length) {
      problemsEl.appendChild(el("div", { className: "alert alert-success", "data-testid": "validation-ok", text: T.no_problems }));
      return;
    }
    var registry = isDmn ? null : modeler.get("elementRegistry");
    var root = isDmn ? null : modeler.get("canvas").getRootElement();
    // A process has no shape of its own: its pool (participant) stands for it.
    var locate = function (id) {
      var found = registry.get(id);
      if (found && found !== root) { return found; }
      return registry.filter(function (e) {
        return e.type === "bpmn:Participant" && e.businessObject.processRef && e.businessObject.processRef.id === id;
      })[0] || null;
    };
    var list = el("ul", { className: "list-group", "data-testid": "problem-list" });
    problemsEl.appendChild(el("div", { className: "alert alert-danger py-2", "data-testid": "refused",
                                       text: T.problems.replace("{n}", problems.length) }));
    problems.forEach(function (p) {
      var found = registry && p.element_id ? locate(p.element_id) : null;
      if (found) {
        if (marked.indexOf(found.id) < 0) {
          modeler.get("canvas").addMarker(found, "marker-problem");
          modeler.get("overlays").add(found, "problem", {
            position: { top: -11, right: 11 },
            html: el("div", { className: "problem-badge", title: p.reason, text: "!" })
          });
          marked.push(found.id);
        }
      }
      var item = el("li", { className: "list-group-item list-group-item-danger", "data-element-id": p.element_id || "",
                            "data-marked": found ? "true" : "false" }, [
        p.file ? el("span", { className: "text-muted small me-1", text: p.file }) : null,
        p.element_id ? el("code", { className: "me-1", text: p.element_id }) : null,
        el("span", { text: p.reason })
      ]);
      if (found) {
        item.style.cursor = "pointer";
        item.addEventListener("click", function () {
          modeler.get("selection").select(found);
          modeler.get("canvas").scrollToElement(found);
          renderPanel(found);
        });
      }
      list.appendChild(item);
    });
    problemsEl.appendChild(list);
  }

  // --- validate and deploy ---------------------------------------------------------------
  function commitActiveField() {
    var active = document.activeElement;
    if (active && panelEl.contains(active)) { active.dispatchEvent(new Event("change", { bubbles: true })); }
  }

  function post(url) {
    commitActiveField();
    return modeler.saveXML({ format: true }).then(function (saved) {
      return fetch(url, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": cfg.csrf },
        body: JSON.stringify({ filename: filename, xml: saved.xml })
      });
    }).then(function (response) {
      return response.json().then(function (body) { return { status: response.status, body: body }; });
    });
  }

  function setBusy(busy) {
    document.querySelectorAll("[data-action]").forEach(function (b) { b.disabled = busy; });
  }

  function failed(err) {
    problemsEl.innerHTML = "";
    problemsEl.appendChild(el("div", { className: "alert alert-danger", "data-testid": "request-failed",
                                       text: T.request_failed + " " + (err && err.message || err) }));
  }

  function validate() {
    setBusy(true);
    return post(cfg.urls.validate).then(function (r) {
      if (r.body.problems) { showProblems(r.body.problems); }
      else { failed(r.body.message || String(r.status)); }
    }).catch(failed).finally(function () { setBusy(false); });
  }

  function deploy() {
    setBusy(true);
    return post(cfg.urls.deploy).then(function (r) {
      if (r.body.ok) {
        var first = r.body.deployed[0];
        problemsEl.innerHTML = "";
        problemsEl.appendChild(el("div", { className: "alert alert-success", "data-testid": "deployed", text: T.deployed }));
        if (first && first.url) { window.location.assign(first.url); }
        return;
      }
      if (r.body.problems) { showProblems(r.body.problems); }
      else { failed(r.body.message || String(r.status)); }
    }).catch(failed).finally(function () { setBusy(false); });
  }

  function download() {
    modeler.saveXML({ format: true }).then(function (saved) {
      var link = el("a", { href: URL.createObjectURL(new Blob([saved.xml], { type: "application/xml" })), download: filename });
      document.body.appendChild(link);
      link.click();
      link.remove();
    });
  }

  // --- properties panel (BPMN) -----------------------------------------------------------
  function svc(name) { return modeler.get(name); }
  function extValues(bo, type) {
    var ext = bo.extensionElements;
    return ext ? (ext.get("values") || []).filter(function (v) { return v.$type === type; }) : [];
  }
  function spiffProperties(bo) {
    var props = extValues(bo, "spiffworkflow:Properties")[0];
    var result = {};
    if (props) { (props.get("properties") || []).forEach(function (p) { result[p.name] = p.value; }); }
    return result;
  }

  function ensureExtensionElements(element) {
    var bo = element.businessObject;
    var ext = bo.extensionElements;
    if (!ext) {
      ext = svc("moddle").create("bpmn:ExtensionElements", { values: [] });
      ext.$parent = bo;
      svc("modeling").updateProperties(element, { extensionElements: ext });
    }
    return ext;
  }

  function removeExtValue(element, value) {
    var modeling = svc("modeling");
    var ext = element.businessObject.extensionElements;
    var rest = ext.get("values").filter(function (v) { return v !== value; });
    if (rest.length) { modeling.updateModdleProperties(element, ext, { values: rest }); }
    else { modeling.updateProperties(element, { extensionElements: undefined }); }
  }

  function setSpiffProperty(element, name, value) {
    var modeling = svc("modeling");
    var moddle = svc("moddle");
    var props = extValues(element.businessObject, "spiffworkflow:Properties")[0];
    var list = props ? props.get("properties") : [];
    var prop = list.filter(function (p) { return p.name === name; })[0];
    if (!value) {
      if (!prop) { return; }
      var rest = list.filter(function (p) { return p !== prop; });
      if (rest.length) { modeling.updateModdleProperties(element, props, { properties: rest }); }
      else { removeExtValue(element, props); }
      return;
    }
    if (prop) { modeling.updateModdleProperties(element, prop, { value: value }); return; }
    var ext = ensureExtensionElements(element);
    if (!props) {
      props = moddle.create("spiffworkflow:Properties", { properties: [] });
      props.$parent = ext;
      modeling.updateModdleProperties(element, ext, { values: ext.get("values").concat([props]) });
    }
    prop = moddle.create("spiffworkflow:Property", { name: name, value: value });
    prop.$parent = props;
    modeling.updateModdleProperties(element, props, { properties: props.get("properties").concat([prop]) });
  }

  function setBodyExtension(element, type, value) {
    var existing = extValues(element.businessObject, type)[0];
    if (!value) { if (existing) { removeExtValue(element, existing); } return; }
    if (existing) { svc("modeling").updateModdleProperties(element, existing, { value: value }); return; }
    var ext = ensureExtensionElements(element);
    var node = svc("moddle").create(type, { value: value });
    node.$parent = ext;
    svc("modeling").updateModdleProperties(element, ext, { values: ext.get("values").concat([node]) });
  }

  function laneOf(element) {
    var bo = element.businessObject;
    return svc("elementRegistry").filter(function (e) { return e.type === "bpmn:Lane"; }).filter(function (lane) {
      return (lane.businessObject.get("flowNodeRef") || []).indexOf(bo) >= 0;
    })[0];
  }

  function field(id, label, control, help) {
    control.id = id;
    var group = el("div", { className: "mb-2", "data-field": id }, [el("label", { className: "form-label small fw-semibold mb-0", for: id, text: label }), control]);
    if (help) { group.appendChild(el("div", { className: "form-text", text: help })); }
    return group;
  }

  function textInput(value, onChange, options) {
    options = options || {};
    var input = el(options.multiline ? "textarea" : "input", { className: "form-control form-control-sm", rows: options.multiline ? 4 : null,
                                                             list: options.list || null, readonly: options.readonly ? "readonly" : null });
    input.value = value || "";
    if (onChange) { input.addEventListener("change", function () { onChange(input.value.trim() ? (options.multiline ? input.value : input.value.trim()) : ""); }); }
    return input;
  }

  function selectInput(value, options, onChange) {
    var select = el("select", { className: "form-select form-select-sm" });
    var values = options.map(function (o) { return o.value; });
    if (value && values.indexOf(value) < 0) { options = options.concat([{ value: value, label: value + " (" + T.unknown + ")" }]); }
    options.forEach(function (o) {
      var option = el("option", { value: o.value, text: o.label });
      if (o.value === (value || "")) { option.selected = true; }
      select.appendChild(option);
    });
    select.addEventListener("change", function () { onChange(select.value); });
    return select;
  }

  function datalist(id, values) {
    var list = el("datalist", { id: id });
    values.forEach(function (v) { list.appendChild(el("option", { value: v })); });
    return list;
  }

  function renderPanel(element) {
    panelEl.innerHTML = "";
    if (!element || element.type === "label") {
      panelEl.appendChild(el("p", { className: "text-muted small", text: T.select_element }));
      return;
    }
    var bo = element.businessObject;
    var modeling = svc("modeling");
    var type = element.type;
    panelEl.appendChild(el("h2", { className: "h6", "data-testid": "panel-type", text: type.replace("bpmn:", "") }));
    panelEl.appendChild(field("prop-id", T.id, textInput(bo.id, null, { readonly: true })));
    if (type !== "bpmn:Process" && type !== "bpmn:Collaboration") {
      var nameInput = textInput(bo.name, function (v) { modeling.updateProperties(element, { name: v || undefined }); });
      panelEl.appendChild(field("prop-name", type === "bpmn:Lane" ? T.lane_name : T.name, nameInput,
                                type === "bpmn:Lane" ? T.lane_help : null));
    }
    if (type === "bpmn:Lane") {
      // Older diagrams carry the role as the lane's name; the engine still reads that.
      var role = spiffProperties(bo).role || (LANES[bo.name] ? bo.name : "");
      var roleOptions = [{ value: "", label: "" }].concat(Object.keys(LANES).map(function (code) {
        return { value: code, label: LANES[code] + " (" + code + ")" };
      }));
      panelEl.appendChild(field("prop-role", T.lane_role, selectInput(role, roleOptions, function (v) {
        setSpiffProperty(element, "role", v);
        if (v && (!bo.name || LANES[bo.name])) { modeling.updateProperties(element, { name: LANES[v] }); }
        renderPanel(element);
      })));
      return;
    }
    var lane = laneOf(element);
    var lanes = svc("elementRegistry").filter(function (e) { return e.type === "bpmn:Lane" && !(e.businessObject.childLaneSet); });
    if (type !== "bpmn:SequenceFlow" && type !== "bpmn:Participant" && type !== "bpmn:BoundaryEvent" && !element.labelTarget) {
      if (lanes.length) {
        // Lane membership follows the shape's position: choosing a lane moves the shape into it.
        var laneOptions = lanes.map(function (l) { return { value: l.id, label: l.businessObject.name || l.id }; });
        if (!lane) { laneOptions.unshift({ value: "", label: T.no_lane }); }
        panelEl.appendChild(field("prop-lane", T.lane, selectInput(lane ? lane.id : "", laneOptions, function (laneId) {
          var target = svc("elementRegistry").get(laneId);
          if (!target) { return; }
          var dy = (target.y + target.height / 2) - (element.y + element.height / 2);
          svc("modeling").moveElements([element], { x: 0, y: dy });
          renderPanel(element);
        }), T.lane_move));
      } else {
        panelEl.appendChild(field("prop-lane", T.lane, textInput(T.no_lane, null, { readonly: true })));
      }
    }
    var props = spiffProperties(bo);
    if (type === "bpmn:UserTask" || type === "bpmn:ManualTask") {
      var options = [{ value: "", label: "" }].concat(cfg.forms.map(function (f) { return { value: f.key, label: f.key + " · " + f.title }; }));
      panelEl.appendChild(field("prop-formKey", T.form, selectInput(props.formKey, options, function (v) { setSpiffProperty(element, "formKey", v); })));
    }
    var isEvent = /Event$/.test(type);
    var isTask = /Task$/.test(type) || type === "bpmn:CallActivity" || type === "bpmn:SubProcess";
    if (isTask || isEvent) {
      var shown = type === "bpmn:UserTask" || type === "bpmn:ManualTask" ? SPIFF_PROPS : ["stage"];
      shown.forEach(function (name) {
        var extra = name === "stage" ? { list: "stage-values" } : name === "flag" ? { list: "flag-values" } :
          name === "endsWith" ? { list: "task-ids" } : {};
        panelEl.appendChild(field("prop-" + name, T.props[name] || name,
                                  textInput(props[name], function (v) { setSpiffProperty(element, name, v); }, extra)));
      });
      panelEl.appendChild(datalist("stage-values", STAGES));
      panelEl.appendChild(datalist("flag-values", ["referred"]));
      panelEl.appendChild(datalist("task-ids", svc("elementRegistry").filter(function (e) { return e.type === "bpmn:UserTask"; }).map(function (e) { return e.id; })));
      Object.keys(props).filter(function (n) { return n !== "formKey" && shown.indexOf(n) < 0; }).forEach(function (n) {
        panelEl.appendChild(field("prop-other-" + n, n, textInput(props[n], function (v) { setSpiffProperty(element, n, v); })));
      });
    }
    if (isEvent) {
      var timer = (bo.get("eventDefinitions") || []).filter(function (d) { return d.$type === "bpmn:TimerEventDefinition"; })[0];
      if (timer) {
        var kind = TIMER_KINDS.filter(function (k) { return timer.get(k); })[0] || "timeDate";
        var current = timer.get(kind) ? timer.get(kind).body : "";
        var kindSelect = selectInput(kind, TIMER_KINDS.map(function (k) { return { value: k, label: T.timer_kinds[k] }; }), function () { writeTimer(); });
        var timerText = textInput(current, function () { writeTimer(); });
        var writeTimer = function () {
          var update = { timeDate: undefined, timeDuration: undefined, timeCycle: undefined };
          if (timerText.value.trim()) { update[kindSelect.value] = svc("moddle").create("bpmn:FormalExpression", { body: timerText.value.trim() }); }
          modeling.updateModdleProperties(element, timer, update);
        };
        panelEl.appendChild(field("prop-timer-kind", T.timer_kind, kindSelect));
        panelEl.appendChild(field("prop-timer", T.timer, timerText, T.timer_help));
      }
      if (type === "bpmn:BoundaryEvent") {
        var interrupting = el("input", { type: "checkbox", className: "form-check-input" });
        interrupting.checked = bo.cancelActivity !== false;
        interrupting.addEventListener("change", function () { modeling.updateProperties(element, { cancelActivity: interrupting.checked }); });
        panelEl.appendChild(field("prop-cancelActivity", T.interrupting, interrupting));
      }
    }
    if (type === "bpmn:ScriptTask") {
      panelEl.appendChild(field("prop-script", T.script, textInput(bo.script, function (v) { modeling.updateProperties(element, { script: v || undefined }); }, { multiline: true }), T.script_help));
    }
    if (type === "bpmn:BusinessRuleTask") {
      var decision = extValues(bo, "spiffworkflow:CalledDecisionId")[0];
      panelEl.appendChild(field("prop-calledDecisionId", T.decision, textInput(decision ? decision.value : "", function (v) { setBodyExtension(element, "spiffworkflow:CalledDecisionId", v); })));
    }
    if (type === "bpmn:ServiceTask") {
      var op = extValues(bo, "spiffworkflow:ServiceTaskOperator")[0];
      var opText = op ? op.id + (op.resultVariable ? " → " + op.resultVariable : "") : T.none;
      panelEl.appendChild(field("prop-operator", T.operator, textInput(opText, null, { readonly: true })));
    }
    if (isTask) {
      ["PreScript", "PostScript"].forEach(function (which) {
        var node = extValues(bo, "spiffworkflow:" + which)[0];
        panelEl.appendChild(field("prop-" + which, T[which], textInput(node ? node.value : "", function (v) { setBodyExtension(element, "spiffworkflow:" + which, v); }, { multiline: true })));
      });
    }
    if (type === "bpmn:SequenceFlow") {
      var source = element.source;
      var condition = bo.conditionExpression ? bo.conditionExpression.body : "";
      panelEl.appendChild(field("prop-condition", T.condition, textInput(condition, function (v) {
        modeling.updateProperties(element, { conditionExpression: v ? svc("moddle").create("bpmn:FormalExpression", { body: v }) : undefined });
      }, { multiline: true }), T.condition_help));
      if (source && /Gateway$/.test(source.type) && source.type !== "bpmn:ParallelGateway") {
        var isDefault = el("input", { type: "checkbox", className: "form-check-input" });
        isDefault.checked = source.businessObject.default === bo;
        isDefault.addEventListener("change", function () {
          modeling.updateProperties(source, { "default": isDefault.checked ? bo : undefined });
        });
        panelEl.appendChild(field("prop-default", T.default_flow, isDefault));
      }
    }
  }

  // --- start -----------------------------------------------------------------------------
  function bind() {
    document.querySelector("[data-action=validate]").addEventListener("click", validate);
    document.querySelector("[data-action=deploy]").addEventListener("click", deploy);
    document.querySelector("[data-action=download]").addEventListener("click", download);
    var previewButton = document.querySelector("[data-action=preview]");
    if (previewButton) { previewButton.addEventListener("click", preview); }
    document.getElementById("open-file").addEventListener("change", openLocalFile);
  }

  function start(extension) {
    if (isDmn) {
      modeler = new window.DmnJS({ container: canvasEl });
    } else {
      modeler = new window.BpmnJS({ container: canvasEl,
                                    moddleExtensions: { spiffworkflow: extension } });
      modeler.on("selection.changed", function (e) { renderPanel(e.newSelection.length === 1 ? e.newSelection[0] : null); });
      modeler.on("commandStack.changed", function () {
        var selected = modeler.get("selection").get();
        if (selected.length === 1 && !panelEl.contains(document.activeElement)) { renderPanel(selected[0]); }
      });
    }
    window.chengxinModeler = modeler;
    bind();
    return importXml(cfg.content);
  }

  if (isDmn) { start(null); }
  else { fetch(cfg.urls.spiff).then(function (r) { return r.json(); }).then(start); }
})();
