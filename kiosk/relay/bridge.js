// The kiosk's bridge: loaded by every bundle page, before JupyterLite's own scripts.
//
// 1. On plain HTTP (no service worker possible), it makes JupyterLite believe a service
//    worker is registered (elsewhere the real one is used), so the Pyodide kernel mounts
//    the notebook's files at /drive, and it relays what a service worker would answer: the
//    kernel's file requests and input() reach the kiosk, the kiosk sends them here over a
//    WebSocket, and this script hands them to the page on BroadcastChannel('/sw-api.v1')
//    exactly as the service worker would.
// 2. On plain HTTP, it gives navigator.clipboard.writeText a fallback (see clipboardFallback).
//
// Only what must be in place before JupyterLite starts lives here: JupyterLite reads the
// service-worker API while it starts, the relay's socket belongs with that stand-in (this
// script's answer also sets the browser's cookie), and both serve sites imported without
// the kiosk's extension. What can wait for the app, the silent set-up each kernel gets
// (time.sleep, downloads through the kiosk), is in the kiosk's TypeScript extension
// (extension/src/kernelsetup.ts).
(function () {
  'use strict';
  var CHANNEL = '/sw-api.v1';
  var realServiceWorker = window.isSecureContext && 'serviceWorker' in navigator;

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
})();
