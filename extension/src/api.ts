// A small client of the sharing API (the Jupyter Everywhere API, served by the kiosk
// at /api/v1 on the same origin). Plain fetch, no cookies; works on plain HTTP.
import { PageConfig } from '@jupyterlab/coreutils';

import { trans } from './i18n';
import { MAX_OPEN_BYTES, notebookProblem } from './notebookcheck';
import { browserStorage } from './store';

const TOKEN_KEY = 'kiosk-share:token';
const NOT_JSON = 'the answer is not JSON';

/** What went wrong, in categories the UI turns into plain words. */
export type ShareErrorKind =
  | 'too-large' // 413
  | 'unreachable' // network error: the kiosk cannot be reached
  | 'not-found' // 404 on GET
  | 'forbidden' // 403: this browser does not own the notebook
  | 'full' // 507: the kiosk's disk is full
  | 'busy' // 429: too many requests
  | 'invalid' // 400/422: the kiosk refused the notebook as invalid
  | 'damaged' // a shared notebook that cannot be read (cut off, not a notebook)
  | 'too-big-to-open' // a shared notebook too large to open on this device
  | 'server'; // anything else

export class ShareError extends Error {
  constructor(
    readonly kind: ShareErrorKind,
    readonly status: number,
    message?: string
  ) {
    super(message || `${kind} (${status})`);
    this.name = 'ShareError';
  }
}

export interface IShareResult {
  id: string;
  readable_id: string | null;
  domain_id: string;
}

export interface ISharedNotebook extends IShareResult {
  content: any;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID_RE.test(value);
}

/** Trim what students paste: whitespace and a trailing ".ipynb" (as JE does). */
export function cleanId(value: string): string {
  return value.trim().replace(/\.ipynb$/i, '');
}

/** The API's base URL, ending without a slash. */
export function apiBaseUrl(): string {
  let url = '';
  try {
    url = PageConfig.getOption('sharing_service_api_url');
  } catch {
    url = '';
  }
  if (!url) {
    url = `${window.location.origin}/api/v1`;
  }
  return url.replace(/\/+$/, '');
}

function statusKind(status: number): ShareErrorKind {
  switch (status) {
    case 413:
      return 'too-large';
    case 404:
      return 'not-found';
    case 403:
      return 'forbidden';
    case 507:
      return 'full';
    case 429:
      return 'busy';
    case 400:
    case 422:
      return 'invalid';
    default:
      return 'server';
  }
}

/** Where the name a student typed in the Share dialog is remembered (this browser only). */
export const STUDENT_NAME_KEY = 'kiosk-share:student-name';
/** The kiosk-only request header carrying that name (JE clients never send it). */
export const STUDENT_NAME_HEADER = 'X-Kiosk-Student-Name';
/** Characters of a name kept at most (the kiosk refuses more). */
export const STUDENT_NAME_MAX = 60;

/** The name this student typed in the Share dialog, or '' (none). */
export function studentName(): string {
  return (browserStorage()?.getItem(STUDENT_NAME_KEY) || '').trim();
}

/** Whether `url` is on the origin that served this page (the kiosk itself). */
function sameOrigin(url: string): boolean {
  try {
    return new URL(url, window.location.href).origin === window.location.origin;
  } catch {
    return false;
  }
}

/** Remember (or, when empty, forget) the student's name in this browser. */
export function rememberStudentName(name: string): void {
  const clean = Array.from(
    name
      .replace(/[\p{C}]/gu, '')
      .replace(/\s+/g, ' ')
      .trim()
  )
    .slice(0, STUDENT_NAME_MAX)
    .join('');
  if (clean) {
    browserStorage()?.setItem(STUDENT_NAME_KEY, clean);
  } else {
    browserStorage()?.removeItem(STUDENT_NAME_KEY);
  }
}

export class SharingClient {
  constructor(base?: string) {
    this._base = base || apiBaseUrl();
    this._token = browserStorage()?.getItem(TOKEN_KEY) || null;
  }

  get baseUrl(): string {
    return this._base;
  }

  /** Whether this browser holds a token (i.e. a sharing session). */
  get hasToken(): boolean {
    return this._token !== null;
  }

