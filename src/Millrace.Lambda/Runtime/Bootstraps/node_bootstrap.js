// Millrace's bootstrap for the nodejs runtimes: the Lambda Runtime API loop that AWS's Node.js runtime runs.
// Loads _HANDLER (`path/file.export`) from LAMBDA_TASK_ROOT as CommonJS or an ES module (.mjs, .cjs, .js with
// "type": "module"), supports async handlers, callback handlers and context.succeed/fail/done, and writes
// console output as AWS does: `<ISO time>\t<request id>\t<LEVEL>\t<message>`.
'use strict';
const http = require('http');
const fs = require('fs');
const path = require('path');
const util = require('util');
const { pathToFileURL } = require('url');

const [HOST, PORT] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
const BASE = '/2018-06-01/runtime';
const MARKER = '\u001eMILLRACE-END ';
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
let currentRequestId;

function call(method, p, body, headers) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
    const req = http.request({ host: HOST, port: PORT, method, path: p, agent,
      headers: Object.assign({}, headers, data ? { 'Content-Length': data.length } : {}) }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

// One stdout line per log event: embedded newlines travel as \r, as AWS's runtime does.
function writeLine(level, args) {
  const text = util.format.apply(null, args).replace(/\n/g, '\r');
  process.stdout.write(`${new Date().toISOString()}\t${currentRequestId || 'undefined'}\t${level}\t${text}\n`);
}
for (const [name, level] of [['log', 'INFO'], ['info', 'INFO'], ['warn', 'WARN'], ['error', 'ERROR'], ['debug', 'DEBUG'], ['trace', 'TRACE']]) {
  console[name] = (...args) => writeLine(level, args);
}

// Tells Millrace this invocation's output is complete (the line is not logged). Pipes are synchronous on Linux.
function end(requestId) {
  process.stdout.write(MARKER + requestId + '\n');
  process.stderr.write(MARKER + requestId + '\n');
}

function errorBody(e) {
  if (!(e instanceof Error)) {
    return { errorType: 'string', errorMessage: typeof e === 'string' ? e : JSON.stringify(e), trace: [] };
  }
  return { errorType: e.name || 'Error', errorMessage: e.message, trace: (e.stack || '').split('\n') };
}

function isModule(file) {
  if (file.endsWith('.mjs')) return true;
  if (file.endsWith('.cjs')) return false;
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try { return JSON.parse(fs.readFileSync(pkg, 'utf8')).type === 'module'; } catch { return false; }
    }
    if (dir === path.dirname(dir)) return false;
  }
}

async function loadHandler() {
  const handler = process.env._HANDLER || '';
  const root = process.env.LAMBDA_TASK_ROOT || process.cwd();
  const dot = handler.lastIndexOf('.');
  if (dot <= 0) {
    throw Object.assign(new Error(`Bad handler ${handler}`), { name: 'Runtime.MalformedHandlerName' });
  }
  const modulePath = handler.slice(0, dot);
  const exportPath = handler.slice(dot + 1);
  const base = path.resolve(root, modulePath);
  const file = ['.js', '.mjs', '.cjs'].map((ext) => base + ext).find((f) => fs.existsSync(f));
  if (!file) {
    throw Object.assign(new Error(`Cannot find module '${modulePath}'`), { name: 'Runtime.ImportModuleError' });
  }
  const mod = isModule(file) ? await import(pathToFileURL(file).href) : require(file);
  const fn = exportPath.split('.').reduce((o, k) => (o == null ? undefined : o[k]), mod) ??
    (mod.default ? mod.default[exportPath] : undefined);
  if (typeof fn !== 'function') {
    throw Object.assign(new Error(`${modulePath}.${exportPath} is undefined or not exported`), { name: 'Runtime.HandlerNotFound' });
  }
  return fn;
}

function context(headers) {
  const deadline = Number(headers['lambda-runtime-deadline-ms'] || 0);
  const env = process.env;
  return {
    awsRequestId: headers['lambda-runtime-aws-request-id'],
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: headers['lambda-runtime-client-context'] ? JSON.parse(headers['lambda-runtime-client-context']) : undefined,
    identity: headers['lambda-runtime-cognito-identity'] ? JSON.parse(headers['lambda-runtime-cognito-identity']) : undefined,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

// Runs the handler whichever way it finishes: a returned promise, the callback, or context.succeed/fail/done.
function run(fn, event, ctx) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err, result) => {
      if (settled) return;
      settled = true;
      if (err !== undefined && err !== null) reject(err); else resolve(result);
    };
    ctx.succeed = (result) => done(null, result);
    ctx.fail = (err) => done(err ?? 'handled');
    ctx.done = done;
    try {
      const out = fn(event, ctx, done);
      if (out && typeof out.then === 'function') {
        out.then((r) => done(null, r), (e) => done(e ?? 'Unknown error'));
      } else if (fn.length < 3) {
        done(null, out);
      }
    } catch (e) {
      done(e);
    }
  });
}

async function main() {
  let fn;
  try {
    fn = await loadHandler();
  } catch (e) {
    const body = errorBody(e);
    writeLine('ERROR', [`Uncaught Exception \t${JSON.stringify(body)}`]);
    await call('POST', `${BASE}/init/error`, JSON.stringify(body), { 'Content-Type': 'application/json', 'Lambda-Runtime-Function-Error-Type': body.errorType });
    process.exit(1);
  }
  for (;;) {
    const next = await call('GET', `${BASE}/invocation/next`);
    const ctx = context(next.headers);
    currentRequestId = ctx.awsRequestId;
    process.env._X_AMZN_TRACE_ID = next.headers['lambda-runtime-trace-id'] || '';
    let event;
    try {
      event = next.body.length ? JSON.parse(next.body.toString('utf8')) : {};
      const result = await run(fn, event, ctx);
      const payload = result === undefined ? 'null' : JSON.stringify(result);
      end(ctx.awsRequestId);
      await call('POST', `${BASE}/invocation/${ctx.awsRequestId}/response`, payload, { 'Content-Type': 'application/json' });
    } catch (e) {
      const body = errorBody(e);
      writeLine('ERROR', [`Invoke Error \t${JSON.stringify(body)}`]);
      end(ctx.awsRequestId);
      await call('POST', `${BASE}/invocation/${ctx.awsRequestId}/error`, JSON.stringify(body),
        { 'Content-Type': 'application/json', 'Lambda-Runtime-Function-Error-Type': body.errorType });
    }
  }
}

main().catch((e) => {
  process.stderr.write(`bootstrap failed: ${e && e.stack}\n`);
  process.exit(1);
});
