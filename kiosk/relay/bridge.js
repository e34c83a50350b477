// The kiosk's bridge: loaded by every bundle page, before JupyterLite's own scripts.
//
// 1. On plain HTTP (no service worker possible), it makes JupyterLite believe a service
//    worker is registered (elsewhere the real one is used), so the Pyodide kernel mounts the notebook's files at /drive, and
//    it relays what a service worker would answer: the kernel's file requests and input()
//    reach the kiosk, the kiosk sends them here over a WebSocket, and this script hands them
//    to the page on BroadcastChannel('/sw-api.v1') exactly as the service worker would.
// 2. On every origin, once a kernel starts, it runs a few silent lines in it so that
//    time.sleep() waits without spinning a core and downloads (urllib, pandas, and
//    requests once a cell imports it) go through the kiosk's /api/fetch; it sends them
//    again if JupyterLite dropped them behind a failed request (see runSetUp).
// 3. On plain HTTP, it gives navigator.clipboard.writeText a fallback (see clipboardFallback).
(function () {
  'use strict';
  var CHANNEL = '/sw-api.v1';
  var realServiceWorker = window.isSecureContext && 'serviceWorker' in navigator;

  var KERNEL_SETUP = [
    'def __kiosk_setup():',
    '    import sys, time, js',
    // Sent again when JupyterLite may have dropped it (see setUpKernels): run once only.
    '    if getattr(time.sleep, "kiosk", False):',
    '        return',
    '    from urllib.parse import quote, urlsplit',
    '    here = str(js.location.host)',
    '    def sleep(seconds):',
    '        seconds = float(seconds)',
    '        if seconds != seconds or seconds < 0:',
    '            raise ValueError("sleep length must be a non-negative number")',
    '        while seconds > 0:',
    '            part = min(seconds, 600.0)',
    '            xhr = js.XMLHttpRequest.new()',
    '            xhr.open("GET", "/api/sleep?seconds=" + repr(part), False)',
    '            xhr.send(None)',
    '            seconds -= part',
    '    sleep.kiosk = True',
    '    time.sleep = sleep',
    '    try:',
    '        import pyodide_http',
    '    except ImportError:',
    '        return',
    '    pyodide_http.patch_all()',
    '    def through_kiosk(send, error):',
    '        def send_via_kiosk(request, stream=False):',
    '            original = request.url',
    '            parts = urlsplit(original)',
    '            relayed = parts.scheme in ("http", "https") and parts.netloc != here',
    '            if relayed:',
    '                request.url = "/api/fetch?url=" + quote(original, safe="")',
    '            response = send(request, stream)',
    '            if relayed and response.status_code >= 400:',
    '                import json',
    '                try:',
    '                    message = json.loads(bytes(response.body))["message"]',
    '                except Exception:',
    '                    message = "the kiosk answered %d" % response.status_code',
    '                raise error("could not download %s: %s" % (original, message))',
    '            return response',
    '        send_via_kiosk.kiosk = True',
    '        return send_via_kiosk',
    '    def route(name, error):',
    '        module = sys.modules.get(name)',
    '        send = getattr(module, "send", None)',
    '        if send is not None and not getattr(send, "kiosk", False):',
    '            module.send = through_kiosk(send, error)',
    '    route("pyodide_http._urllib", OSError)',
    // No import statement naming requests here: the kernel would load it at every start.
    '    def patch_requests():',
    '        pyodide_http.patch_requests(continue_on_import_error=True)',
    '        route("pyodide_http._requests", sys.modules["requests"].ConnectionError)',
    '    if "requests" in sys.modules:',
    '        patch_requests()',
    '        return',
    // Pyodide loads requests only when a cell imports it, long after this set-up ran:
    // patch it right after its first import instead.
    '    import importlib.util',
    '    class PatchRequestsOnImport:',
    '        busy = False',
    '        def find_spec(self, name, path=None, target=None):',
    '            if name != "requests" or self.busy:',
    '                return None',
    '            self.busy = True',
    '            try:',
    '                spec = importlib.util.find_spec(name)',
    '            finally:',
    '                self.busy = False',
    '            loader = spec.loader if spec is not None else None',
    '            if loader is None or not hasattr(loader, "exec_module"):',
    '                return None',
    '            sys.meta_path.remove(self)',
    '            run = loader.exec_module',
    '            def exec_module(module):',
    '                run(module)',
    '                patch_requests()',
    '            loader.exec_module = exec_module',
    '            return spec',
    '    sys.meta_path.insert(0, PatchRequestsOnImport())',
    '__kiosk_setup()',
    'del __kiosk_setup',
  ].join('\n');

  function fakeRegistration() {
    return {
      scope: location.origin + '/', active: null, installing: null, waiting: null,
      update: function () { return Promise.resolve(); },
      unregister: function () { return Promise.resolve(true); },
      addEventListener: function () {}, removeEventListener: function () {},
      kioskRelay: true,
    };
  }

  // A secure origin whose service worker cannot register (an untrusted certificate, a
  // private window): fall back to the kiosk's relay instead of losing files and input().
  function registerOrRelay() {
    var proto = window.ServiceWorkerContainer && ServiceWorkerContainer.prototype;
    if (!proto || !proto.register) return;
    var realRegister = proto.register;
    proto.register = function () {
      return realRegister.apply(this, arguments).catch(function (err) {
        console.warn('kiosk: no service worker here (' + err + '); the kiosk relays instead');
        window.kioskRelayFallback = true;
        return fakeRegistration();
      });
    };
  }

  function fakeServiceWorker() {
    var registration = fakeRegistration();
    var container = {
      controller: null,
      ready: new Promise(function () {}),
      register: function () { return Promise.resolve(registration); },
      getRegistration: function () { return Promise.resolve(undefined); },
      getRegistrations: function () { return Promise.resolve([]); },
      addEventListener: function () {}, removeEventListener: function () {},
      startMessages: function () {},
      kioskRelay: true,
    };
    Object.defineProperty(Navigator.prototype, 'serviceWorker', {
      configurable: true, get: function () { return container; },
    });
  }

  // The kiosk names this browser with an HttpOnly cookie set on this script's answer;
  // the socket and the kernel's requests carry it, and no script can read it.
  function startRelay() {
    var channel = new BroadcastChannel(CHANNEL);
    var pending = [];
    var socket = null;
    var delay = 500;

    channel.addEventListener('message', function (event) {
      var msg = event.data;
      if (!msg || typeof msg !== 'object' || !('response' in msg)) return;
      for (var i = 0; i < pending.length; i++) {
        var p = pending[i];
        if (p.context === msg.browsingContextId && p.requestId === msg.requestId) {
          pending.splice(i, 1);
          if (p.socket.readyState === WebSocket.OPEN) {
            p.socket.send(JSON.stringify({ id: p.id, response: msg.response === undefined ? null : msg.response }));
          }
          return;
        }
      }
    });

    function connect() {
      var scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
      var ws = new WebSocket(scheme + '//' + location.host + '/api/relay/ws');
      socket = ws;
      ws.addEventListener('open', function () { delay = 500; });
      ws.addEventListener('message', function (event) {
        var req;
        try { req = JSON.parse(event.data); } catch (e) { return; }
        var body = req.body || {};
        pending.push({ id: req.id, context: body.browsingContextId, requestId: body.requestId, socket: ws });
        var message = {};
        for (var key in body) message[key] = body[key];
        message.pathname = req.pathname;
        channel.postMessage(message);
      });
      ws.addEventListener('close', function () {
        pending = pending.filter(function (p) { return p.socket !== ws; });
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 10000);
      });
    }
    connect();
  }

  // JupyterLite (0.6 and later) drops every request waiting in a kernel's queue, with no
  // reply, when one before it fails (a site's start-up cell that fails offline, a
  // student's cell run while the kernel starts). Another request's error, then its idle
  // status, while ours still waits: ours is gone, so it is sent again (the set-up runs
  // once even if it was not dropped after all).
  function runSetUp(connection, retries) {
    var future = connection.requestExecute({ code: KERNEL_SETUP, silent: true, store_history: false });
    var mine = future.msg.header.msg_id;
    var failed = {};
    var settled = false;
    var onIOPub = function (_, msg) {
      var parent = msg.parent_header && msg.parent_header.msg_id;
      if (settled || !parent || parent === mine) return;
      if (msg.header.msg_type === 'error') {
        failed[parent] = true;
      } else if (msg.header.msg_type === 'status' && msg.content.execution_state === 'idle' && failed[parent]) {
        settled = true;
        connection.iopubMessage.disconnect(onIOPub);
        future.dispose();
        if (retries > 0) runSetUp(connection, retries - 1); else connection.dispose();
      }
    };
    var finish = function () {
      if (settled) return;
      settled = true;
      connection.iopubMessage.disconnect(onIOPub);
      connection.dispose();
    };
    connection.iopubMessage.connect(onIOPub);
    future.done.then(finish, finish);
  }

  function setUpKernels() {
    var tries = 0;
    var timer = setInterval(function () {
      var app = window.jupyterapp;
      tries += 1;
      if (!app || !app.serviceManager) {
        if (tries > 240) clearInterval(timer);
        return;
      }
      clearInterval(timer);
      var kernels = app.serviceManager.kernels;
      var done = {};
      var setUp = function () {
        var models = Array.from(kernels.running());
        models.forEach(function (model) {
          if (done[model.id]) return;
          done[model.id] = true;
          runSetUp(kernels.connectTo({ model: model, handleComms: false }), 3);
        });
      };
      kernels.runningChanged.connect(setUp);
      setUp();
    }, 500);
  }

  // Plain HTTP has no Clipboard API, so a site's own "Copy link" button that calls
  // navigator.clipboard.writeText (Jupyter Everywhere's) only failed. Copy the way
  // browsers allow there, during the click: a hidden text field and execCommand('copy').
  function clipboardFallback() {
    if (window.isSecureContext || 'clipboard' in navigator) return;
    var refuse = function (what) {
      return Promise.reject(new DOMException(what + ' needs HTTPS', 'NotAllowedError'));
    };
    var clipboard = {
      writeText: function (text) {
        var field = document.createElement('textarea');
        field.value = String(text);
        field.setAttribute('readonly', '');
        field.setAttribute('aria-hidden', 'true');
        field.style.cssText = 'position:fixed;top:0;left:0;width:1px;height:1px;opacity:0';
        var before = document.activeElement;
        document.body.appendChild(field);
        field.select();
        var copied = false;
        try { copied = document.execCommand('copy'); } catch (e) { copied = false; }
        document.body.removeChild(field);
        if (before && typeof before.focus === 'function') before.focus();
        return copied ? Promise.resolve()
          : Promise.reject(new DOMException('the browser refused to copy', 'NotAllowedError'));
      },
      readText: function () { return refuse('reading the clipboard'); },
      read: function () { return refuse('reading the clipboard'); },
      write: function () { return refuse('copying anything but text'); },
    };
    Object.defineProperty(Navigator.prototype, 'clipboard', {
      configurable: true, get: function () { return clipboard; },
    });
  }

  clipboardFallback();
  if (realServiceWorker) registerOrRelay(); else fakeServiceWorker();
  // Also on secure origins: until JupyterLite's service worker controls the page (first
  // visit), the kernel's requests reach the kiosk, which relays them here all the same.
  startRelay();
  setUpKernels();
})();
