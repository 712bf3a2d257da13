/**
 * Errors a handler throws to answer with a status and a plain-text body (consul-compat.md §0:
 * 400 bad input, 404, 405, 413, 500 with the error text). The server's error handler turns
 * these, Herald's own coded errors and fastify's framework errors into those answers.
 */
import { ERR, HeraldError, type ErrorCode } from '../../src/plugin.ts';
import { FilterError } from './filter.ts';

/** An HTTP answer carried as an exception: `status`, the body text (`message`), extra headers. */
export class HttpError extends HeraldError {
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(status: number, code: ErrorCode, message: string, headers: Record<string, string> = {}) {
    super(code, message);
    this.name = 'HttpError';
    this.status = status;
    this.headers = headers;
  }
}

/** 400 with Consul's (or Herald's) wording of what is wrong with the request. */
export function badRequest(message: string): HttpError {
  return new HttpError(400, ERR.HTTP_API_BAD_REQUEST, message);
}

/** 404 with a reason (an empty string gives Consul's empty 404 body). */
export function notFound(message: string): HttpError {
  return new HttpError(404, ERR.HTTP_API_NOT_FOUND, message);
}

/** Consul's answer to a `?dc=` (or body Datacenter) it has no route to: 500 `No path to datacenter`. */
export function noPathToDatacenter(): HttpError {
  return new HttpError(500, ERR.HTTP_API_NO_PATH_TO_DC, 'No path to datacenter');
}

/** The stable code for an answer with `status` (HttpToolkit.error). */
export function errorCodeFor(status: number): ErrorCode {
  switch (status) {
    case 400:
      return ERR.HTTP_API_BAD_REQUEST;
    case 404:
      return ERR.HTTP_API_NOT_FOUND;
    case 405:
      return ERR.HTTP_API_METHOD_NOT_ALLOWED;
    case 413:
      return ERR.HTTP_API_BODY_TOO_LARGE;
    default:
      return ERR.HTTP_API_ERROR;
  }
}

/** Codes of errors that mean "the request is wrong", not "the agent failed": answered 400. */
const CLIENT_CODES: ReadonlySet<string> = new Set([
  ERR.CONFIG_INVALID,
  ERR.CONFIG_PARSE,
  ERR.CHECK_INVALID,
  ERR.SCRIPT_CHECKS_DISABLED,
  ERR.DURATION_INVALID,
  ERR.COMMAND_INVALID,
  ERR.SERVICE_UNKNOWN,
  ERR.HTTP_API_FILTER,
  ERR.HTTP_API_BAD_REQUEST,
]);

/** Status and body for any error a route may raise: client mistakes 4xx, everything else 500. */
export function errorAnswer(err: unknown): { status: number; text: string; headers: Record<string, string> } {
  if (err instanceof HttpError) return { status: err.status, text: err.message, headers: err.headers };
  if (err instanceof FilterError) return { status: 400, text: err.message, headers: {} };
  if (err instanceof HeraldError) return { status: CLIENT_CODES.has(err.code) ? 400 : 500, text: err.message, headers: {} };
  return { status: 500, text: err instanceof Error ? err.message : String(err), headers: {} };
}
