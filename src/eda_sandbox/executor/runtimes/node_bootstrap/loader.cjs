'use strict';
// Loading the handler (`path/module.path.to.fn`) as AWS's runtime does: CommonJS, `.mjs`,
// `.cjs`, or `.js` under a package.json with "type": "module", then the module path.

const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');
const { pathToFileURL } = require('node:url');
const {
  HandlerNotFound,
  ImportModuleError,
  MalformedHandlerName,
  UserCodeSyntaxError,
} = require('./errors.cjs');

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
    Module.register('./esm_hooks.mjs', pathToFileURL(__filename));
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

module.exports = { loadHandler };
