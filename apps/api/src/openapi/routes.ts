// GET /openapi.json and the /docs page (open, CONTRACT section 6). The page is Swagger UI from the
// swagger-ui-dist package, served from this server: it works offline, loads nothing from other hosts,
// and runs under the Content-Security-Policy security-headers.ts gives /docs (no inline script).
import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import express, { Router, type RequestHandler } from 'express';
import { notFound } from '../middleware/errors.js';
import type { OpenApiDocument } from './document.js';

const SWAGGER_UI_DIR = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
/** The package's files the page uses; its index.html and initializer (which point at a demo API) are not served. */
const SWAGGER_UI_FILES = new Set(['/swagger-ui.css', '/swagger-ui-bundle.js', '/favicon-32x32.png', '/favicon-16x16.png']);

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>TaskEngine API</title>
  <link rel="icon" type="image/png" sizes="32x32" href="/docs/assets/favicon-32x32.png">
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <noscript>This page needs JavaScript. The document itself is at <a href="/openapi.json">/openapi.json</a>.</noscript>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/init.js"></script>
</body>
</html>
`;

// validatorUrl: null keeps Swagger UI from sending the document to its public validator.
const INIT = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
`;

const onlyPageFiles: RequestHandler = (req, res, next) => (SWAGGER_UI_FILES.has(req.path) ? next() : notFound(req, res, next));

export function openApiRoutes(document: OpenApiDocument): Router {
  const router = Router();
  const json = JSON.stringify(document);
  router.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(json);
  });
  router.get('/docs', (_req, res) => {
    res.type('html').send(PAGE);
  });
  router.get('/docs/assets/init.js', (_req, res) => {
    res.type('text/javascript').send(INIT);
  });
  // Answered here, not by the 404 after authentication: a missing asset is a 404 with or without a key.
  router.use('/docs/assets', onlyPageFiles, express.static(SWAGGER_UI_DIR, { index: false }), notFound);
  return router;
}
