#!/usr/bin/env node
// Gantry's node runtime: the AWS Lambda Runtime API loop around the user's handler.
//
// Started by gantry-shim (runtime-api mode) with AWS_LAMBDA_RUNTIME_API=host:port and
// _HANDLER=module.function (the module is required from LAMBDA_TASK_ROOT). Node's own
// modules only.
//
// In a stem cell (GANTRY_STEM=1) it starts belonging to no function: before it loads any
// handler it asks the shim for its specialisation (GET /2018-06-01/runtime/gantry/
// specialization, answered once gantryd has put the function's package in place), takes
// the function's environment from the answer and only then requires the handler.
//
// The handler is called once per request, in this one warm process, and may be async:
//   exports.main = async (req) => ...   req.body (string, or Buffer when not UTF-8),
//                                        req.method, req.path, req.query (object),
//                                        req.rawQuery, req.headers (lower-case names),
//                                        req.callId, req.deadlineMs, req.event, req.json()
//   exports.main = async (event, context) => ...   Lambda style (API Gateway 2.0 event)
// It may return: a string or Buffer (the body of a 200); an object with statusCode (and
// headers, body, isBase64Encoded); undefined/null (an empty 200); anything else is sent as
// JSON. A thrown error or rejected promise becomes a 500 with a JSON body
// {"error", "type", "callId"}, and its stack goes to the log with the call id.
'use strict';

const net = require('net');
const path = require('path');

const api = process.env.AWS_LAMBDA_RUNTIME_API;
const [apiHost, apiPort] = [api.slice(0, api.lastIndexOf(':')), Number(api.slice(api.lastIndexOf(':') + 1))];
const NEXT_PATH = '/2018-06-01/runtime/invocation/next';
const EMPTY = Buffer.alloc(0);

// The shim's Runtime API over one kept-alive TCP_NODELAY socket, with a minimal HTTP/1.1
// client: requests written back to back (pipelined, in one write when sent together) and
// their responses read in order. node's http client cost more per call than the whole rest
// of the call path (an Agent, a ClientRequest and a parser per request).
class RuntimeApi {
  constructor(host, port) {
    this.host = host;
    this.port = port;
    this.socket = null;
    this.pending = []; // one {resolve, reject} per request written, in order
    this.buffer = EMPTY;
  }

  connect() {
    const socket = net.connect({ host: this.host, port: this.port, noDelay: true });
    socket.setNoDelay(true);
    socket.on('data', (chunk) => {
      this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
      this.parse(false);
    });
    const gone = (err) => {
      if (this.socket !== socket) return;
      this.parse(true);
      this.socket = null;
      this.buffer = EMPTY;
      const pending = this.pending;
      this.pending = [];
      for (const p of pending) p.reject(err || new Error('runtime API connection closed'));
    };
    socket.on('error', gone);
    socket.on('close', () => gone(null));
    this.socket = socket;
  }

  // Takes complete responses off the buffer (at the end of the stream: also one delimited
  // by the close).
  parse(ended) {
    while (this.pending.length) {
      const buf = this.buffer;
      const head = buf.indexOf('\r\n\r\n');
      if (head < 0) return;
      const lines = buf.toString('latin1', 0, head).split('\r\n');
      const status = Number(lines[0].split(' ')[1]);
      const headers = {};
      for (let i = 1; i < lines.length; i++) {
        const colon = lines[i].indexOf(':');
        if (colon > 0) headers[lines[i].slice(0, colon).trim().toLowerCase()] = lines[i].slice(colon + 1).trim();
      }
      const start = head + 4;
      let end;
      if (headers['content-length'] !== undefined) {
        end = start + Number(headers['content-length']);
        if (buf.length < end) return;
      } else if (status === 204 || status === 304 || (status >= 100 && status < 200)) {
        end = start;
      } else if (ended) {
        end = buf.length;
      } else {
        return;
      }
      this.buffer = end === buf.length ? EMPTY : buf.subarray(end);
      const close = (headers.connection || '').toLowerCase() === 'close';
      this.pending.shift().resolve({ status, headers, body: buf.subarray(start, end) });
      if (close && this.socket) {
        const socket = this.socket;
        this.socket = null;
        const pending = this.pending;
        this.pending = [];
        socket.destroy();
        for (const p of pending) p.reject(new Error('runtime API connection closed'));
        return;
      }
    }
  }

