// What this browser keeps: "My notebooks" (what it has shared, in localStorage), the
// one way to reach localStorage, and the site's share links.
import { PageConfig } from '@jupyterlab/coreutils';

const LIST_KEY = 'kiosk-share:notebooks';

export interface IMyNotebook {
  id: string;
  readableId: string | null;
  name: string;
  path: string;
  lastShared: string;
}

/** The code students type or read out: the readable id, else the uuid. */
export function shareCode(entry: { id: string; readableId: string | null }): string {
  return entry.readableId || entry.id;
}

/** The site root (where lab/ and notebooks/ live), as an absolute URL ending in '/'. */
export function siteRoot(): string {
  let base = '';
  try {
    base = PageConfig.getBaseUrl();
  } catch {
    base = '';
  }
  const root = new URL(base || '/', window.location.href);
  let href = root.href.split('?')[0].split('#')[0];
  if (!href.endsWith('/')) {
    href += '/';
  }
  return href;
}

/** `<origin>/lab/index.html?notebook=<readable id or uuid>` (the JE link format). */
export function shareLink(entry: { id: string; readableId: string | null }): string {
  return `${siteRoot()}lab/index.html?notebook=${encodeURIComponent(shareCode(entry))}`;
}

/**
 * This browser's localStorage, or null where reading it throws (storage disabled, some
 * private windows): every caller treats what it keeps there as a convenience.
 */
export function browserStorage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

export function listMine(): IMyNotebook[] {
  const raw = browserStorage()?.getItem(LIST_KEY);
  if (!raw) {
    return [];
  }
  try {
    const value = JSON.parse(raw);
    return Array.isArray(value) ? value.filter((v) => v && typeof v.id === 'string') : [];
  } catch {
    return [];
  }
}

/** Add or update an entry (by id); newest first. */
export function rememberMine(entry: IMyNotebook): void {
  const list = listMine().filter((e) => e.id !== entry.id);
  list.unshift(entry);
  try {
    browserStorage()?.setItem(LIST_KEY, JSON.stringify(list.slice(0, 200)));
  } catch {
    // Storage full or disabled: the list is a convenience, sharing still worked.
  }
}

export function forgetMine(id: string): void {
  const list = listMine().filter((e) => e.id !== id);
  browserStorage()?.setItem(LIST_KEY, JSON.stringify(list));
}
