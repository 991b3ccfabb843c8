// The case view's diagram: drawn by the vendored bpmn-js NavigatedViewer, with the current
// position ("Now", thick dashed outline) and the path taken ("Done", solid outline and a
// tick) marked by shape and text as well as colour. The same facts are on the page in words.
(function () {
  "use strict";
  var box = document.getElementById("diagram");
  var status = document.getElementById("diagram-status");
  if (!box) return;
  function say(text) { if (status) status.textContent = text; }
  if (!window.BpmnJS || !window.fetch) {
    say("The diagram cannot be drawn in this browser; the case is described in words below.");
    return;
  }
  var viewer = new window.BpmnJS({ container: box });
  window.mashCaseViewer = viewer;  // for heatmap.js: "Show where contacts wait"

  function badge(text, kind) {
    var span = document.createElement("span");
    span.className = "diagram-badge diagram-badge-" + kind;
    span.textContent = text;
    return span;
  }

  function mark(data) {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    var overlays = viewer.get("overlays");
    var current = new Set(data.current);
    var done = new Set(data.path.filter(function (id) { return !current.has(id); }));
    var flows = new Set(data.flows);
    // An element inside a collapsed sub-process is drawn on the sub-process's own plane:
    // mark the collapsed shape on the plane shown too.
    function collapsedAround(id) {
      var element = registry.get(id), shapes = [];
      var bo = element && element.businessObject && element.businessObject.$parent;
      while (bo) {
        var shape = registry.get(bo.id);
        if (shape && shape.collapsed) shapes.push(shape.id);
        bo = bo.$parent;
      }
      return shapes;
    }
    data.current.forEach(function (id) { collapsedAround(id).forEach(function (s) { current.add(s); }); });
    data.path.forEach(function (id) {
      collapsedAround(id).forEach(function (s) { if (!current.has(s)) done.add(s); });
    });
    registry.forEach(function (element) {
      if (element.type === "bpmn:SequenceFlow") {
        var bo = element.businessObject;
        var source = bo.sourceRef && bo.sourceRef.id, target = bo.targetRef && bo.targetRef.id;
        if (flows.has(element.id) || (data.path.indexOf(source) >= 0 && current.has(target))) {
          canvas.addMarker(element.id, "mash-taken");
        }
        return;
      }
      if (element.labelTarget || element.type === "label") return;
      // An expanded sub-process is an area: outlined, not filled, so what is inside shows.
      var area = element.type === "bpmn:SubProcess" && !element.collapsed ? "-area" : "";
      if (current.has(element.id)) {
        canvas.addMarker(element.id, "mash-current" + area);
        overlays.add(element.id, "mash", { position: { top: -14, left: -8 }, html: badge("Now", "now") });
      } else if (done.has(element.id)) {
        canvas.addMarker(element.id, "mash-done" + area);
        overlays.add(element.id, "mash", { position: { top: -10, right: 10 }, html: badge("✓", "done") });
      }
    });
    return { current: current.size, done: done.size };
  }

  window.MashDiagram.controls(viewer, box);

  window.MashDiagram.getJSON(box.dataset.source)
    .then(function (data) {
      return viewer.importXML(data.xml).then(function () {
        var counted = mark(data);
        // A big process drawn whole is too small to read: show where the case is now.
        var closer = window.MashDiagram.firstView(viewer, data.current) ?
          " Shown close up where the case is now; “Fit to screen” shows the whole process." : "";
        box.dataset.ready = "true";
        say("Diagram drawn: " + counted.current + " open " + (counted.current === 1 ? "step" : "steps") +
            " marked “Now”, " + counted.done + " done." + closer +
            " Use the arrow keys to move it, + and − to zoom.");
      });
    })
    .catch(function (error) {
      box.dataset.ready = "error";
      say("The diagram could not be drawn (" + error.message + "); the case is described in words below.");
    });
})();
