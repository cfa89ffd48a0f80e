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

const http = require('http');
const path = require('path');

const api = process.env.AWS_LAMBDA_RUNTIME_API;
const [apiHost, apiPort] = [api.slice(0, api.lastIndexOf(':')), Number(api.slice(api.lastIndexOf(':') + 1))];
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function call(method, urlPath, body) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(body);
    const req = http.request(
      {
        host: apiHost, port: apiPort, method, path: urlPath, agent,
        headers: payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {},
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
    req.on('error', reject);
    req.end(payload);
  });
}

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
  for (;;) {
    const next = await call('GET', '/2018-06-01/runtime/invocation/next');
    if (next.status !== 200) {
      console.error(`runtime API: GET next returned ${next.status}`);
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
    await call('POST', `/2018-06-01/runtime/invocation/${callId}/${route}`, payload);
  }
}

main().catch((err) => {
  console.error(`bootstrap: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
