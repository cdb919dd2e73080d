'use strict';
/*
 * The Node.js runtime of one Lambda execution environment: a Lambda Runtime API client.
 *
 * Why hand-written: AWS's own client, aws-lambda-ric on npm, builds native code when it
 * is installed. Its preinstall needs cmake and runs configure and make on the curl and
 * aws-lambda-cpp sources it vendors, and its postinstall runs `node-gyp rebuild`, which
 * downloads Node's headers from the internet unless they are given. So it cannot be
 * installed from the registry alone, and this sandbox installs nothing at run time.
 * This file behaves as that client does (handler resolution, context, callback and
 * async handlers, error shapes, console line format), using Node's own http module.
 *
 * Started by the init (init_process.py) as `node bootstrap.cjs [compile-cache-dir]` in
 * the function's environment; the handler comes from _HANDLER, as on AWS.
 */

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const util = require('node:util');
const Module = require('node:module');

const API = '/2018-06-01/runtime';
const ERROR_TYPE_HEADER = 'Lambda-Runtime-Function-Error-Type';

// -- errors, named and shaped as AWS's runtime names and shapes them ------------------
function runtimeError(name) {
  const cls = class extends Error {};
  Object.defineProperty(cls, 'name', { value: name });
  cls.prototype.name = `Runtime.${name}`;
  return cls;
}
const ImportModuleError = runtimeError('ImportModuleError');
const HandlerNotFound = runtimeError('HandlerNotFound');
const MalformedHandlerName = runtimeError('MalformedHandlerName');
const UserCodeSyntaxError = runtimeError('UserCodeSyntaxError');
const NodeJsExit = runtimeError('NodeJsExit');
const CallbackHandlerDeprecated = runtimeError('CallbackHandlerDeprecated');
// Node.js 24 and later: AWS removed callback handlers and the context's callback members.
const CALLBACKS = Number(process.versions.node.split('.')[0]) < 24;
const CALLBACK_NOTE =
  'https://github.com/aws/aws-lambda-nodejs-runtime-interface-client/issues/137';
class UnhandledPromiseRejection extends runtimeError('UnhandledPromiseRejection') {
  constructor(reason, promise) {
    super(reason);
    this.reason = reason;
    this.promise = promise;
  }
}

function isErrorLike(e) {
  return (
    e != null &&
    typeof e.name === 'string' && e.name &&
    typeof e.message === 'string' && e.message &&
    typeof e.stack === 'string'
  );
}

