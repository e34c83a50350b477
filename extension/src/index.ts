// The kiosk's JupyterLite extension: Share (link, code, QR), saving shared notebooks to
// the kiosk, "My notebooks", view-only opening of share links, and the kiosk badge.
// A second plugin (kernelsetup.ts) routes every kernel's time.sleep() and downloads
// through the kiosk. It uses only stable JupyterLab 4 APIs and the host's shared copies
// of them, so one prebuilt build loads in JupyterLab 4.4 (jupyterlite-core 0.6) and 4.6 (0.8).
import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, InputDialog, ToolbarButton, WidgetTracker } from '@jupyterlab/apputils';
import { IEditorServices } from '@jupyterlab/codeeditor';
import { IDocumentManager } from '@jupyterlab/docmanager';
import type { DocumentRegistry } from '@jupyterlab/docregistry';
import {
  INotebookModel,
  INotebookWidgetFactory,
  NotebookPanel,
  NotebookWidgetFactory
} from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ITranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { SharingClient, cleanId } from './api';
import { KioskBadge } from './badge';
import { showMyNotebooks } from './dialogs';
import { textDirection, trans, useTranslator } from './i18n';
import { kernelSetupPlugin } from './kernelsetup';
import { closeLaunchers, fitToScreen, openLesson } from './layout';
import { siteRoot } from './store';
import { isViewOnly, Sharer } from './sharer';

export const PLUGIN_ID = '@kiosk/share-extension:plugin';
export const VIEW_ONLY_FACTORY = 'Kiosk View-only Notebook';

const CMD = {
  share: 'kiosk:share',
  copy: 'kiosk:make-copy',
  mine: 'kiosk:my-notebooks',
  open: 'kiosk:open-shared'
} as const;

/** The notebook id in the page's address (`?notebook=<readable id or uuid>`). */
function requestedNotebook(): string | null {
  const value = new URLSearchParams(window.location.search).get('notebook');
  return value && cleanId(value) ? cleanId(value) : null;
}

/** Which JupyterLite app this page is: 'lab', 'notebooks', or another. */
function appName(): string {
  const parts = window.location.pathname.split('/').filter(Boolean);
  const last =
    parts[parts.length - 1] === 'index.html' ? parts[parts.length - 2] : parts[parts.length - 1];
  return last || '';
}

