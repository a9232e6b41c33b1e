// Security headers. The pages (the dashboard's bull-board and /docs' Swagger UI) get helmet's full set,
// with a Content-Security-Policy that lets their own scripts and styles run from this origin. JSON
// answers get the headers that matter for JSON, set in one pass: helmet's thirteen middlewares per
// request cost the API ~8% of its throughput on POST /tasks, mostly for headers only HTML pages use.
import type { Config } from '@taskengine/core';
import type { RequestHandler } from 'express';
import helmet from 'helmet';

/** For JSON: never sniffed as HTML, never framed or loading anything, no referrer, HTTPS remembered. */
const JSON_HEADERS: ReadonlyArray<[string, string]> = [
  ['X-Content-Type-Options', 'nosniff'],
  ['Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'"],
  ['X-Frame-Options', 'DENY'],
  ['Cross-Origin-Resource-Policy', 'same-origin'],
  ['Referrer-Policy', 'no-referrer'],
  ['Strict-Transport-Security', 'max-age=31536000; includeSubDomains'],
];

export function securityHeaders(config: Config): RequestHandler {
  const forPages = helmet({
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'", "'unsafe-inline'"],
        styleSrc: ["'self'", "'unsafe-inline'", 'https:'],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'", 'https:', 'data:'],
        upgradeInsecureRequests: null,
      },
    },
  });
  const pagePrefixes = [config.dashboard.path, '/docs'];
  const isPage = (path: string): boolean => pagePrefixes.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));
  return (req, res, next) => {
    if (isPage(req.path)) return forPages(req, res, next);
    for (const [name, value] of JSON_HEADERS) res.setHeader(name, value);
    next();
  };
}
