// Kernel set-up: a few silent lines run in every kernel once it starts, on every
// origin, so that time.sleep() waits without spinning a core (a request to the kiosk's
// /api/sleep blocks the worker) and downloads (urllib, pandas, and requests once a
// cell imports it) go through the kiosk's /api/fetch (pyodide-http, which the bundle
// ships). The plain-HTTP relay (files and input()) is not here: it must run before
// JupyterLite starts, so it is the kiosk's own script, kiosk/relay/bridge.js.
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Kernel, KernelMessage } from '@jupyterlab/services';

export const KERNEL_SETUP_PLUGIN_ID = '@kiosk/share-extension:kernel-setup';

/** The Python run once in each kernel (silently: no output, no history). */
export const KERNEL_SETUP = `
def __kiosk_setup():
    import sys, time, js
    # Sent again when JupyterLite may have dropped it (see runSetUp): run once only.
    if getattr(time.sleep, "kiosk", False):
        return
    from urllib.parse import quote, urlsplit
    here = str(js.location.host)
    def sleep(seconds):
        seconds = float(seconds)
        if seconds != seconds or seconds < 0:
            raise ValueError("sleep length must be a non-negative number")
        while seconds > 0:
            part = min(seconds, 600.0)
            xhr = js.XMLHttpRequest.new()
            xhr.open("GET", "/api/sleep?seconds=" + repr(part), False)
            xhr.send(None)
            seconds -= part
    sleep.kiosk = True
    time.sleep = sleep
    try:
        import pyodide_http
    except ImportError:
        return
    pyodide_http.patch_all()
    def through_kiosk(send, error):
        def send_via_kiosk(request, stream=False):
            original = request.url
            parts = urlsplit(original)
            relayed = parts.scheme in ("http", "https") and parts.netloc != here
            if relayed:
                request.url = "/api/fetch?url=" + quote(original, safe="")
            response = send(request, stream)
            if relayed and response.status_code >= 400:
                import json
                try:
                    message = json.loads(bytes(response.body))["message"]
                except Exception:
                    message = "the kiosk answered %d" % response.status_code
                raise error("could not download %s: %s" % (original, message))
            return response
        send_via_kiosk.kiosk = True
        return send_via_kiosk
    def route(name, error):
        module = sys.modules.get(name)
        send = getattr(module, "send", None)
        if send is not None and not getattr(send, "kiosk", False):
            module.send = through_kiosk(send, error)
    route("pyodide_http._urllib", OSError)
    # No import statement naming requests here: the kernel would load it at every start.
    def patch_requests():
        pyodide_http.patch_requests(continue_on_import_error=True)
        route("pyodide_http._requests", sys.modules["requests"].ConnectionError)
    if "requests" in sys.modules:
        patch_requests()
        return
    # Pyodide loads requests only when a cell imports it, long after this set-up ran:
    # patch it right after its first import instead.
    import importlib.util
    class PatchRequestsOnImport:
        busy = False
        def find_spec(self, name, path=None, target=None):
            if name != "requests" or self.busy:
                return None
            self.busy = True
            try:
                spec = importlib.util.find_spec(name)
            finally:
                self.busy = False
            loader = spec.loader if spec is not None else None
            if loader is None or not hasattr(loader, "exec_module"):
                return None
            sys.meta_path.remove(self)
            run = loader.exec_module
            def exec_module(module):
                run(module)
                patch_requests()
            loader.exec_module = exec_module
            return spec
    sys.meta_path.insert(0, PatchRequestsOnImport())
__kiosk_setup()
del __kiosk_setup
`.trimStart();

/** How many times the set-up is sent again after JupyterLite dropped it. */
const RETRIES = 3;

/**
 * Send the set-up on `connection`, and again when JupyterLite dropped it. JupyterLite
 * (0.6 and later) drops every request waiting in a kernel's queue, with no reply, when
 * one before it fails (a site's start-up cell that fails offline, a student's cell run
 * while the kernel starts). Another request's error, then its idle status, while ours
 * still waits: ours is gone, so it is sent again (the Python runs once even if it was not
 * dropped after all). The connection is disposed once the set-up is done.
 */
function runSetUp(connection: Kernel.IKernelConnection, retries: number): void {
  const future = connection.requestExecute({
    code: KERNEL_SETUP,
    silent: true,
    store_history: false
  });
  const mine = future.msg.header.msg_id;
  const failed = new Set<string>();
  let settled = false;
  const onIOPub = (_: Kernel.IKernelConnection, msg: KernelMessage.IIOPubMessage): void => {
    const parent = (msg.parent_header as Partial<KernelMessage.IHeader>).msg_id;
    if (settled || !parent || parent === mine) {
      return;
    }
    if (msg.header.msg_type === 'error') {
      failed.add(parent);
    } else if (
      msg.header.msg_type === 'status' &&
      (msg as KernelMessage.IStatusMsg).content.execution_state === 'idle' &&
      failed.has(parent)
    ) {
      settled = true;
      connection.iopubMessage.disconnect(onIOPub);
      future.dispose();
      if (retries > 0) {
        runSetUp(connection, retries - 1);
      } else {
        connection.dispose();
      }
    }
  };
  const finish = (): void => {
    if (settled) {
      return;
    }
    settled = true;
    connection.iopubMessage.disconnect(onIOPub);
    connection.dispose();
  };
  connection.iopubMessage.connect(onIOPub);
  future.done.then(finish, finish);
}

/**
 * Run the set-up once in each kernel the page's kernel manager reports running:
 * those already running now, then each new one as `runningChanged` announces it, on a
 * connection of its own (no comms), disposed once the set-up is done.
 */
export function setUpKernels(kernels: Kernel.IManager): void {
  const done = new Set<string>();
  const setUp = (): void => {
    for (const model of kernels.running()) {
      if (done.has(model.id)) {
        continue;
      }
      done.add(model.id);
      runSetUp(kernels.connectTo({ model, handleComms: false }), RETRIES);
    }
  };
  kernels.runningChanged.connect(setUp);
  setUp();
}

/**
 * Its own plugin, needing nothing but the application: it runs in every JupyterLite
 * app that starts kernels, whether or not the Share plugin's requirements are there.
 */
export const kernelSetupPlugin: JupyterFrontEndPlugin<void> = {
  id: KERNEL_SETUP_PLUGIN_ID,
  description: 'Route time.sleep() and downloads of every kernel through the kiosk.',
  autoStart: true,
  activate: (app: JupyterFrontEnd) => {
    setUpKernels(app.serviceManager.kernels);
  }
};
