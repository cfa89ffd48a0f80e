'use strict';

const crypto = require('crypto');
const os = require('os');

// The one dependency, installed at build from package.json (a tarball vendored in
// ./vendor, so the build needs no registry).
const { greet } = require('greetings');

// Greets the caller named in ?name=, in a JSON body {"name": ...}, or in a plain body.
exports.main = async (req) => {
  const body = typeof req.body === 'string' ? req.body.trim() : '';
  let name = req.query.name;
  if (!name && body.startsWith('{')) {
    try {
      name = JSON.parse(body).name;
    } catch (e) {
      return { statusCode: 400, headers: { 'Content-Type': 'application/json' },
               body: JSON.stringify({ error: 'body is not a JSON object' }) };
    }
  }
  return {
    message: greet(name || body),
    runtime: `node ${process.version}`,
    id: crypto.randomUUID(),
    host: os.hostname(),
  };
};
