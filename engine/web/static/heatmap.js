// The heat map on a diagram: each step labelled with how many passed it and the median and
// 90th percentile of the time spent there; the steps that hold contacts longest outlined
// thick, then dashed, then thin (shape and words, not colour alone). Used by the process
// page, the case view ("Show where contacts wait") and the simulation's HTML report.
(function () {
  "use strict";

  function hoursText(value) {
    if (value === null || value === undefined) return "—";
    if (value < 1) return Math.round(value * 60) + " min";
    return (Math.round(value * 10) / 10) + " h";
  }

  function levels(elements) {
    var timed = elements.filter(function (e) { return e.passed && e.p90_hours !== null && e.kind !== "automatic"; })
      .sort(function (a, b) { return b.p90_hours - a.p90_hours; });
    var found = {};
    timed.forEach(function (e, i) {
      found[e.element_id] = i < Math.ceil(timed.length / 3) ? 3 : i < Math.ceil(2 * timed.length / 3) ? 2 : 1;
    });
    return found;
  }

  function badge(element, level) {
    var span = document.createElement("span");
    span.className = "heat-badge heat-badge-" + (level || 0);
    var text = element.passed + " passed";
    if (element.kind !== "automatic" && element.p90_hours !== null) {
      text += " · median " + hoursText(element.median_hours) + " · 90% within " + hoursText(element.p90_hours);
      if (level === 3) text += " (longest)";
    }
    span.textContent = text;
    span.title = (element.name || element.element_id) + ": " + text +
      (element.basis === "working" ? " (Hub working hours)" : element.basis === "elapsed" ? " (elapsed hours)" : "");
    return span;
  }

  // Mark a drawn diagram; returns how many steps were labelled.
  function mark(viewer, elements) {
    var registry = viewer.get("elementRegistry"), canvas = viewer.get("canvas"), overlays = viewer.get("overlays");
    overlays.remove({ type: "mash-heat" });
    var level = levels(elements), count = 0;
    elements.forEach(function (e) {
      if (!e.passed) return;
      var shape = registry.get(e.element_id);
      if (!shape || shape.type === "label") return;
      if (level[e.element_id]) canvas.addMarker(e.element_id, "mash-heat-" + level[e.element_id]);
      overlays.add(e.element_id, "mash-heat", { position: { bottom: 4, left: 0 }, html: badge(e, level[e.element_id]) });
      count += 1;
    });
    return count;
  }

  window.MashHeat = { mark: mark, hoursText: hoursText };

  // A page of its own: draw the diagram from data-source (or inline data) and mark it.
  var box = document.getElementById("diagram");
  var status = document.getElementById("diagram-status");
  function say(text) { if (status) status.textContent = text; }
  if (box && box.dataset.heatmap === "page" && window.BpmnJS) {
    var viewer = new window.BpmnJS({ container: box });
    window.MashDiagram.controls(viewer, box);
    var inline = document.getElementById("heat-data");
    var load = inline ? Promise.resolve(JSON.parse(inline.textContent)) :
      window.MashDiagram.getJSON(box.dataset.source);
    load.then(function (data) {
      return viewer.importXML(data.xml).then(function () {
        var count = mark(viewer, data.elements);
        // A big process drawn whole is too small to read: show the longest wait close up.
        var longest = data.elements.filter(function (e) { return e.passed && e.kind !== "automatic" && e.p90_hours !== null; })
          .map(function (e) { return e.element_id; });
        var closer = window.MashDiagram.firstView(viewer, longest) ?
          " Shown close up at the longest wait; “Fit to screen” shows the whole process." : "";
        box.dataset.ready = "true";
        say("Diagram drawn: " + count + " steps labelled with how many passed and how long they took." + closer +
            " Use the arrow keys to move it, + and − to zoom.");
      });
    }).catch(function (error) {
      box.dataset.ready = "error";
      say("The diagram could not be drawn (" + error.message + "); the figures are in the table below.");
    });
  }

  // The case view: a button that adds the heat map to the case's diagram.
  var button = document.getElementById("show-heat");
  if (button) {
    button.addEventListener("click", function () {
      var viewer = window.mashCaseViewer, note = document.getElementById("heat-status");
      if (!viewer) return;
      button.setAttribute("aria-disabled", "true");
      window.MashDiagram.getJSON(button.dataset.source)
        .then(function (data) {
          var count = mark(viewer, data.elements);
          document.getElementById("diagram").dataset.heat = "true";
          if (note) note.textContent = "Heat map added: " + count + " steps labelled with how many contacts passed them in the last " +
            data.period.days + " days and how long they took.";
        })
        .catch(function (error) {
          if (note) note.textContent = "The heat map could not be added (" + error.message + ").";
        })
        .then(function () { button.removeAttribute("aria-disabled"); });
    });
  }
})();
