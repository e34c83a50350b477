// Sharing notebooks: the Share action, saving shared notebooks to the kiosk on every
// save, opening share links view-only, and "Make a copy".
import { Notification } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { NotebookPanel } from '@jupyterlab/notebook';
import { Contents } from '@jupyterlab/services';

import { explain, ShareError, SharingClient } from './api';
import { showError, showShareDialog } from './dialogs';
import { trans } from './i18n';
import { rememberMine, shareCode, siteRoot } from './store';

/** The notebook metadata fields Jupyter Everywhere uses. */
export const META = {
  sharedId: 'sharedId',
  readableId: 'readableId',
  sharedName: 'sharedName',
  lastShared: 'lastShared',
  isShared: 'isSharedNotebook',
  domainId: 'domainId'
} as const;

type Model = NonNullable<NotebookPanel['model']>;

function meta(model: Model, key: string): any {
  return model.getMetadata(key);
}

/** A view-only copy of someone's shared notebook (opened from a link). */
export function isViewOnly(panel: NotebookPanel): boolean {
  const model = panel.context.model;
  return !!model && meta(model, META.isShared) === true;
}

function notebookName(panel: NotebookPanel): string {
  return PathExt.basename(panel.context.path);
}

/** Per-notebook state of the saves to the kiosk. */
interface ISyncState {
  running: boolean;
  pending: boolean;
  skipSaves: number;
  warned: boolean;
}

export class Sharer {
  constructor(
    readonly client: SharingClient,
    readonly docManager: IDocumentManager,
    readonly contents: Contents.IManager,
    /** JupyterLab (a dock of tabs) or the notebook app (one document per page). */
    readonly isLab: boolean = true
  ) {}

  // ---- Share ------------------------------------------------------------------

  /** The Share button: POST the first time, PUT afterwards; show the dialog. */
  async share(panel: NotebookPanel): Promise<void> {
    await panel.context.ready;
    const model = panel.context.model;
    if (isViewOnly(panel)) {
      const id = meta(model, META.sharedId);
      if (typeof id === 'string') {
        await showShareDialog({
          id,
          readableId: meta(model, META.readableId) ?? null,
          name: meta(model, META.sharedName) ?? notebookName(panel),
          viewOnly: true
        });
      } else {
        await showError(
          trans.__('Cannot share'),
          trans.__('This notebook is view only. Press "Make a copy" to get your own copy.')
        );
      }
      return;
    }
    const state = this._state(panel);
    state.running = true;
    try {
      const sharedId = meta(model, META.sharedId);
      let note: string | undefined;
      const now = new Date().toISOString();
      if (typeof sharedId === 'string') {
        model.setMetadata(META.lastShared, now);
        model.setMetadata(META.sharedName, notebookName(panel));
        try {
          const result = await this.client.update(sharedId, model.toJSON());
          this._setIds(model, result.id, result.readable_id);
        } catch (err) {
          if (!(
            err instanceof ShareError &&
            (err.kind === 'forbidden' || err.kind === 'not-found')
          )) {
            throw err;
          }
          await this._shareAnew(panel);
          note = trans.__(
            'This notebook has a new link and code: the kiosk did not recognise this browser as the one that shared it before (maybe the browser was cleared, or this is another kiosk). Give your classmates the new link.'
          );
        }
      } else {
        await this._shareAnew(panel);
      }
      await this._saveLocally(panel);
      this._remember(panel);
      await showShareDialog({
        id: meta(model, META.sharedId),
        readableId: meta(model, META.readableId) ?? null,
        name: notebookName(panel),
        note,
        // Sent once the dialog closes (the `finally` below PUTs a pending change).
        onNameChange: () => {
          this._state(panel).pending = true;
        }
      });
    } catch (err) {
      console.warn('kiosk share failed', err);
      await showError(trans.__('Not shared'), explain(err));
    } finally {
      state.running = false;
      if (state.pending) {
        void this._put(panel);
      }
    }
  }

  private async _shareAnew(panel: NotebookPanel): Promise<void> {
    const model = panel.context.model;
    model.deleteMetadata(META.sharedId);
    model.deleteMetadata(META.readableId);
    model.setMetadata(META.sharedName, notebookName(panel));
    model.setMetadata(META.lastShared, new Date().toISOString());
    const result = await this.client.create(model.toJSON());
    this._setIds(model, result.id, result.readable_id);
  }

  private _setIds(model: Model, id: string, readableId: string | null): void {
    if (meta(model, META.sharedId) !== id) {
      model.setMetadata(META.sharedId, id);
    }
    if (readableId && meta(model, META.readableId) !== readableId) {
      model.setMetadata(META.readableId, readableId);
    }
  }

  private _remember(panel: NotebookPanel): void {
    const model = panel.context.model;
    rememberMine({
      id: meta(model, META.sharedId),
      readableId: meta(model, META.readableId) ?? null,
      name: notebookName(panel),
      path: panel.context.path,
      lastShared: meta(model, META.lastShared) ?? new Date().toISOString()
    });
  }

  /** Save the browser copy without triggering another PUT. */
  private async _saveLocally(panel: NotebookPanel): Promise<void> {
    const state = this._state(panel);
    state.skipSaves += 1;
    try {
      await panel.context.save();
    } catch (err) {
      state.skipSaves = Math.max(0, state.skipSaves - 1);
      throw err;
    }
  }

  // ---- Saving to the kiosk ---------------------------------------------------------

  /** Called on every completed save (autosave included) of a notebook. */
  onSaved(panel: NotebookPanel): void {
    const model = panel.context.model;
    const state = this._state(panel);
    if (state.skipSaves > 0) {
      state.skipSaves -= 1;
      return;
    }
    if (!model || isViewOnly(panel) || typeof meta(model, META.sharedId) !== 'string') {
      return;
    }
    if (state.running) {
      state.pending = true;
      return;
    }
    void this._put(panel);
  }

