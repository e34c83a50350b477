// Phone-first layout and the lesson: JupyterLab fitted to the screen it is on, and the
// bundle's lesson notebook opened instead of a Launcher.
//
// The mechanism (why JupyterLab's single-document mode and not a second app) is
// explained in docs/architecture.md, "Phones: one app, fitted to the screen".
import { JupyterFrontEnd, ILabShell } from '@jupyterlab/application';
import { PageConfig } from '@jupyterlab/coreutils';
import { IDocumentManager } from '@jupyterlab/docmanager';

/** Phones: JupyterLab's own "mobile" width (its Notebook app uses the same). */
export const PHONE_QUERY = '(max-width: 760px)';
/** Phones and tablets: no sidebar is open when a document opens. */
export const NARROW_QUERY = '(max-width: 1023px)';
/** The lesson when the bundle names none. */
export const DEFAULT_LESSON = 'Welcome.ipynb';
/** The page-config key (jupyter-lite.json) naming the lesson notebook. */
export const LESSON_OPTION = 'kioskLesson';

/** The lesson notebook's path, from jupyter-lite.json (the kiosk may set it per Host). */
export function lessonPath(): string {
  const raw = PageConfig.getOption(LESSON_OPTION).trim().replace(/^\/+/, '');
  return raw || DEFAULT_LESSON;
}

/** Whether the page's address names a document of its own (a share link or ?path=). */
export function addressNamesDocument(): boolean {
  const query = new URLSearchParams(window.location.search);
  return query.has('notebook') || query.has('path');
}

function runIfToggled(app: JupyterFrontEnd, command: string, args: any, wanted: boolean): void {
  if (app.commands.hasCommand(command) && app.commands.isToggled(command, args) !== wanted) {
    void app.commands.execute(command, args);
  }
}

/**
 * Fit the lab shell to the screen: on phones one document at a time (single-document
 * mode), no status bar and no right-hand activity bar; on phones and tablets both
 * sidebars closed. Applied once the layout is restored and whenever the width crosses
 * a threshold (turning a tablet, resizing a window).
 */
export function fitToScreen(app: JupyterFrontEnd, labShell: ILabShell): void {
  const phone = window.matchMedia(PHONE_QUERY);
  const narrow = window.matchMedia(NARROW_QUERY);
  const apply = (): void => {
    document.body.classList.toggle('kiosk-mod-phone', phone.matches);
    document.body.dataset.kioskLayout = phone.matches
      ? 'phone'
      : narrow.matches
        ? 'tablet'
        : 'desktop';
    if (narrow.matches) {
      labShell.collapseLeft();
      labShell.collapseRight();
    }
    if (phone.matches) {
      labShell.mode = 'single-document';
    }
    runIfToggled(app, 'application:toggle-side-tabbar', { side: 'right' }, !phone.matches);
    runIfToggled(app, 'statusbar:toggle', undefined, !phone.matches);
  };
  void app.restored.then(() => {
    apply();
    phone.addEventListener('change', apply);
    narrow.addEventListener('change', apply);
  });
}

/** Close the Launcher tabs JupyterLab opens in an empty main area. */
export function closeLaunchers(app: JupyterFrontEnd): void {
  for (const widget of Array.from(app.shell.widgets('main'))) {
    if (
      widget.id.startsWith('launcher') ||
      widget.hasClass('jp-Launcher') ||
      widget.node.querySelector('.jp-Launcher')
    ) {
      widget.close();
    }
  }
}

/**
 * Open the lesson when the lab app is opened without a document in its address
 * ("Start coding"), and close the Launcher. Sets body[data-kiosk-lesson] to the path
 * opened, or to 'missing' when the lesson is not in this site.
 */
export function openLesson(app: JupyterFrontEnd, docManager: IDocumentManager): void {
  if (addressNamesDocument()) {
    return;
  }
  const path = lessonPath();
  void app.restored.then(async () => {
    try {
      await app.serviceManager.contents.get(path, { content: false });
    } catch {
      document.body.dataset.kioskLesson = 'missing';
      return;
    }
    const widget = docManager.openOrReveal(path);
    if (widget) {
      app.shell.activateById(widget.id);
      await widget.context.ready;
    }
    closeLaunchers(app);
    // The launcher plugin may add its tab just after the layout is restored.
    window.setTimeout(() => closeLaunchers(app), 500);
    document.body.dataset.kioskLesson = path;
  });
}
