'use strict';
/*
 * ES module resolution through NODE_PATH, as AWS's Node.js runtimes (18 and later) do:
 * Node never searches NODE_PATH for `import`, so without this an ES module handler could
 * import neither the runtime's AWS SDK nor a layer's packages. A bare specifier Node did
 * not find is resolved as `require` would resolve it from NODE_PATH's folders. That picks
 * the packages' CommonJS builds, which is what AWS's runtime ships of the SDK (dist-cjs).
 */
const path = require('node:path');
const { pathToFileURL } = require('node:url');

const folders = (process.env.NODE_PATH || '').split(path.delimiter).filter(Boolean);
const isBare = (s) => !/^(\.{0,2}\/|[a-z][a-z0-9+.-]*:)/i.test(s);

function onNodePath(specifier, error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !isBare(specifier) || !folders.length) {
    throw error;
  }
  let found;
  try {
    found = require.resolve(specifier, { paths: folders });
  } catch {
    throw error; // Node's own message: what the function would see without NODE_PATH
  }
  return { url: pathToFileURL(found).href, shortCircuit: true };
}

/** For module.registerHooks (Node 22.15 and later): synchronous, in the thread. */
function resolveSync(specifier, context, nextResolve) {
  try {
    return nextResolve(specifier, context);
  } catch (error) {
    return onNodePath(specifier, error);
  }
}

/** For module.register (Node 20): the same as an asynchronous hook, off the thread. */
async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    return onNodePath(specifier, error);
  }
}

module.exports = { resolve, resolveSync };
