'use strict';
// Errors named and shaped as AWS's Node.js runtime names and shapes them.

const util = require('node:util');

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

module.exports = {
  CALLBACKS,
  CALLBACK_NOTE,
  CallbackHandlerDeprecated,
  HandlerNotFound,
  ImportModuleError,
  MalformedHandlerName,
  NodeJsExit,
  UnhandledPromiseRejection,
  UserCodeSyntaxError,
  intoError,
  toFormatted,
  toRapidResponse,
};