  private async _put(panel: NotebookPanel): Promise<void> {
    const state = this._state(panel);
    state.running = true;
    try {
      do {
        state.pending = false;
        const model = panel.context.model;
        const id = meta(model, META.sharedId);
        if (typeof id !== 'string' || isViewOnly(panel)) {
          return;
        }
        try {
          await this.client.update(id, model.toJSON());
          state.warned = false;
          this._remember(panel);
          panel.node.dataset.kioskSaved = new Date().toISOString();
        } catch (err) {
          if (err instanceof ShareError && (err.kind === 'forbidden' || err.kind === 'not-found')) {
            await this._shareAnew(panel);
            await this._saveLocally(panel);
            this._remember(panel);
            const code = shareCode({
              id: meta(model, META.sharedId),
              readableId: meta(model, META.readableId) ?? null
            });
            Notification.info(
              trans.__(
                '"%1" was saved to the kiosk with a new code: %2. Press Share to see its new link.',
                notebookName(panel),
                code
              ),
              { autoClose: 15000 }
            );
            panel.node.dataset.kioskSaved = new Date().toISOString();
          } else {
            console.warn('kiosk save failed', err);
            if (!state.warned) {
              state.warned = true;
              Notification.warning(
                trans.__(
                  '"%1" is saved in this browser, but not on the kiosk yet.',
                  notebookName(panel)
                ) +
                  ' ' +
                  explain(err),
                { autoClose: 15000 }
              );
            }
          }
        }
      } while (state.pending);
    } finally {
      state.running = false;
    }
  }

  private _state(panel: NotebookPanel): ISyncState {
    let state = this._states.get(panel.context);
    if (!state) {
      state = { running: false, pending: false, skipSaves: 0, warned: false };
      this._states.set(panel.context, state);
    }
    return state;
  }

  // ---- View-only opening and copies ----------------------------------------------------

  /** Fetch a shared notebook and open it view-only (no kernel). */
  async openShared(code: string, factory: string): Promise<NotebookPanel | undefined> {
    const path = await this.saveShared(code);
    if (!path) {
      return undefined;
    }
    // If it is open already (a reload), show the fresh content.
    const existing = this.docManager.findWidget(path, factory);
    if (existing) {
      await existing.context.revert();
    }
    // In the notebook app, '_noref' keeps the document in this page (its opener would
    // otherwise open a new browser tab).
    const options = this.isLab ? undefined : { ref: '_noref' };
    const widget = this.docManager.openOrReveal(path, factory, undefined, options) as
      NotebookPanel | undefined;
    if (widget?.sessionContext) {
      // Never start a kernel for a view-only notebook (belt and braces: the
      // view-only factory already says so).
      widget.sessionContext.kernelPreference = {
        ...widget.sessionContext.kernelPreference,
        shouldStart: false,
        canStart: false,
        autoStartDefault: false
      };
    }
    return widget;
  }

  /** Fetch a shared notebook into this browser as a view-only copy; its path. */
  async saveShared(code: string): Promise<string | undefined> {
    let shared;
    try {
      shared = await this.client.get(code);
    } catch (err) {
      await showError(trans.__('Could not open the shared notebook'), explain(err));
      return undefined;
    }
    const content = JSON.parse(JSON.stringify(shared.content));
    const md = (content.metadata = content.metadata || {});
    const display = shared.readable_id || shared.id;
    md[META.isShared] = true;
    md[META.sharedId] = shared.id;
    md[META.readableId] = shared.readable_id;
    md[META.domainId] = shared.domain_id;
    md[META.sharedName] = md[META.sharedName] || `${display}.ipynb`;
    for (const cell of content.cells || []) {
      cell.metadata = cell.metadata || {};
      cell.metadata.editable = false;
      cell.metadata.deletable = false;
    }
    const path = `Shared ${display.replace(/[^A-Za-z0-9_-]/g, '-')}.ipynb`;
    await this.contents.save(path, { type: 'notebook', format: 'json', content });
    return path;
  }

  /** An editable copy of a (view-only) notebook, shared anew on its first Share. */
  async makeCopy(panel: NotebookPanel): Promise<NotebookPanel | undefined> {
    await panel.context.ready;
    const content: any = panel.context.model.toJSON();
    const md = content.metadata || {};
    for (const key of Object.values(META)) {
      delete md[key];
    }
    for (const cell of content.cells || []) {
      if (cell.metadata) {
        delete cell.metadata.editable;
        delete cell.metadata.deletable;
      }
    }
    const source = String(panel.model?.getMetadata(META.sharedName) || notebookName(panel));
    const base = source.replace(/\.ipynb$/i, '').replace(/^Shared /, '');
    const dir = PathExt.dirname(panel.context.path);
    let path = '';
    for (let n = 1; n < 100; n++) {
      const name = n === 1 ? `Copy of ${base}.ipynb` : `Copy ${n} of ${base}.ipynb`;
      const candidate = dir ? PathExt.join(dir, name) : name;
      try {
        await this.contents.get(candidate, { content: false });
      } catch {
        path = candidate;
        break;
      }
    }
    if (!path) {
      path = `Copy of ${base} ${Date.now()}.ipynb`;
    }
    await this.contents.save(path, { type: 'notebook', format: 'json', content });
    if (!this.isLab) {
      // The notebook app shows one document per page: go to the copy.
      window.location.assign(`${siteRoot()}notebooks/index.html?path=${encodeURIComponent(path)}`);
      return undefined;
    }
    return this.docManager.open(path) as NotebookPanel | undefined;
  }

  private _states = new WeakMap<object, ISyncState>();
}
