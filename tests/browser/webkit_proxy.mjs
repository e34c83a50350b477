// A forwarding HTTP proxy for WebKitGTK, which has no host-resolver override: requests
// for the one allowed origin (e.g. http://kiosk.test:PORT) go to 127.0.0.1:PORT; every
// other request (another host, another port, CONNECT, a WebSocket upgrade elsewhere) is
// refused and recorded in `foreign`, which the test asserts is empty.
import http from 'node:http';
import net from 'node:net';

const HOP = ['proxy-connection', 'proxy-authorization', 'keep-alive', 'connection', 'te', 'trailer', 'upgrade'];

export async function startProxy(allowedOrigin) {
  const allowed = new URL(allowedOrigin);
  const foreign = [];
  let forwarded = 0;
  const kernelPosts = { drive: 0, stdin: 0 };
  const target = (rawUrl) => {
    try {
      // WebSocket upgrades arrive as ws://host:port/...: compare host and port only.
      const u = new URL(rawUrl);
      return ['http:', 'ws:'].includes(u.protocol) && u.host === allowed.host ? u : null;
    } catch { return null; }
  };
  const server = http.createServer((req, res) => {
    const u = target(req.url);
    if (!u) {
      foreign.push(`${req.method} ${req.url}`);
      res.writeHead(403, { 'content-type': 'text/plain' });
      res.end('refused by the test proxy');
      return;
    }
    forwarded += 1;
    // The kernel's file and input() calls reach the kiosk (its relay) only when no
    // service worker answered them in the browser.
    if (req.method === 'POST' && u.pathname === '/api/drive') kernelPosts.drive += 1;
    if (req.method === 'POST' && u.pathname.startsWith('/api/stdin/')) kernelPosts.stdin += 1;
    if (process.env.KIOSK_PROXY_LOG) process.stderr.write(`proxy: ${req.method} ${u.pathname}${u.search}\n`);
    const headers = { ...req.headers };
    for (const h of HOP) delete headers[h];
    const up = http.request({
      host: '127.0.0.1', port: Number(u.port || 80), method: req.method,
      path: u.pathname + u.search, headers,
    }, (r) => {
      const out = { ...r.headers };
      for (const h of HOP) delete out[h];
      res.writeHead(r.statusCode, r.statusMessage, out);
      r.pipe(res);
    });
    up.on('error', (e) => { if (!res.headersSent) res.writeHead(502); res.end(String(e)); });
    req.pipe(up);
  });
  server.on('connect', (req, sock) => {
    foreign.push(`CONNECT ${req.url}`);
    sock.end('HTTP/1.1 403 Forbidden\r\n\r\n');
  });
  server.on('upgrade', (req, sock, head) => {
    const u = target(req.url);
    if (!u) {
      foreign.push(`UPGRADE ${req.url}`);
      sock.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const up = net.connect(Number(u.port || 80), '127.0.0.1', () => {
      const lines = [`${req.method} ${u.pathname + u.search} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        if (!['proxy-connection', 'proxy-authorization'].includes(req.rawHeaders[i].toLowerCase())) {
          lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
        }
      }
      up.write(lines.join('\r\n') + '\r\n\r\n');
      if (head && head.length) up.write(head);
      up.pipe(sock);
      sock.pipe(up);
    });
    up.on('error', () => sock.destroy());
    sock.on('error', () => up.destroy());
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    foreign,
    forwarded: () => forwarded,
    kernelPosts,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
