// Requires an API key on every route mounted after it (CONTRACT section 6): `Authorization: Bearer`,
// `X-API-Key`, or, for browsers on the dashboard, HTTP Basic with the key as the password. The
// principal lands in res.locals for the routes' task-type scope checks and the rate limiter.
import { ApiError } from '@taskengine/core';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ANONYMOUS, type ApiKeyring, type Principal } from '../auth/api-keys.js';

export function presentedKey(req: Request): string | undefined {
  const header = req.get('authorization');
  if (header) {
    const [scheme, value = ''] = header.split(/\s+/, 2);
    if (scheme?.toLowerCase() === 'bearer') return value;
    if (scheme?.toLowerCase() === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      return decoded.slice(decoded.indexOf(':') + 1);
    }
  }
  return req.get('x-api-key') ?? undefined;
}

export interface AuthenticateOptions {
  /** Ask browsers for Basic credentials (the dashboard) instead of a bearer token. */
  browser?: boolean;
}

export function authenticate(keyring: ApiKeyring, { browser = false }: AuthenticateOptions = {}): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (keyring.open) {
      res.locals.principal = ANONYMOUS;
      return next();
    }
    const key = presentedKey(req);
    const principal = key ? keyring.authenticate(key) : null;
    if (!principal) {
      res.set('WWW-Authenticate', browser ? 'Basic realm="TaskEngine", charset="UTF-8"' : 'Bearer realm="TaskEngine"');
      return next(new ApiError(401, 'unauthorized', key ? 'the API key is not valid' : 'an API key is required (Authorization: Bearer <key> or X-API-Key)'));
    }
    res.locals.principal = principal;
    next();
  };
}

export const principalOf = (res: Response): Principal => (res.locals.principal as Principal | undefined) ?? ANONYMOUS;

/** The dashboard shows every type's queue, so only keys scoped to no task types may open it. */
export const requireFullAccess: RequestHandler = (_req, res, next) => {
  if (principalOf(res).taskTypes) return next(new ApiError(403, 'forbidden', 'the dashboard needs a key that is not scoped to task types'));
  next();
};
