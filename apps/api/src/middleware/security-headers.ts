// Security headers (helmet). The JSON API gets helmet's strict defaults; the pages (the dashboard's
// bull-board and /docs' Swagger UI) run their own scripts and styles, so their Content-Security-Policy
// allows them from this origin.
import type { Config } from '@taskengine/core';
import type { RequestHandler } from 'express';
import helmet from 'helmet';

export function securityHeaders(config: Config): RequestHandler {
  const strict = helmet();
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
  return (req, res, next) => (pagePrefixes.some((prefix) => req.path === prefix || req.path.startsWith(`${prefix}/`)) ? forPages : strict)(req, res, next);
}
