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
  var READABLE = 0.9;  // the smallest scale at which the diagram's labels can be read

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

  var zoom = {
    "in": function (canvas) { canvas.zoom(canvas.zoom() * 1.25); },
    "out": function (canvas) { canvas.zoom(canvas.zoom() / 1.25); },
    "fit": function (canvas) { canvas.zoom("fit-viewport", "auto"); }
  };
  document.querySelectorAll("[data-zoom]").forEach(function (button) {
    button.addEventListener("click", function () { zoom[button.dataset.zoom](viewer.get("canvas")); });
  });
  // Keyboard: arrows move the diagram, + and - zoom, 0 fits it to the screen.
  box.addEventListener("keydown", function (event) {
    var canvas = viewer.get("canvas"), step = 60;
    var moves = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
    if (moves[event.key]) {
      canvas.scroll({ dx: moves[event.key][0], dy: moves[event.key][1] });
    } else if (event.key === "+" || event.key === "=") {
      zoom["in"](canvas);
    } else if (event.key === "-") {
      zoom.out(canvas);
    } else if (event.key === "0") {
      zoom.fit(canvas);
    } else {
      return;
    }
    event.preventDefault();
  });

  fetch(box.dataset.source, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (answer) {
      if (!answer.ok) throw new Error("the server answered " + answer.status);
      return answer.json();
    })
    .then(function (data) {
      return viewer.importXML(data.xml).then(function () {
        var canvas = viewer.get("canvas");
        canvas.zoom("fit-viewport", "auto");
        var counted = mark(data);
        var closer = "";
        // A big process drawn whole is too small to read: show where the case is now.
        var now = data.current.map(function (id) { return viewer.get("elementRegistry").get(id); })
          .filter(function (element) { return element && !element.hidden; });
        if (canvas.zoom() < READABLE && now.length) {
          canvas.zoom(READABLE);
          canvas.scrollToElement(now[0], { top: 160, bottom: 160, left: 260, right: 260 });
          closer = " Shown close up where the case is now; “Fit to screen” shows the whole process.";
        }
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
