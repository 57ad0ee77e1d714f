// Starts Swagger UI (served from the installed swagger-ui-bundle package) on /openapi.json.
// A file of its own, not an inline script, so the page keeps its strict CSP.
window.addEventListener("load", function () {
  var node = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: node.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
  });
});