/** The body AWS posts for an error: a thrown Error by its name, anything else by type. */
function toRapidResponse(error) {
  try {
    if (util.types.isNativeError(error) || isErrorLike(error)) {
      return {
        errorType: error.name?.replaceAll('\x7F', '%7F'),
        errorMessage: error.message?.replaceAll('\x7F', '%7F'),
        trace: error.stack.replaceAll('\x7F', '%7F').split('\n'),
      };
    }
    return { errorType: typeof error, errorMessage: error.toString(), trace: [] };
  } catch {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

/** The error as the `Invoke Error` log line shows it: a tab, then JSON with its fields. */
function toFormatted(error) {
  const withFields = (_key, value) => {
    if (!(value instanceof Error)) return value;
    const fields = Object.assign(
      { errorType: value.name, errorMessage: value.message, code: value.code },
      value,
    );
    if (typeof value.stack === 'string') fields.stack = value.stack.split('\n');
    return fields;
  };
  try {
    return '\t' + JSON.stringify(error, withFields);
  } catch {
    return '\t' + JSON.stringify(toRapidResponse(error));
  }
}

const intoError = (e) => (e instanceof Error ? e : new Error(e));

// -- console: `<ISO time>\t<request id>\t<LEVEL>\t<message>`, one line per call -------
const REQUEST_ID = Symbol.for('aws.lambda.runtime.requestId');
const LEVELS = { TRACE: 1, DEBUG: 2, INFO: 3, WARN: 4, ERROR: 5, FATAL: 6 };
const jsonFormat = (process.env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';

function jsonLine(time, level, requestId, params) {
  const entry = { timestamp: time, level, requestId };
  if (params.length === 1 && !(params[0] instanceof Error)) {
    entry.message = params[0];
    try {
      return JSON.stringify(entry);
    } catch {
      entry.message = util.format(params[0]);
      return JSON.stringify(entry);
    }
  }
  entry.message = util.format(...params);
  const error = params.find((p) => p instanceof Error);
  if (error) {
    entry.errorType = error?.constructor?.name ?? 'UnknownError';
    entry.errorMessage = error.message;
    entry.stackTrace = typeof error.stack === 'string' ? error.stack.split('\n') : [];
  }
  return JSON.stringify(entry);
}

function writeLog(level, params) {
  const time = new Date().toISOString();
  const requestId = globalThis[REQUEST_ID];
  const line = jsonFormat
    ? jsonLine(time, level, requestId, params)
    : `${time}\t${requestId}\t${level}\t${util.format(...params)}`;
  // Without AWS's telemetry pipe, one message must stay one line (AWS's stdout path).
  // Writes to a pipe are synchronous on Linux, so a line is out before the result is.
  process.stdout.write(line.replace(/\n/g, '\r') + '\n');
}

function patchConsole() {
  const threshold = LEVELS[(process.env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase()] ?? 1;
  const logger = (level) =>
    LEVELS[level] >= threshold ? (...params) => writeLog(level, params) : () => {};
  console.trace = logger('TRACE');
  console.debug = logger('DEBUG');
  console.info = logger('INFO');
  console.log = console.info;
  console.warn = logger('WARN');
  console.error = logger('ERROR');
  console.fatal = (...params) => writeLog('FATAL', params);
}

function logError(label, error) {
  if (jsonFormat) console.error(intoError(error));
  else console.error(label, toFormatted(intoError(error)));
}

// -- the Runtime API ----------------------------------------------------------------
class RuntimeApi {
  constructor(hostPort) {
    const [host, port] = hostPort.split(':');
    this.host = host;
    this.port = Number(port);
    // One kept-alive connection, as AWS's client keeps; idle, it holds no event loop open.
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  request(method, urlPath, body, headers) {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: this.host, port: this.port, path: urlPath, method, agent: this.agent,
          headers: body === undefined ? headers : {
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(body),
            ...headers,
          },
        },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  async next() {
    const { headers, body } = await this.request('GET', `${API}/invocation/next`);
    return { headers, body: body.toString('utf8') };
  }

  postResponse(id, result) {
    return this.request('POST', `${API}/invocation/${encodeURIComponent(id)}/response`,
      serialize(result));
  }

  postError(id, error) {
    const body = toRapidResponse(error);
    return this.request('POST', `${API}/invocation/${encodeURIComponent(id)}/error`,
      serialize(body), { [ERROR_TYPE_HEADER]: body.errorType });
  }

  postInitError(error) {
    const body = toRapidResponse(error);
    return this.request('POST', `${API}/init/error`, serialize(body),
      { [ERROR_TYPE_HEADER]: body.errorType });
  }
}

function serialize(value) {
  try {
    return JSON.stringify(value === undefined ? null : value);
  } catch {
    throw new Error('Unable to stringify response body');
  }
}

// -- loading the handler (module.path.to.fn, CommonJS or ES module) -----------------
function hasTypeModule(folder) {
  // The nearest package.json decides; a node_modules folder or the root ends the search.
  for (let dir = folder; ; dir = path.dirname(dir)) {
    if (dir.endsWith('/node_modules')) return false;
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) {
      try {
        return JSON.parse(fs.readFileSync(manifest, 'utf8'))?.type === 'module';
      } catch (e) {
        console.warn(`${manifest} cannot be read, it will be ignored for ES module detection purposes.`, e);
        return false;
      }
    }
    if (dir === '/') return false;
  }
}

async function importModule(appRoot, moduleRoot, name) {
  const base = path.resolve(appRoot, moduleRoot, name);
  const tryRequire = (file) => (fs.existsSync(file) ? require(file) : undefined);
  const tryImport = async (file) => {
    if (!fs.existsSync(file)) return undefined;
    resolveImportsOnNodePath();
    return import(file);
  };
  const extensionless = tryRequire(base);
  if (extensionless) return extensionless;
  const esm = fs.existsSync(base + '.js') && hasTypeModule(path.dirname(base + '.js'));
  if (!esm) {
    const loaded = tryRequire(base + '.js');
    if (loaded) return loaded;
  }
  const loaded =
    (esm && (await tryImport(base + '.js'))) ||
    (await tryImport(base + '.mjs')) ||
    tryRequire(base + '.cjs');
  if (loaded) return loaded;
  // Not a file of the task: a package on the module path (node_modules, NODE_PATH).
  return require(require.resolve(name, { paths: [appRoot, moduleRoot] }));
}

let hooked = false;
function resolveImportsOnNodePath() {
  if (hooked) return;
  hooked = true;
  if (typeof Module.registerHooks === 'function') {
    Module.registerHooks({ resolve: require('./esm_hooks.cjs').resolveSync });
  } else {
    Module.register('./esm_hooks.mjs', require('node:url').pathToFileURL(__filename));
  }
}

async function loadHandler(appRoot, fullHandler) {
  if (fullHandler.includes('..')) {
    throw new MalformedHandlerName(
      `'${fullHandler}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const moduleAndHandler = path.basename(fullHandler);
  const moduleRoot = fullHandler.substring(0, fullHandler.indexOf(moduleAndHandler));
  const match = moduleAndHandler.match(/^([^.]*)\.(.*)$/);
  if (!match) throw new MalformedHandlerName('Bad handler');
  const [, name, handlerPath] = match;
  let app;
  try {
    app = await importModule(appRoot, moduleRoot, name);
  } catch (e) {
    if (e instanceof SyntaxError) throw new UserCodeSyntaxError(e);
    if (e?.code === 'MODULE_NOT_FOUND') throw new ImportModuleError(e);
    throw e;
  }
  const fn = handlerPath.split('.').reduce((obj, key) => obj && obj[key], app);
  if (!fn) throw new HandlerNotFound(`${fullHandler} is undefined or not exported`);
  if (typeof fn !== 'function') throw new HandlerNotFound(`${fullHandler} is not a function`);
  return fn;
}

// -- the invoke loop ----------------------------------------------------------------
// AWS's client keeps the pending completion of a callback-style handler here and runs
// it when the event loop empties ('beforeExit'); the same is done below.
let beforeExit = () => {};
const errorCallbacks = {};

function buildContext(api, headers, scheduleNext) {
  const id = headers['lambda-runtime-aws-request-id'];
  let waitForEmptyEventLoop = true;
  let completed = false;
  let finished = false;
  const complete = (result) => {
    if (completed) {
      console.error('Invocation has already been reported as done. Cannot call complete more than once per invocation.');
      return;
    }
    completed = true;
    api.postResponse(id, result).then(scheduleNext, fatal);
  };
  const postError = (err) => {
    logError('Invoke Error', err);
    completed = true;
    api.postError(id, err).then(scheduleNext, fatal);
  };
  const once = (fn) => (...args) => {
    if (!finished) {
      finished = true;
      fn(...args);
    }
  };
  const done = (err, result) => {
    beforeExit = () => {};
    if (err !== undefined && err !== null) postError(err);
    else complete(result);
  };
  const callback = (err, result) => {
    beforeExit = () => {};
    if (err !== undefined && err !== null) postError(err);
    else if (!waitForEmptyEventLoop) complete(result);
    else beforeExit = () => setImmediate(() => complete(result));
  };
  const deadline = Number(headers['lambda-runtime-deadline-ms']);
  const parse = (value, what) => {
    if (value === undefined) return undefined;
    try {
      return JSON.parse(value);
    } catch (e) {
      throw new Error(`Cannot parse ${what} as json: ${e.toString()}`);
    }
  };
  const env = process.env;
  const succeed = once((result) => done(null, result));
  const fail = once((err) => (err === undefined || err === null ? done('handled') : done(err, null)));
  const callbacks = CALLBACKS && {
    get callbackWaitsForEmptyEventLoop() {
      return waitForEmptyEventLoop;
    },
    set callbackWaitsForEmptyEventLoop(value) {
      waitForEmptyEventLoop = value;
    },
    succeed,
    fail,
    done: once(done),
  };
  const context = {
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: parse(headers['lambda-runtime-client-context'], 'ClientContext'),
    identity: parse(headers['lambda-runtime-cognito-identity'], 'CognitoIdentity'),
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    awsRequestId: id,
    tenantId: headers['lambda-runtime-aws-tenant-id'],
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };
  // Descriptors, not a spread: the flag's setter must stay a setter.
  if (callbacks) Object.defineProperties(context, Object.getOwnPropertyDescriptors(callbacks));
  return { id, context, settle: { succeed, fail }, callback: once(callback), markCompleted: () => (completed = true) };
}

function fatal(err) {
  // The Runtime API went away (the init replaces this process): nothing to report to.
  process.stderr.write(`Runtime API unreachable: ${err}\n`);
  process.exit(1);
}

async function handleOnce(api, handler, isAsync, scheduleNext) {
  const { headers, body } = await api.next();
  const trace = headers['lambda-runtime-trace-id'];
  if (trace) process.env._X_AMZN_TRACE_ID = trace;
  else delete process.env._X_AMZN_TRACE_ID;
  globalThis[REQUEST_ID] = headers['lambda-runtime-aws-request-id'];
  const { id, context, settle, callback, markCompleted } = buildContext(api, headers, scheduleNext);
  errorCallbacks.uncaughtException = (e) => api.postError(id, e).finally(() => process.exit(129));
  errorCallbacks.unhandledRejection = (e) => api.postError(id, e).finally(() => process.exit(128));
  // The loop emptied and nothing was reported: async handlers failed to settle, others
  // (callback never called) succeed with null, as on AWS.
  beforeExit = () => {
    markCompleted();
    if (isAsync) {
      const error = new NodeJsExit(
        'The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused by a Promise that was never settled. For more information, see https://nodejs.org/docs/latest/api/process.html#exit-codes',
      );
      logError('Invoke Error', error);
      api.postError(id, error).then(scheduleNext, fatal);
    } else {
      api.postResponse(id, null).then(scheduleNext, fatal);
    }
  };
  try {
    const result = handler(JSON.parse(body), context, callback);
    if (result && typeof result.then === 'function') {
      result.then(settle.succeed, settle.fail).catch(settle.fail);
    }
  } catch (err) {
    callback(err);
  }
}

async function main() {
  patchConsole();
  const cacheDir = process.argv[2];
  if (cacheDir && typeof Module.enableCompileCache === 'function') {
    Module.enableCompileCache(cacheDir); // Node 22+: V8 code cache for every module loaded
  }
  const api = new RuntimeApi(process.env.AWS_LAMBDA_RUNTIME_API);
  errorCallbacks.uncaughtException = (e) => api.postInitError(e).finally(() => process.exit(129));
  errorCallbacks.unhandledRejection = (e) => api.postInitError(e).finally(() => process.exit(128));
  process.on('uncaughtException', (error) => {
    logError('Uncaught Exception', error);
    errorCallbacks.uncaughtException(error);
  });
  process.on('unhandledRejection', (reason, promise) => {
    const error = new UnhandledPromiseRejection(reason, promise);
    logError('Unhandled Promise Rejection', error);
    errorCallbacks.unhandledRejection(error);
  });
  process.on('beforeExit', () => beforeExit());

  const handlerName = process.env._HANDLER || '';
  const appRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
  const handler = await loadHandler(appRoot, handlerName);
  const isAsync = handler.constructor?.name === 'AsyncFunction';
  if (handler.length >= 3 && !isAsync) {
    if (!CALLBACKS) {
      throw new CallbackHandlerDeprecated(
        'ERROR: AWS Lambda has removed support for callback-based function handlers starting with Node.js 24. You need to modify this function to use a supported handler signature to use Node.js 24 or later. For more information see https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html.',
      );
    }
    if (process.env.AWS_LAMBDA_NODEJS_DISABLE_CALLBACK_WARNING === undefined) {
      console.warn(
        `AWS Lambda plans to remove support for callback-based function handlers starting with Node.js 24. You will need to update this function to use an async handler to use Node.js 24 or later. For more information and to provide feedback on this change, see ${CALLBACK_NOTE}. To disable this warning, set the AWS_LAMBDA_NODEJS_DISABLE_CALLBACK_WARNING environment variable.`,
      );
    }
  }
  let iterations = 0;
  const scheduleNext = () => {
    if (++iterations === 2 && typeof Module.flushCompileCache === 'function') {
      // Environments are killed, never exit, so the cache is written here: after the
      // first invocation, which loaded what the SDK loads lazily.
      Module.flushCompileCache();
    }
    setImmediate(() => handleOnce(api, handler, isAsync, scheduleNext).catch((err) => {
      console.log(`Unexpected Top Level Error: ${err.toString()}`);
      errorCallbacks.uncaughtException(err);
    }));
  };
  scheduleNext();
}

main().catch((error) => {
  // A failed init (bad handler, import or syntax error), reported as AWS reports it.
  logError('Uncaught Exception', error);
  errorCallbacks.uncaughtException(error);
});