  // Writes `requests` ([method, path, body]) in one write; a promise per response.
  send(requests) {
    if (!this.socket) this.connect();
    const parts = [];
    const promises = requests.map(([method, urlPath, body]) => {
      const payload = body === undefined ? EMPTY : Buffer.from(body);
      parts.push(Buffer.from(`${method} ${urlPath} HTTP/1.1\r\nHost: ${this.host}\r\n` +
        (method === 'GET' ? '' : `Content-Type: application/json\r\nContent-Length: ${payload.length}\r\n`) +
        '\r\n', 'latin1'));
      if (payload.length) parts.push(payload);
      return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
    });
    this.socket.write(parts.length === 1 ? parts[0] : Buffer.concat(parts));
    return promises;
  }

  // One request; a GET (nothing lost by repeating it) is sent again on a new connection
  // when the one it went on closes unanswered (the shim drops a replaced waiter so).
  async call(method, urlPath, body) {
    try {
      return await this.send([[method, urlPath, body]])[0];
    } catch (err) {
      if (method !== 'GET') throw err;
      return this.send([[method, urlPath, body]])[0];
    }
  }

  // The answer to one call and the ask for the next, in one write. The answer's status is
  // not needed; a connection lost before it was answered ends the process (as a failed
  // POST always did: the shim answers that call 502 and restarts the handler).
  async answerAndNext(urlPath, payload) {
    const [posted, next] = this.send([['POST', urlPath, payload], ['GET', NEXT_PATH]]);
    next.catch(() => {});
    await posted;
    try {
      return await next;
    } catch (err) {
      return this.call('GET', NEXT_PATH);
    }
  }
}

const runtime = new RuntimeApi(apiHost, apiPort);
const call = (method, urlPath, body) => runtime.call(method, urlPath, body);

function errorPayload(err) {
  const e = err instanceof Error ? err : new Error(String(err));
  return JSON.stringify({
    errorMessage: e.message,
    errorType: e.name || 'Error',
    stackTrace: String(e.stack || '').split('\n'),
  });
}

class Request {
  constructor(event, callId, deadlineMs) {
    const httpInfo = (event.requestContext && event.requestContext.http) || {};
    this.event = event;
    this.callId = callId;
    this.deadlineMs = deadlineMs;
    this.method = httpInfo.method || 'GET';
    this.path = event.rawPath || '/';
    this.rawQuery = event.rawQueryString || '';
    this.query = event.queryStringParameters || {};
    this.headers = event.headers || {};
    const body = event.body || '';
    this.body = event.isBase64Encoded ? Buffer.from(body, 'base64') : body;
  }

  json() { return JSON.parse(Buffer.isBuffer(this.body) ? this.body.toString('utf8') : this.body); }
}

function toResponse(result) {
  if (result && typeof result === 'object' && !Buffer.isBuffer(result) && 'statusCode' in result) {
    if (Buffer.isBuffer(result.body)) {
      return { ...result, body: result.body.toString('base64'), isBase64Encoded: true };
    }
    return result;
  }
  if (result === undefined || result === null) return { statusCode: 200, headers: {}, body: '' };
  if (Buffer.isBuffer(result)) {
    return {
      statusCode: 200, headers: { 'Content-Type': 'application/octet-stream' },
      body: result.toString('base64'), isBase64Encoded: true,
    };
  }
  if (typeof result === 'string') {
    return { statusCode: 200, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: result };
  }
  return { statusCode: 200, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(result) };
}

