// Starts Swagger UI on /docs. A file rather than an inline script: the page's Content-Security-
// Policy (the dashboard's) runs only scripts served by dtq itself.
"use strict";
(() => {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    // Relative to the page, so the document is found behind any path prefix in front of the API.
    url: new URL(root.dataset.openapi, document.baseURI).href,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    // No badge from validator.swagger.io: the page talks to no one but this API.
    validatorUrl: null,
  });
})();
