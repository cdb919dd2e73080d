'use strict';
// console.* as AWS's Node.js runtime writes it: `<ISO time>\t<request id>\t<LEVEL>\t<message>`
// (or JSON with AWS_LAMBDA_LOG_FORMAT=JSON), one line per call, filtered by AWS_LAMBDA_LOG_LEVEL.

const util = require('node:util');
const { intoError, toFormatted } = require('./errors.cjs');

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

module.exports = { REQUEST_ID, logError, patchConsole };