// A stem's first call should not pay for code that never ran (node compiles lazily): the
// path of a call -- the event, the answer, a POST to the runtime API -- runs once on a
// made-up call, whose answer the shim refuses (there is no such request id).
async function warmUp() {
  // What handlers commonly require from node itself, loaded while the cell waits: a
  // handler's own require of them is then a cache hit (crypto alone is ~12 ms at first).
  for (const name of ['crypto', 'os', 'url', 'util', 'zlib', 'https', 'querystring', 'stream']) {
    require(name);
  }
  const event = { rawPath: '/', requestContext: { http: { method: 'GET' } }, headers: {}, body: '' };
  const req = new Request(event, 'gantry-warm-up', 0);
  const payload = JSON.stringify(toResponse(`${req.method} ${req.path}`));
  await call('POST', '/2018-06-01/runtime/invocation/gantry-warm-up/response', payload);
}

// In a stem cell, waits for the function and makes its package requirable: the answer's
// env is the function's whole environment, and NODE_PATH (the dependencies) is read again.
async function specialize() {
  if (process.env.GANTRY_STEM !== '1') return;
  await warmUp();
  let answer;
  for (;;) {
    answer = await call('GET', '/2018-06-01/runtime/gantry/specialization');
    if (answer.status === 200) break;
    console.error(`runtime API: GET specialization returned ${answer.status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const env = JSON.parse(answer.body.toString('utf8')).env || {};
  for (const [name, value] of Object.entries(env)) process.env[name] = String(value);
  delete process.env.GANTRY_STEM;
  process.chdir(process.env.LAMBDA_TASK_ROOT || process.cwd());
  require('module').Module._initPaths();
}

async function loadHandler() {
  const spec = process.env._HANDLER || process.env.GANTRY_HANDLER || 'handler.main';
  const root = process.env.LAMBDA_TASK_ROOT || process.cwd();
  // The whole stack of a load failure reaches the log, down to this frame (node keeps 10).
  const stackLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 100;
  try {
    const dot = spec.lastIndexOf('.');
    if (dot <= 0) throw new Error(`handler ${JSON.stringify(spec)} is not module.function`);
    const mod = require(path.resolve(root, spec.slice(0, dot)));
    const fn = mod[spec.slice(dot + 1)];
    if (typeof fn !== 'function') throw new Error(`module ${spec.slice(0, dot)} has no function ${spec.slice(dot + 1)}`);
    return fn;
  } catch (err) {
    console.error(err && err.stack ? err.stack : String(err));
    await call('POST', '/2018-06-01/runtime/init/error', errorPayload(err));
    process.exit(1);
  } finally {
    Error.stackTraceLimit = stackLimit;
  }
  return null;
}

async function main() {
  await specialize();
  const fn = await loadHandler();
  const lambdaStyle = fn.length >= 2;
  let next = await call('GET', NEXT_PATH);
  for (;;) {
    if (next.status !== 200) {
      console.error(`runtime API: GET next returned ${next.status}`);
      next = await call('GET', NEXT_PATH);
      continue;
    }
    const callId = next.headers['lambda-runtime-aws-request-id'] || '';
    const deadlineMs = Number(next.headers['lambda-runtime-deadline-ms'] || 0);
    let payload;
    let route;
    try {
      const event = JSON.parse(next.body.toString('utf8'));
      let result;
      if (lambdaStyle) {
        const context = {
          awsRequestId: callId,
          invokedFunctionArn: next.headers['lambda-runtime-invoked-function-arn'] || '',
          functionName: process.env.AWS_LAMBDA_FUNCTION_NAME || 'function',
          functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION || '$LATEST',
          memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE || '0',
          logGroupName: `/aws/lambda/${process.env.AWS_LAMBDA_FUNCTION_NAME || 'function'}`,
          logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME || '',
          callbackWaitsForEmptyEventLoop: true,
          getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
        };
        result = await fn(event, context);
      } else {
        result = await fn(new Request(event, callId, deadlineMs));
      }
      payload = JSON.stringify(toResponse(result));
      route = 'response';
    } catch (err) {
      console.error(err && err.stack ? err.stack : String(err));
      payload = errorPayload(err);
      route = 'error';
    }
    next = await runtime.answerAndNext(`/2018-06-01/runtime/invocation/${callId}/${route}`, payload);
  }
}

main().catch((err) => {
  console.error(`bootstrap: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
