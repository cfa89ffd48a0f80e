'use strict';

// Greets the caller named in ?name= (or in the body).
exports.main = async (req) => {
  const body = typeof req.body === 'string' ? req.body.trim() : '';
  const name = req.query.name || body || 'world';
  return { message: `hello, ${name}!`, runtime: `node ${process.version}` };
};