  async create(notebook: any): Promise<IShareResult> {
    const body = await this._call('POST', 'notebooks', { notebook });
    return checkResult(body?.notebook);
  }

  async update(id: string, notebook: any): Promise<IShareResult> {
    const body = await this._call('PUT', `notebooks/${encodeURIComponent(id)}`, notebook);
    // The JE service answers {message, notebook: {...}}; accept a bare object too.
    return checkResult(body?.notebook ?? body);
  }

  async get(idOrReadable: string): Promise<ISharedNotebook> {
    const id = cleanId(idOrReadable);
    const path = isUuid(id)
      ? `notebooks/${encodeURIComponent(id)}`
      : `notebooks/get-by-readable-id/${encodeURIComponent(id)}`;
    let body: any;
    try {
      body = await this._call('GET', path, undefined, MAX_OPEN_BYTES);
    } catch (err) {
      if (err instanceof ShareError && err.message === NOT_JSON) {
        throw new ShareError('damaged', err.status, err.message);
      }
      throw err;
    }
    const result = checkResult(body) as ISharedNotebook;
    if (!body || notebookProblem(body.content)) {
      throw new ShareError('damaged', 200, 'the kiosk answered without a readable notebook');
    }
    result.content = body.content;
    return result;
  }

  private async _issue(): Promise<string> {
    const body = await this._fetch('POST', 'auth/issue', undefined, false);
    if (!body || typeof body.token !== 'string') {
      throw new ShareError('server', 200, 'no token in the answer');
    }
    this._token = body.token as string;
    browserStorage()?.setItem(TOKEN_KEY, this._token);
    return this._token;
  }

  private async _call(
    method: string,
    path: string,
    body?: unknown,
    maxBytes?: number
  ): Promise<any> {
    if (this._token === null) {
      await this._issue();
    }
    try {
      return await this._fetch(method, path, body, true, maxBytes);
    } catch (err) {
      if (err instanceof ShareError && err.status === 401) {
        // Expired or unknown token (e.g. another kiosk): get a new one, retry once.
        await this._issue();
        return await this._fetch(method, path, body, true, maxBytes);
      }
      throw err;
    }
  }

