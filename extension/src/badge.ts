// The kiosk badge: the kiosk's name, whether it is online and synced, and (on plain
// HTTP) a plain note of what does not work there.
import { Widget } from '@lumino/widgets';

import { textDirection, trans } from './i18n';

export interface IKioskStatus {
  name?: string;
  online?: boolean;
  sync?: { enabled?: boolean; queued?: number; last_success?: string | null };
  version?: string;
}

// Shown only when Python really cannot reach the notebook's files or wait for input():
// a plain-http page with neither a service worker nor the kiosk's relay.
export function insecureNote(): string {
  return trans.__('Python cannot open your files or use input() on this address');
}
export function insecureDetail(): string {
  return trans.__(
    "Your notebooks still run, save and share. To open files from Python or answer input(), ask your teacher for the kiosk's usual address."
  );
}

/** Whether Python in this page can reach the notebook's files and input(). */
export function filesAndInputWork(): boolean {
  if (window.isSecureContext) {
    return true;
  }
  const container = navigator.serviceWorker as unknown as { kioskRelay?: boolean } | undefined;
  return !!(container && container.kioskRelay) || !!(window as any).kioskRelayFallback;
}

/** The kiosk's name as students read it: "Kiosk <name>", without saying kiosk twice. */
export function displayName(name: string | undefined): string {
  const clean = (name || '').trim();
  if (!clean) {
    return trans.__('Kiosk');
  }
  // Not twice, in English or in the student's language ("Kiosque salle 12").
  const word = trans.__('Kiosk');
  return /kiosk/i.test(clean) || clean.toLowerCase().includes(word.toLowerCase())
    ? clean
    : trans.__('Kiosk %1', clean);
}

/** One entry of the badge's menu (a compact menu on phones, buttons on wider screens). */
export interface IBadgeAction {
  label: string;
  kiosk: string;
  handler: () => void;
  /** Shown in the compact menu only (wider screens have it elsewhere, e.g. Share in the toolbar). */
  menuOnly?: boolean;
}

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
    return { name: trans.__('Kiosk'), state: trans.__('cannot be reached'), level: 'warn' };
  }
  if (status === null) {
    return { name: trans.__('Kiosk'), state: '', level: 'none' };
  }
  const name = displayName(status.name);
  // We reached the kiosk (it answered); "online" is whether the kiosk has internet.
  const parts: string[] = [trans.__('connected')];
  if (typeof status.online === 'boolean') {
    parts.push(status.online ? trans.__('online') : trans.__('no internet'));
  }
  const sync = status.sync;
  let level: 'ok' | 'warn' = 'ok';
  if (sync && sync.enabled) {
    const queued = sync.queued ?? 0;
    if (queued > 0) {
      parts.push(trans._n('%1 waiting to sync', '%1 waiting to sync', queued));
      level = 'warn';
    } else {
      parts.push(trans.__('synced'));
    }
  }
  return { name, state: parts.join(' · '), level };
}

export class KioskBadge extends Widget {
  constructor(actions: IBadgeAction[] = []) {
    super();
    this.addClass('kiosk-Badge');
    this.node.dataset.kiosk = 'badge';
    this.node.dir = textDirection();
    this.node.title = trans.__('This notebook site is served by the classroom kiosk.');
    this._name = document.createElement('span');
    this._name.className = 'kiosk-Badge-name';
    this._name.textContent = trans.__('Kiosk');
    this._state = document.createElement('span');
    this._state.className = 'kiosk-Badge-state';
    this._state.dataset.kiosk = 'badge-state';
    // On phones and tablets the actions fold into a menu opened by this button (CSS decides).
    this._toggle = document.createElement('button');
    this._toggle.className = 'kiosk-Badge-menuButton';
    this._toggle.dataset.kiosk = 'badge-menu';
    this._toggle.type = 'button';
    this._toggle.setAttribute('aria-haspopup', 'true');
    this._toggle.setAttribute('aria-expanded', 'false');
    this._toggle.textContent = trans.__('Menu');
    this._toggle.addEventListener('click', (event) => {
      event.stopPropagation();
      this.setMenuOpen(!this.node.classList.contains('kiosk-mod-menuOpen'));
    });
    this._menu = document.createElement('div');
    this._menu.className = 'kiosk-Badge-actions';
    this._menu.dataset.kiosk = 'badge-actions';
    this._menuState = document.createElement('div');
    this._menuState.className = 'kiosk-Badge-menuState';
    this._menuState.dataset.kiosk = 'badge-menu-state';
    this._menu.append(this._menuState);
    for (const item of actions) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'kiosk-Badge-action' + (item.menuOnly ? ' kiosk-Badge-menuOnly' : '');
      button.dataset.kiosk = item.kiosk;
      button.textContent = item.label;
      button.addEventListener('click', () => {
        this.setMenuOpen(false);
        item.handler();
      });
      this._menu.append(button);
    }
    if (!filesAndInputWork()) {
      const note = document.createElement('span');
      note.className = 'kiosk-Badge-insecure';
      note.dataset.kiosk = 'insecure-note';
      note.textContent = insecureNote();
      note.title = insecureDetail();
      this._menu.append(note);
    }
    this.node.append(this._name, this._state, this._toggle, this._menu);
    this._onDocumentClick = (event: MouseEvent) => {
      if (!this.node.contains(event.target as Node)) {
        this.setMenuOpen(false);
      }
    };
    document.addEventListener('click', this._onDocumentClick);
  }

  /** Open or close the compact menu (phones). */
  setMenuOpen(open: boolean): void {
    this.node.classList.toggle('kiosk-mod-menuOpen', open);
    this._toggle.setAttribute('aria-expanded', open ? 'true' : 'false');
  }

  render(status: IKioskStatus | null | 'unreachable'): void {
    const words = describe(status);
    this._name.textContent = words.name;
    this._state.textContent = words.state;
    this._menuState.textContent = words.state ? `${words.name}: ${words.state}` : words.name;
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
    document.removeEventListener('click', this._onDocumentClick);
    super.dispose();
  }

  private _name: HTMLSpanElement;
  private _state: HTMLSpanElement;
  private _toggle: HTMLButtonElement;
  private _menu: HTMLDivElement;
  private _menuState: HTMLDivElement;
  private _onDocumentClick: (event: MouseEvent) => void;
  private _timer: number | undefined;
}
