'use strict';
// A plain node HTTP server: GET /time answers the time, anything else echoes what it got.
const http = require('http');

http.createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => { body += chunk; });
  req.on('end', () => {
    res.setHeader('Content-Type', 'application/json');
    if (req.url.endsWith('/time')) {
      res.end(JSON.stringify({ now: new Date().toISOString() }));
      return;
    }
    res.end(JSON.stringify({ method: req.method, url: req.url, body }));
  });
}).listen(Number(process.env.PORT || 8080));
