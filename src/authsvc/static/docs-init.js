// Starts Swagger UI; kept out of the HTML so the page's Content-Security-Policy can forbid inline script.
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: false,
    // BaseLayout: no top bar, whose logo is an SVG with an inline <style> the page's CSP refuses,
    // and whose "Explore" box would only load other documents.
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
