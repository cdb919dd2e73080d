'use strict';
// The Lambda Runtime API (next, response, error, init/error) over Node's own http module.

const http = require('node:http');
const { toRapidResponse } = require('./errors.cjs');

const API = '/2018-06-01/runtime';
const ERROR_TYPE_HEADER = 'Lambda-Runtime-Function-Error-Type';

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

module.exports = { RuntimeApi };