class ViewOnlyBanner extends Widget {
  constructor(onCopy: () => void) {
    super();
    this.addClass('kiosk-ViewOnlyBanner');
    this.node.dataset.kiosk = 'view-only-banner';
    this.node.dir = textDirection();
    const text = document.createElement('span');
    text.textContent = trans.__(
      "View only: a classmate's shared notebook. Make a copy to change or run it."
    );
    const button = document.createElement('button');
    button.className = 'jp-mod-styled jp-mod-accept kiosk-ViewOnlyBanner-copy';
    button.dataset.kiosk = 'make-copy';
    button.textContent = trans.__('Make a copy');
    button.addEventListener('click', onCopy);
    this.node.append(text, button);
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Share notebooks through the classroom kiosk.',
  autoStart: true,
  requires: [IDocumentManager],
  optional: [
    ICommandPalette,
    INotebookWidgetFactory,
    ILabShell,
    ITranslator,
    IRenderMimeRegistry,
    NotebookPanel.IContentFactory,
    IEditorServices
  ],
  activate: (
    app: JupyterFrontEnd,
    docManager: IDocumentManager,
    palette: ICommandPalette | null,
    nbFactory: NotebookWidgetFactory.IFactory | null,
    labShell: ILabShell | null,
    translator: ITranslator | null,
    rendermime: IRenderMimeRegistry | null,
    contentFactory: NotebookPanel.IContentFactory | null,
    editorServices: IEditorServices | null
  ) => {
    // The students' language: the one JupyterLab's menus use (jupyter-lite.json's locale).
    if (translator) {
      useTranslator(translator);
    }
    const client = new SharingClient();
    const sharer = new Sharer(client, docManager, app.serviceManager.contents, labShell !== null);
    const viewOnlyTracker = new WidgetTracker<NotebookPanel>({ namespace: 'kiosk-view-only' });

    // A notebook factory that never starts a kernel, for view-only copies. It is made of
    // the parts the host's notebook factory is made of (renderers, cell factory, editor
    // services) and takes that factory's current editor and notebook settings.
    let viewFactoryName: string | undefined;
    if (nbFactory && rendermime && contentFactory && editorServices) {
      const factory = new NotebookWidgetFactory({
        name: VIEW_ONLY_FACTORY,
        label: trans.__('View-only Notebook'),
        fileTypes: ['notebook'],
        modelName: 'notebook',
        preferKernel: false,
        canStartKernel: false,
        shutdownOnClose: false,
        readOnly: true,
        rendermime,
        contentFactory,
        mimeTypeService: editorServices.mimeTypeService,
        editorConfig: nbFactory.editorConfig,
        notebookConfig: nbFactory.notebookConfig
      });
      factory.widgetCreated.connect((_, panel) => {
        void viewOnlyTracker.add(panel);
      });
      app.docRegistry.addWidgetFactory(factory);
      viewFactoryName = VIEW_ONLY_FACTORY;
    }

    const currentNotebook = (): NotebookPanel | null => {
      const widget = app.shell.currentWidget;
      return widget instanceof NotebookPanel ? widget : null;
    };

    const decorate = (panel: NotebookPanel): void => {
      panel.addClass('kiosk-Notebook');
      const share = new ToolbarButton({
        className: 'kiosk-ShareButton',
        label: trans.__('Share'),
        tooltip: trans.__('Share this notebook: get a link, a code and a QR code'),
        onClick: () => void sharer.share(panel)
      });
      share.node.dataset.kiosk = 'share';
      panel.toolbar.insertItem(0, 'kiosk-share', share);
      void panel.context.ready.then(() => {
        if (panel.isDisposed) {
          return;
        }
        if (isViewOnly(panel)) {
          panel.addClass('kiosk-mod-viewOnly');
          panel.context.model.readOnly = true;
          const copy = new ToolbarButton({
            className: 'kiosk-CopyButton',
            label: trans.__('Make a copy'),
            tooltip: trans.__('Make your own copy that you can change and run'),
            onClick: () => void sharer.makeCopy(panel)
          });
          copy.node.dataset.kiosk = 'toolbar-make-copy';
          panel.toolbar.insertItem(1, 'kiosk-make-copy', copy);
          panel.contentHeader.insertWidget(
            0,
            new ViewOnlyBanner(() => void sharer.makeCopy(panel))
          );
        }
      });
      panel.context.saveState.connect((_, state) => {
        if (state === 'completed') {
          sharer.onSaved(panel);
        }
      });
    };

    const extension: DocumentRegistry.IWidgetExtension<NotebookPanel, INotebookModel> = {
      createNew: (panel) => {
        decorate(panel);
      }
    };
    app.docRegistry.addWidgetExtension('Notebook', extension);
    if (viewFactoryName) {
      app.docRegistry.addWidgetExtension(viewFactoryName, extension);
    }

    app.commands.addCommand(CMD.share, {
      label: trans.__('Share Notebook'),
      caption: trans.__('Get a link, a code and a QR code for this notebook'),
      isEnabled: () => currentNotebook() !== null,
      execute: async () => {
        const panel = currentNotebook();
        if (panel) {
          await sharer.share(panel);
        }
      }
    });
    app.commands.addCommand(CMD.copy, {
      label: trans.__('Make a Copy of This Notebook'),
      isEnabled: () => currentNotebook() !== null,
      execute: async () => {
        const panel = currentNotebook();
        if (panel) {
          await sharer.makeCopy(panel);
        }
      }
    });
    app.commands.addCommand(CMD.mine, {
      label: trans.__('My Shared Notebooks'),
      execute: () => showMyNotebooks()
    });
    app.commands.addCommand(CMD.open, {
      label: trans.__('Open a Shared Notebook…'),
      execute: async () => {
        const answer = await InputDialog.getText({
          title: trans.__('Open a shared notebook'),
          label: trans.__('Code (for example: happy-blue-otter)'),
          okLabel: trans.__('Open'),
          cancelLabel: trans.__('Cancel')
        });
        if (answer.button.accept && answer.value && cleanId(answer.value)) {
          await sharer.openShared(cleanId(answer.value), viewFactoryName ?? 'Notebook');
        }
      }
    });
    if (palette) {
      for (const command of Object.values(CMD)) {
        palette.addItem({ command, category: trans.__('Kiosk') });
      }
    }

    // The badge, in the top area of both apps: the kiosk's name and state, and its
    // actions (a compact menu on phones and tablets, where the top bar has no room for buttons).
    const toggleFiles = (): void => {
      if (labShell && !labShell.leftCollapsed) {
        labShell.collapseLeft();
      } else {
        app.shell.activateById('filebrowser');
      }
    };
    const badge = new KioskBadge([
      {
        label: trans.__('Share'),
        kiosk: 'badge-share',
        menuOnly: true,
        handler: () => void app.commands.execute(CMD.share)
      },
      {
        label: trans.__('Open a code'),
        kiosk: 'badge-open-code',
        handler: () => void app.commands.execute(CMD.open)
      },
      {
        label: trans.__('My notebooks'),
        kiosk: 'badge-my-notebooks',
        handler: () => void showMyNotebooks()
      },
      ...(labShell
        ? [{ label: trans.__('Files'), kiosk: 'badge-files', menuOnly: true, handler: toggleFiles }]
        : [])
    ]);
    badge.id = 'kiosk-badge';
    app.shell.add(badge, 'top', { rank: 1000 });
    badge.start();

    // Share links: lab/index.html?notebook=<id> (and notebooks/index.html?notebook=<id>).
    const requested = requestedNotebook();
    if (labShell) {
      fitToScreen(app, labShell);
      openLesson(app, docManager);
    }
    if (requested && !labShell) {
      // The notebook app shows the document named by ?path=: fetch the shared notebook
      // into this browser, then show it there with the view-only factory.
      void app.started.then(async () => {
        const path = await sharer.saveShared(requested);
        if (path) {
          const query = new URLSearchParams({ path });
          if (viewFactoryName) {
            query.set('factory', viewFactoryName);
          }
          window.location.replace(`${siteRoot()}notebooks/index.html?${query.toString()}`);
        } else {
          document.body.dataset.kioskOpened = 'failed';
        }
      });
    } else if (requested) {
      void app.restored.then(async () => {
        const panel = await sharer.openShared(requested, viewFactoryName ?? 'Notebook');
        if (panel && labShell) {
          labShell.activateById(panel.id);
          closeLaunchers(app);
        }
        document.body.dataset.kioskOpened = panel ? requested : 'failed';
      });
    }
    document.body.dataset.kioskExtension = appName() || 'loaded';
  }
};

export default [plugin, kernelSetupPlugin];
