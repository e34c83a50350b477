// The kiosk's service worker, served at /service-worker.js instead of the bundle's own.
//
// On a secure origin (http://localhost, HTTPS) JupyterLite registers a service worker
// that answers the kernel's synchronous POST /api/drive (files under /drive) and
// POST /api/stdin/<handler> (input()) by asking the page on BroadcastChannel('/sw-api.v1').
// The page answers {response, browsingContextId} and nothing else: no request id
// (JupyterLite 0.6.x). JupyterLite's worker gives the next answer of a browsing context
// to every request of that context still waiting, but one tab holds several kernels
// (the lesson's and a new notebook's) under one context id: their file calls swap
// answers, a stat gets a directory listing, and Pyodide dies with a fatal error
// ("stat.atime is undefined"), so the kernel never becomes idle.
//
// This worker speaks the same protocol but keeps answers apart: a context has at most
// one file call on the channel at a time (the others wait their turn), and an input()
// answer goes to the request whose message it replies to (its parent_header.msg_id).
// Every other request goes to the network untouched (the kiosk is the cache).
'use strict';

var CHANNEL = '/sw-api.v1';
// A page that never answers (closed, crashed) must not hold the kernel forever: its
// call fails (EINVAL in Python) and the next one of the context gets its turn.
var DRIVE_TIMEOUT_MS = 60000;

var channel = new BroadcastChannel(CHANNEL);
var driveTail = new Map(); // context id -> promise settled when its last queued call is done
var driveWaiting = new Map(); // context id -> the resolve() of its call on the channel
var stdinWaiting = new Map(); // input_request msg_id -> resolve()

self.addEventListener('install', function () { self.skipWaiting(); });
self.addEventListener('activate', function (event) { event.waitUntil(self.clients.claim()); });

channel.addEventListener('message', function (event) {
  var msg = event.data;
  if (!msg || typeof msg !== 'object' || !('response' in msg)) return; // a request
  var reply = msg.response;
  var resolve;
  if (reply && reply.header && reply.header.msg_type === 'input_reply') {
    var parentId = reply.parent_header && reply.parent_header.msg_id;
    resolve = stdinWaiting.get(parentId);
    if (resolve) {
      stdinWaiting.delete(parentId);
      resolve(reply);
    }
    return;
  }
  resolve = driveWaiting.get(msg.browsingContextId);
  if (resolve) {
    driveWaiting.delete(msg.browsingContextId);
    resolve(reply);
  }
});

function answer(value) {
  return new Response(JSON.stringify(value === undefined ? null : value),
    { headers: { 'Content-Type': 'application/json' } });
}

function refuse(status, text) {
  return new Response(text, { status: status, headers: { 'Content-Type': 'text/plain' } });
}

function post(body, pathname) {
  var message = {};
  for (var key in body) message[key] = body[key];
  message.pathname = pathname;
  channel.postMessage(message);
}

// Put one file call on the channel and wait for its context's next answer.
function askPage(context, body, pathname) {
  return new Promise(function (resolve, reject) {
    var timer = setTimeout(function () {
      if (driveWaiting.get(context) === done) driveWaiting.delete(context);
      reject(new Error('the notebook page did not answer'));
    }, DRIVE_TIMEOUT_MS);
    function done(reply) {
      clearTimeout(timer);
      resolve(reply);
    }
    driveWaiting.set(context, done);
    post(body, pathname);
  });
}

async function drive(request, pathname) {
  var body;
  try { body = await request.json(); } catch (e) { return refuse(400, 'the body is not JSON'); }
  var context = body && body.browsingContextId;
  if (typeof context !== 'string' || !context) return refuse(400, 'no browsingContextId');
  var mine = (driveTail.get(context) || Promise.resolve()).then(function () {
    return askPage(context, body, pathname);
  });
  var tail = mine.then(function () {}, function () {});
  driveTail.set(context, tail);
  try {
    return answer(await mine);
  } catch (err) {
    return refuse(504, String(err && err.message || err));
  } finally {
    if (driveTail.get(context) === tail) driveTail.delete(context);
  }
}

// input() waits as long as the student does: no time limit, and no turn to wait for.
async function stdin(request, pathname) {
  var body;
  try { body = await request.json(); } catch (e) { return refuse(400, 'the body is not JSON'); }
  var header = body && body.data && body.data.header;
  var id = header && header.msg_id;
  if (typeof id !== 'string' || !id) return refuse(400, 'no input_request message id');
  var reply = await new Promise(function (resolve) {
    stdinWaiting.set(id, resolve);
    post(body, pathname);
  });
  return answer(reply);
}

self.addEventListener('fetch', function (event) {
  var url = new URL(event.request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.endsWith('/api/service-worker-heartbeat')) {
    event.respondWith(new Response('ok'));
  } else if (event.request.method === 'POST' && url.pathname.endsWith('/api/drive')) {
    event.respondWith(drive(event.request, url.pathname));
  } else if (event.request.method === 'POST' && url.pathname.indexOf('/api/stdin/') !== -1) {
    event.respondWith(stdin(event.request, url.pathname));
  }
});
