// The Share dialog (link, code in large type, QR code, Copy) and "My notebooks".
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';
import qrcode from 'qrcode-generator';

import {
  fetchUpstream,
  IUpstreamInfo,
  refusalWords,
  rememberStudentName,
  studentName,
  STUDENT_NAME_MAX
} from './api';
import { languageCode, textDirection, trans } from './i18n';
import { IMyNotebook, listMine, shareCode, shareLink } from './store';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Draw `text` as a QR code (SVG, drawn here: no network, no canvas needed). */
export function qrSvg(text: string, moduleSize = 5, quiet = 4): SVGSVGElement {
  const qr = qrcode(0, 'M');
  qr.addData(text, 'Byte');
  qr.make();
  const count = qr.getModuleCount();
  const size = (count + 2 * quiet) * moduleSize;
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${count + 2 * quiet} ${count + 2 * quiet}`);
  svg.setAttribute('width', String(size));
  svg.setAttribute('height', String(size));
  svg.setAttribute('shape-rendering', 'crispEdges');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', trans.__('QR code of %1', text));
  const bg = document.createElementNS(SVG_NS, 'rect');
  bg.setAttribute('width', '100%');
  bg.setAttribute('height', '100%');
  bg.setAttribute('fill', '#fff');
  svg.appendChild(bg);
  let d = '';
  for (let r = 0; r < count; r++) {
    for (let c = 0; c < count; c++) {
      if (qr.isDark(r, c)) {
        d += `M${c + quiet} ${r + quiet}h1v1h-1z`;
      }
    }
  }
  const path = document.createElementNS(SVG_NS, 'path');
  path.setAttribute('d', d);
  path.setAttribute('fill', '#000');
  svg.appendChild(path);
  return svg;
}

export type CopyOutcome = 'clipboard' | 'execCommand' | 'manual';

/**
 * Copy text. The Clipboard API exists only in secure contexts (not on plain HTTP), so
 * fall back to selecting the text in `field` and execCommand('copy'); if even that
 * fails, the text stays selected and the student is told to copy it by hand.
 */
export async function copyText(
  text: string,
  field: HTMLInputElement | HTMLTextAreaElement
): Promise<CopyOutcome> {
  const clip = (navigator as any).clipboard;
  if (window.isSecureContext && clip && typeof clip.writeText === 'function') {
    try {
      await clip.writeText(text);
      return 'clipboard';
    } catch {
      // fall through to the fallback
    }
  }
  field.focus();
  field.select();
  field.setSelectionRange(0, field.value.length);
  try {
    if (document.execCommand('copy')) {
      return 'execCommand';
    }
  } catch {
    // fall through
  }
  return 'manual';
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    node.setAttribute(k, v);
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/**
 * A link with a Copy button and a line that says what happened. `prefix` names its
 * parts for tests (`<prefix>link`, `<prefix>copy`, `<prefix>copy-status`).
 */
function linkRow(
  link: string,
  label = trans.__('Copy link'),
  prefix = '',
  ariaLabel = trans.__('Link')
): HTMLElement {
  const row = el('div', { class: 'kiosk-LinkRow' });
  // A read-only textarea: the whole link is visible (it wraps), and it can be selected
  // for the copy fallback.
  const input = el('textarea', {
    class: 'kiosk-LinkRow-input',
    'data-kiosk': `${prefix}link`,
    readonly: 'readonly',
    rows: '2',
    spellcheck: 'false',
    dir: 'ltr',
    'aria-label': ariaLabel
  });
  input.value = link;
  const button = el(
    'button',
    { class: 'jp-mod-styled kiosk-LinkRow-copy', 'data-kiosk': `${prefix}copy` },
    label
  );
  const status = el('div', {
    class: 'kiosk-LinkRow-status',
    'data-kiosk': `${prefix}copy-status`,
    'aria-live': 'polite'
  });
  button.addEventListener('click', async () => {
    const outcome = await copyText(link, input);
    status.dataset.outcome = outcome;
    status.textContent =
      outcome === 'manual'
        ? trans.__('The link is selected: press Ctrl+C (or ⌘+C, or long-press and choose Copy).')
        : trans.__('Copied!');
  });
  row.append(input, button, status);
  return row;
}

export interface IShareView {
  id: string;
  readableId: string | null;
  name: string;
  /** A sentence above the link, e.g. "This is a new link". */
  note?: string;
  viewOnly?: boolean;
  /** Called after the student changed their name: send it to the kiosk. */
  onNameChange?: () => void;
}

/** What the take-home part of the Share dialog shows. */
export type TakeHomeState =
  'loading' | 'off' | 'none' | 'pending' | 'synced' | 'refused' | 'unknown';

export function takeHomePending(): string {
  return trans.__('A take-home link will be sent when the kiosk is online.');
}
export function takeHomeBehind(): string {
  return trans.__('Your latest changes will follow when the kiosk is online.');
}
/** The cloud service refused the share for good: why, and what to do. */
export function takeHomeRefused(reason: string): string {
  return trans.__('No take-home link: %1.', refusalWords(reason));
}

/**
 * The "take home" part of the Share dialog. When the kiosk forwards shares to an
 * upstream (the Jupyter Everywhere service or a school hub), the copy there has a
 * link that works outside the classroom: once the share has arrived, this shows that
 * link and its QR code. Until then it says the link will come when the kiosk is
 * online, and asks the kiosk again every few seconds while the dialog is open. When
 * sync is off ('off'), the share is not on its way ('none': made before sync was
 * turned on, and not changed since) or the kiosk cannot say ('unknown'), it shows
 * nothing. Its state is in `data-state` on the node (for tests).
 */
export class TakeHome {
  constructor(
    readonly id: string,
    readonly node: HTMLElement,
    readonly intervalMs = 3000
  ) {
    node.dataset.state = 'loading';
    node.hidden = true;
  }

  /** Ask the kiosk now, then again until synced and up to date or `stop()`. */
  start(): void {
    void this._tick();
  }

  stop(): void {
    this._stopped = true;
    if (this._timer !== undefined) {
      window.clearTimeout(this._timer);
      this._timer = undefined;
    }
  }

  render(info: IUpstreamInfo | null): TakeHomeState {
    if (
      info === null &&
      (this._shown === 'pending' ||
        this._shown.startsWith('synced') ||
        this._shown.startsWith('refused'))
    ) {
      return 'unknown'; // the kiosk did not answer this time: keep what is shown
    }
    const state: TakeHomeState =
      info === null
        ? 'unknown'
        : info.refused !== null
          ? 'refused'
          : info.synced
            ? 'synced'
            : !info.syncEnabled
              ? 'off'
              : info.queued
                ? 'pending'
                : 'none';
    const node = this.node;
    const key =
      info?.synced || info?.refused != null
        ? `${state}|${info.url}|${info.upToDate}|${info.refused}`
        : state;
    node.dataset.state = state;
    if (key === this._shown) {
      return state;
    }
    this._shown = key;
    node.replaceChildren();
    node.hidden = state !== 'pending' && state !== 'synced' && state !== 'refused';
    if (state === 'pending') {
      node.append(
        el('div', { class: 'kiosk-ShareDialog-label' }, trans.__('To take home')),
        el(
          'p',
          { class: 'kiosk-TakeHome-pending', 'data-kiosk': 'upstream-pending' },
          takeHomePending()
        )
      );
    } else if (state === 'refused' && info && info.refused !== null) {
      // Said plainly; an earlier version that did arrive keeps its link below.
      node.append(
        el('div', { class: 'kiosk-ShareDialog-label' }, trans.__('To take home')),
        el(
          'p',
          { class: 'kiosk-TakeHome-refused', 'data-kiosk': 'upstream-refused', role: 'status' },
          takeHomeRefused(info.refused)
        )
      );
      if (info.synced && info.url) {
        node.append(
          el(
            'p',
            {},
            trans.__('An earlier version is saved outside the classroom. Open this link at home:')
          ),
          linkRow(
            info.url,
            trans.__('Copy take-home link'),
            'upstream-',
            trans.__('Take-home link')
          )
        );
      }
    } else if (state === 'synced' && info && info.url) {
      const qr = el('div', { class: 'kiosk-TakeHome-qr', 'data-kiosk': 'upstream-qr' });
      qr.append(qrSvg(info.url, 4));
      const text = el('div', { class: 'kiosk-TakeHome-text' });
      text.append(
        el(
          'p',
          {},
          trans.__('This notebook is also saved outside the classroom. Open this link at home:')
        ),
        linkRow(info.url, trans.__('Copy take-home link'), 'upstream-', trans.__('Take-home link'))
      );
      if (!info.upToDate) {
        text.append(
          el(
            'p',
            { class: 'kiosk-TakeHome-behind', 'data-kiosk': 'upstream-behind' },
            takeHomeBehind()
          )
        );
      }
      const row = el('div', { class: 'kiosk-TakeHome-row' });
      row.append(text, qr);
      node.append(el('div', { class: 'kiosk-ShareDialog-label' }, trans.__('To take home')), row);
    }
    return state;
  }

  private async _tick(): Promise<void> {
    this._timer = undefined;
    // Belt and braces beside stop(): a node taken off the page asks no more.
    if (this.node.isConnected) {
      this._wasConnected = true;
    } else if (this._wasConnected) {
      this.stop();
    }
    if (this._stopped) {
      return;
    }
    const info = await fetchUpstream(this.id);
    if (this._stopped) {
      return;
    }
    const state = this.render(info);
    // A refusal stays until the share changes (a new Share opens a new dialog).
    const done =
      state === 'off' ||
      state === 'none' ||
      state === 'refused' ||
      (state === 'synced' && info !== null && info.upToDate);
    if (!done) {
      this._timer = window.setTimeout(() => void this._tick(), this.intervalMs);
    }
  }

  private _stopped = false;
  private _wasConnected = false;
  private _shown = '';
  private _timer: number | undefined;
}

/**
 * A dialog body that lays its whole dialog (title and buttons too) out in the text
 * direction of the student's language: right to left in Arabic.
 */
class DirectedBody extends Widget {
  protected onAfterAttach(msg: Parameters<Widget['processMessage']>[0]): void {
    super.onAfterAttach(msg);
    this.node.closest('.jp-Dialog-content')?.setAttribute('dir', textDirection());
  }
}

/** The Share dialog's body: stops asking the kiosk once the dialog is gone. */
class ShareBody extends DirectedBody {
  constructor(
    node: HTMLElement,
    readonly takeHome: TakeHome
  ) {
    super({ node });
    takeHome.start();
  }

  dispose(): void {
    this.takeHome.stop();
    super.dispose();
  }
}

/** "Your name": optional, remembered in this browser, seen by the teacher only. */
function studentNameField(view: IShareView): HTMLElement {
  const box = el('div', { class: 'kiosk-ShareDialog-student' });
  const input = el('input', {
    id: 'kiosk-student-name',
    type: 'text',
    autocomplete: 'name',
    maxlength: String(STUDENT_NAME_MAX),
    'data-kiosk': 'student-name'
  });
  input.value = studentName();
  input.addEventListener('change', () => {
    rememberStudentName(input.value);
    view.onNameChange?.();
  });
  box.append(
    el(
      'label',
      { for: 'kiosk-student-name', class: 'kiosk-ShareDialog-label' },
      trans.__('Your name (optional)')
    ),
    input,
    el(
      'div',
      { class: 'kiosk-ShareDialog-hint' },
      trans.__('Only your teacher sees it, on this kiosk.')
    )
  );
  return box;
}

/** The body of the Share dialog. */
export function shareBody(view: IShareView): Widget {
  const link = shareLink(view);
  const node = el('div', {
    class: 'kiosk-ShareDialog',
    'data-kiosk': 'share-dialog',
    dir: textDirection()
  });
  if (view.note) {
    node.append(el('p', { class: 'kiosk-ShareDialog-note', 'data-kiosk': 'note' }, view.note));
  }
  node.append(
    el(
      'p',
      { class: 'kiosk-ShareDialog-intro' },
      view.viewOnly
        ? trans.__('This is a shared notebook (view only). Anyone in the class can open it with:')
        : trans.__('"%1" is shared. Anyone in the class can open it with:', view.name)
    )
  );
  const top = el('div', { class: 'kiosk-ShareDialog-top' });
  const codeBox = el('div', { class: 'kiosk-ShareDialog-codebox' });
  codeBox.append(
    el('div', { class: 'kiosk-ShareDialog-label' }, trans.__('Code')),
    el(
      'div',
      { class: 'kiosk-ShareDialog-code', 'data-kiosk': 'code', dir: 'ltr' },
      shareCode(view)
    ),
    el(
      'div',
      { class: 'kiosk-ShareDialog-hint' },
      trans.__(
        'Classmates press "Open a code" (under Menu on a phone) and type it, or scan the QR code.'
      )
    )
  );
  const qrBox = el('div', { class: 'kiosk-ShareDialog-qr', 'data-kiosk': 'qr' });
  qrBox.append(qrSvg(link));
  top.append(codeBox, qrBox);
  node.append(
    top,
    el('div', { class: 'kiosk-ShareDialog-label' }, trans.__('Link')),
    linkRow(link)
  );
  const takeHomeNode = el('div', { class: 'kiosk-TakeHome', 'data-kiosk': 'take-home' });
  node.append(takeHomeNode);
  if (!view.viewOnly) {
    node.append(studentNameField(view));
  }
  return new ShareBody(node, new TakeHome(view.id, takeHomeNode));
}

export async function showShareDialog(view: IShareView): Promise<void> {
  await showDialog({
    title: view.viewOnly ? trans.__('Link to this notebook') : trans.__('Shared!'),
    body: shareBody(view),
    buttons: [Dialog.okButton({ label: trans.__('Close') })]
  });
}

export async function showError(title: string, message: string): Promise<void> {
  const node = el(
    'div',
    { class: 'kiosk-ErrorDialog', 'data-kiosk': 'error', dir: textDirection() },
    message
  );
  await showDialog({
    title,
    body: new DirectedBody({ node }),
    buttons: [Dialog.okButton({ label: trans.__('OK') })]
  });
}

/** A date and time as the student's language writes them (the browser's, if that one is unknown). */
function localTime(iso: string): string {
  const date = new Date(iso);
  try {
    return date.toLocaleString(languageCode);
  } catch {
    return date.toLocaleString();
  }
}

/** A table of what this browser has shared. */
export function myNotebooksBody(entries: IMyNotebook[] = listMine()): Widget {
  const node = el('div', {
    class: 'kiosk-MyNotebooks',
    'data-kiosk': 'my-notebooks',
    dir: textDirection()
  });
  if (entries.length === 0) {
    node.append(
      el(
        'p',
        {},
        trans.__(
          'You have not shared any notebook from this browser yet. Press Share in a notebook.'
        )
      )
    );
    return new DirectedBody({ node });
  }
  node.append(
    el(
      'p',
      {},
      trans.__(
        'Notebooks shared from this browser. They are kept on the kiosk: open a link to get one back.'
      )
    )
  );
  const table = el('table', { class: 'kiosk-MyNotebooks-table' });
  const head = el('tr');
  head.append(
    el('th', {}, trans.__('Notebook')),
    el('th', {}, trans.__('Code')),
    el('th', {}, trans.__('Last shared')),
    el('th', {}, trans.__('Link'))
  );
  table.append(head);
  for (const entry of entries) {
    const link = shareLink(entry);
    const row = el('tr', { 'data-kiosk-id': entry.id });
    const when = entry.lastShared ? localTime(entry.lastShared) : '';
    const linkCell = el('td');
    const a = el('a', { href: link, target: '_blank', rel: 'noopener' }, link);
    linkCell.append(a);
    row.append(
      el('td', {}, entry.name),
      el('td', { class: 'kiosk-MyNotebooks-code' }, shareCode(entry)),
      el('td', {}, when),
      linkCell
    );
    table.append(row);
  }
  node.append(table);
  return new DirectedBody({ node });
}

export async function showMyNotebooks(): Promise<void> {
  await showDialog({
    title: trans.__('My notebooks'),
    body: myNotebooksBody(),
    buttons: [Dialog.okButton({ label: trans.__('Close') })]
  });
}
