// Starts Swagger UI on the API docs page (/api/1/). A file rather than an inline
// script, so that a Content-Security-Policy without 'unsafe-inline' still allows it.
window.onload = function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    // The default validator badge is fetched from an internet service: the page must
    // work with no internet, so it is off.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
};
