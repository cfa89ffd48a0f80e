// The http-mode function for bench/shim: echoes the request body.
require('http').createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => res.end(Buffer.concat(chunks)));
}).listen(8080, '127.0.0.1');
