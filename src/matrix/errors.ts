// Matrix errors: each has its errcode, the HTTP status the spec gives it, and words
// that say what to do. Handlers throw them; the router answers `{errcode, error}`.

export class MatrixError extends Error {
  readonly status: number;
  readonly errcode: string;
  readonly extra: Readonly<Record<string, unknown>>;

  constructor(status: number, errcode: string, message: string, extra: Record<string, unknown> = {}) {
    super(message);
    this.status = status;
    this.errcode = errcode;
    this.extra = extra;
  }

  body(): Record<string, unknown> {
    return { errcode: this.errcode, error: this.message, ...this.extra };
  }
}

export const forbidden = (message: string): MatrixError => new MatrixError(403, 'M_FORBIDDEN', message);
export const notFound = (message: string): MatrixError => new MatrixError(404, 'M_NOT_FOUND', message);
export const badJson = (message: string): MatrixError => new MatrixError(400, 'M_BAD_JSON', message);
export const missingParam = (message: string): MatrixError => new MatrixError(400, 'M_MISSING_PARAM', message);
export const invalidParam = (message: string): MatrixError => new MatrixError(400, 'M_INVALID_PARAM', message);
export const unrecognized = (method: string, path: string): MatrixError =>
  new MatrixError(404, 'M_UNRECOGNIZED', `${method} ${path} is not an endpoint this server knows (see /_matrix/client/versions)`);
export const unknownToken = (): MatrixError =>
  new MatrixError(401, 'M_UNKNOWN_TOKEN', 'the access token is not known here (logged out, or never issued): log in again', { soft_logout: false });
export const missingToken = (): MatrixError =>
  new MatrixError(401, 'M_MISSING_TOKEN', 'this endpoint needs an access token: send "Authorization: Bearer TOKEN" or ?access_token=TOKEN');
export const limitExceeded = (retryAfterMs: number): MatrixError =>
  new MatrixError(429, 'M_LIMIT_EXCEEDED', `too many requests: retry in ${retryAfterMs} ms`, { retry_after_ms: retryAfterMs });
export const tooLarge = (limit: number): MatrixError =>
  new MatrixError(413, 'M_TOO_LARGE', `the event is larger than the limit of ${limit} bytes`);
