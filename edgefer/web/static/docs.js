"use strict";
// Swagger UI over this server's OpenAPI schema, every asset from this server.
window.addEventListener("load", () => {
  window.ui = SwaggerUIBundle({ url: "openapi.json", dom_id: "#swagger-ui", deepLinking: true,
                                 presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout" });
});
