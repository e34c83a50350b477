// The kiosk badge: the kiosk's name, whether it is online and synced, and (on plain
// HTTP) a plain note of what does not work there.
import { Widget } from '@lumino/widgets';

export interface IKioskStatus {
  name?: string;
  online?: boolean;
  sync?: { enabled?: boolean; queued?: number; last_success?: string | null };
  version?: string;
}

export const INSECURE_NOTE = 'Plain http: Python may not open files or use input(); Copy uses a fallback';
export const INSECURE_DETAIL =
  'This page is not a "secure context" (plain http on the classroom network). There is no ' +
  'service worker, so Python in the notebook may not be able to open the files you see in ' +
  'the file browser, and input() may not wait for an answer. The browser also blocks the ' +
  'clipboard: Copy selects the link for you instead. Sharing, saving to the kiosk and ' +
  'running code work.';

export function statusUrl(): string {
  return `${window.location.origin}/api/kiosk/status`;
}

/** The badge's words for a status (null: no status endpoint; 'unreachable'). */
export function describe(status: IKioskStatus | null | 'unreachable'): {
  name: string;
  state: string;
  level: 'ok' | 'warn' | 'none';
} {
  if (status === 'unreachable') {
    return { name: 'Kiosk', state: 'cannot be reached', level: 'warn' };
  }
  if (status === null) {
    return { name: 'Kiosk', state: '', level: 'none' };
  }
  const name = status.name ? `Kiosk ${status.name}` : 'Kiosk';
  // We reached the kiosk (it answered); "online" is whether the kiosk has internet.
  const parts: string[] = ['connected'];
  if (typeof status.online === 'boolean') {
    parts.push(status.online ? 'online' : 'no internet');
  }
  const sync = status.sync;
  let level: 'ok' | 'warn' = 'ok';
  if (sync && sync.enabled) {
    const queued = sync.queued ?? 0;
    if (queued > 0) {
      parts.push(`${queued} waiting to sync`);
      level = 'warn';
    } else {
      parts.push('synced');
    }
  }
  return { name, state: parts.join(' · '), level };
}

export class KioskBadge extends Widget {
  constructor(onClick?: () => void, onOpenCode?: () => void) {
    super();
    this.addClass('kiosk-Badge');
    this.node.dataset.kiosk = 'badge';
    this.node.title = 'This notebook site is served by the classroom kiosk.';
    this._name = document.createElement('span');
    this._name.className = 'kiosk-Badge-name';
    this._name.textContent = 'Kiosk';
    this._state = document.createElement('span');
    this._state.className = 'kiosk-Badge-state';
    this._state.dataset.kiosk = 'badge-state';
    this.node.append(this._name, this._state);
    const action = (label: string, kiosk: string, handler: () => void) => {
      const button = document.createElement('button');
      button.className = 'kiosk-Badge-action';
      button.dataset.kiosk = kiosk;
      button.textContent = label;
      button.addEventListener('click', handler);
      this.node.append(button);
    };
    if (onClick) {
      action('My notebooks', 'badge-my-notebooks', onClick);
    }
    if (onOpenCode) {
      action('Open a code', 'badge-open-code', onOpenCode);
    }
    if (!window.isSecureContext) {
      const note = document.createElement('span');
      note.className = 'kiosk-Badge-insecure';
      note.dataset.kiosk = 'insecure-note';
      note.textContent = INSECURE_NOTE;
      note.title = INSECURE_DETAIL;
      this.node.append(note);
    }
  }

  render(status: IKioskStatus | null | 'unreachable'): void {
    const words = describe(status);
    this._name.textContent = words.name;
    this._state.textContent = words.state;
    this._state.dataset.level = words.level;
    this.node.dataset.level = words.level;
  }

  async refresh(): Promise<void> {
    let status: IKioskStatus | null | 'unreachable';
    try {
      const response = await fetch(statusUrl(), { cache: 'no-store', credentials: 'omit' });
      if (response.ok) {
        const body = await response.json();
        status = body && typeof body === 'object' ? body : null;
      } else {
        status = null; // no status endpoint (404) or an error: just "Kiosk"
      }
    } catch {
      status = 'unreachable';
    }
    if (!this.isDisposed) {
      this.render(status);
    }
  }

  start(intervalMs = 30000): void {
    void this.refresh();
    this._timer = window.setInterval(() => void this.refresh(), intervalMs);
  }

  dispose(): void {
    if (this._timer !== undefined) {
      window.clearInterval(this._timer);
    }
    super.dispose();
  }

  private _name: HTMLSpanElement;
  private _state: HTMLSpanElement;
  private _timer: number | undefined;
}