  private async _fetch(
    method: string,
    path: string,
    body: unknown,
    auth: boolean,
    maxBytes?: number
  ): Promise<any> {
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (auth && this._token) {
      headers['Authorization'] = `Bearer ${this._token}`;
    }
    // Only to the kiosk that served this page: a JE service elsewhere would refuse the
    // unknown header in its CORS preflight, and the name is for the kiosk only.
    const student = sameOrigin(this._base) ? studentName() : '';
    if (auth && student && (method === 'POST' || method === 'PUT')) {
      headers[STUDENT_NAME_HEADER] = encodeURIComponent(student);
    }
    let response: Response;
    try {
      response = await fetch(`${this._base}/${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'omit',
        cache: 'no-store'
      });
    } catch (err) {
      throw new ShareError('unreachable', 0, String(err));
    }
    if (response.status === 401) {
      throw new ShareError('server', 401, 'unauthorized');
    }
    if (!response.ok) {
      throw new ShareError(statusKind(response.status), response.status);
    }
    if (maxBytes !== undefined && Number(response.headers.get('Content-Length') || 0) > maxBytes) {
      throw new ShareError('too-big-to-open', response.status);
    }
    let text: string;
    try {
      text = await response.text();
    } catch {
      throw new ShareError('unreachable', response.status, 'the answer was cut off');
    }
    if (maxBytes !== undefined && text.length > maxBytes) {
      throw new ShareError('too-big-to-open', response.status);
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new ShareError('server', response.status, NOT_JSON);
    }
  }

  private _base: string;
  private _token: string | null;
}

function checkResult(value: any): IShareResult {
  if (!value || typeof value.id !== 'string' || !isUuid(value.id)) {
    throw new ShareError('server', 200, 'the kiosk answered without a notebook id');
  }
  return {
    id: value.id,
    readable_id: typeof value.readable_id === 'string' ? value.readable_id : null,
    domain_id: typeof value.domain_id === 'string' ? value.domain_id : ''
  };
}

/** Words a 13-year-old understands. */
export function explain(err: unknown): string {
  const kind: ShareErrorKind = err instanceof ShareError ? err.kind : 'server';
  switch (kind) {
    case 'too-large':
      return trans.__(
        'This notebook is too large to share. Big pictures or long outputs make it large: try "Edit → Clear Outputs of All Cells", then share again.'
      );
    case 'unreachable':
      return trans.__(
        'The kiosk cannot be reached. Check that you are still on the classroom Wi-Fi, then try again.'
      );
    case 'not-found':
      return trans.__('There is no shared notebook with that code. Check the code and try again.');
    case 'full':
      return trans.__('The kiosk is full and cannot keep new notebooks. Please tell your teacher.');
    case 'busy':
      return trans.__('The kiosk is very busy right now. Wait a few seconds and try again.');
    case 'invalid':
      return trans.__(
        'The kiosk could not read this notebook, so it was not shared. Try again; if it keeps happening, tell your teacher.'
      );
    case 'damaged':
      return trans.__(
        'This shared notebook is damaged and cannot be opened; ask whoever shared it to share it again.'
      );
    case 'too-big-to-open':
      return trans.__(
        'This shared notebook is too big to open on this device; ask whoever shared it to clear its outputs and share it again.'
      );
    case 'forbidden':
      return trans.__('This browser is not allowed to change that shared notebook.');
    default:
      return trans.__('Something went wrong. Please try again in a moment.');
  }
}

/** Where a share lives upstream (GET /api/kiosk/shares/<id>/upstream on the kiosk). */
export interface IUpstreamInfo {
  /** Whether this kiosk forwards shares to an upstream at all. */
  syncEnabled: boolean;
  /** Whether the share (or a newer version of it) waits to be sent upstream. */
  queued: boolean;
  /** Whether the share has reached the upstream (then `url` is its take-home link). */
  synced: boolean;
  url: string | null;
  /** Whether the upstream holds the latest version (false: a newer one is waiting). */
  upToDate: boolean;
  /**
   * Why the upstream refused this share for good (the kiosk's words, e.g. "too large for
   * the cloud service: clear outputs and share again"), or null. It stays refused until
   * the share changes.
   */
  refused: string | null;
}

/** The kiosk's own endpoints live beside /api/v1 (same origin as the sharing API). */
export function kioskApiUrl(path: string): string {
  const base = apiBaseUrl();
  const origin = base.endsWith('/api/v1')
    ? base.slice(0, -'/api/v1'.length)
    : window.location.origin;
  return `${origin}/api/kiosk/${path}`;
}

/**
 * The take-home state of a share; null when the kiosk cannot say (no such endpoint,
 * an unknown share, the kiosk unreachable): the dialog then shows nothing about it.
 */
export async function fetchUpstream(id: string): Promise<IUpstreamInfo | null> {
  let response: Response;
  try {
    response = await fetch(kioskApiUrl(`shares/${encodeURIComponent(id)}/upstream`), {
      cache: 'no-store',
      credentials: 'omit'
    });
  } catch {
    return null;
  }
  if (!response.ok) {
    return null;
  }
  let body: any;
  try {
    body = await response.json();
  } catch {
    return null;
  }
  if (!body || typeof body !== 'object') {
    return null;
  }
  const synced =
    body.synced === true && typeof body.url === 'string' && /^https?:\/\//.test(body.url);
  return {
    syncEnabled: body.sync_enabled === true,
    queued: body.queued === true,
    synced,
    url: synced ? body.url : null,
    upToDate: body.up_to_date !== false,
    refused:
      body.state === 'refused'
        ? (typeof body.reason === 'string' && body.reason.trim()) || ''
        : null
  };
}

/**
 * Why the cloud service refused a share, in the student's language. The kiosk gives its
 * reason in English (kiosk/sync/upstream.py, REFUSALS and PERSISTENT_ERROR); the catalogs
 * carry those sentences too (tests/test_extension_i18n.py checks it), so the lookup finds
 * them. An unknown or empty reason gets a general sentence.
 */
export function refusalWords(reason: string): string {
  if (!reason) {
    return trans.__('the cloud service did not accept this notebook');
  }
  // A run-time message id: the catalogs hold the kiosk's reasons (see above).
  return trans.__(reason);
}
