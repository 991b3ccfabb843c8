// What every drawn diagram shares (the case view, the heat map page): zoom buttons and
// keys, reading its data, and a first view a person can read.
(function () {
  "use strict";
  var READABLE = 0.9;  // the smallest scale at which the diagram's labels can be read

  var zoom = {
    "in": function (canvas) { canvas.zoom(canvas.zoom() * 1.25); },
    "out": function (canvas) { canvas.zoom(canvas.zoom() / 1.25); },
    "fit": function (canvas) { canvas.zoom("fit-viewport", "auto"); }
  };

  // The page's [data-zoom] buttons, and keys on the diagram's box: arrows move it, + and -
  // zoom, 0 fits it to the screen.
  function controls(viewer, box) {
    document.querySelectorAll("[data-zoom]").forEach(function (button) {
      button.addEventListener("click", function () { zoom[button.dataset.zoom](viewer.get("canvas")); });
    });
    box.addEventListener("keydown", function (event) {
      var canvas = viewer.get("canvas"), step = 60;
      var moves = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
      if (moves[event.key]) canvas.scroll({ dx: moves[event.key][0], dy: moves[event.key][1] });
      else if (event.key === "+" || event.key === "=") zoom["in"](canvas);
      else if (event.key === "-") zoom.out(canvas);
      else if (event.key === "0") zoom.fit(canvas);
      else return;
      event.preventDefault();
    });
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (answer) {
        if (!answer.ok) throw new Error("the server answered " + answer.status);
        return answer.json();
      });
  }

  // The whole diagram fitted to its box; when that is too small to read, the first of the
  // elements `ids` (the ones that matter) close up instead. Says whether it did that.
  function firstView(viewer, ids) {
    var canvas = viewer.get("canvas"), registry = viewer.get("elementRegistry");
    canvas.zoom("fit-viewport", "auto");
    var shown = ids.map(function (id) { return registry.get(id); })
      .filter(function (shape) { return shape && !shape.hidden; });
    if (canvas.zoom() >= READABLE || !shown.length) return false;
    canvas.zoom(READABLE);
    canvas.scrollToElement(shown[0], { top: 160, bottom: 160, left: 260, right: 260 });
    return true;
  }

  window.MashDiagram = { controls: controls, getJSON: getJSON, firstView: firstView };
})();
