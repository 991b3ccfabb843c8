// Starts Swagger UI on /docs from the vendored bundle (no inline script: the page's
// Content-Security-Policy allows only this site's own scripts). The validator badge is
// off: it would send the API description to an outside service.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    validatorUrl: null,
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
