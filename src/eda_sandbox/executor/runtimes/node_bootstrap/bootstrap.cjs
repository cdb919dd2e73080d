'use strict';
/*
 * The Node.js runtime of one Lambda execution environment: a Lambda Runtime API client.
 *
 * Why hand-written: AWS's own client, aws-lambda-ric on npm, builds native code when it
 * is installed. Its preinstall needs cmake and runs configure and make on the curl and
 * aws-lambda-cpp sources it vendors, and its postinstall runs `node-gyp rebuild`, which
 * downloads Node's headers from the internet unless they are given. So it cannot be
 * installed from the registry alone, and this sandbox installs nothing at run time.
 * This file and its siblings behave as that client does (handler resolution, context,
 * callback and async handlers, error shapes, console line format), with Node's http.
 *
 * Started by the init (init_process.py) as `node bootstrap.cjs [compile-cache-dir]` in
 * the function's environment; the handler comes from _HANDLER, as on AWS.
 */

const Module = require('node:module');
const {
  CALLBACKS,
  CALLBACK_NOTE,
  CallbackHandlerDeprecated,
  NodeJsExit,
  UnhandledPromiseRejection,
} = require('./errors.cjs');
const { REQUEST_ID, logError, patchConsole } = require('./console.cjs');
const { loadHandler } = require('./loader.cjs');
const { RuntimeApi } = require('./runtime_api.cjs');

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
