// A Node service with a real opossum circuit breaker around calls to a dependency, exposing
// opossum-prometheus metrics on /metrics. Used by tests/metrics_real.rs.
//
// Listens on 127.0.0.1 only (free ports). Prints one JSON line when ready:
//   {"ready":true,"metrics":PORT,"control":PORT}
// one JSON line per breaker transition: {"event":"open"|"halfOpen"|"close","at_ms":...}, and one
// per scrape of /metrics: {"scrape":N,"at_ms":...} (so a test knows which transitions fell
// between two scrapes).
// GET /down and /up on the control port make the dependency fail or recover. Exits on SIGTERM
// or after 120 s (a bound, so a lost test never leaves it running).
'use strict';

const http = require('http');
const CircuitBreaker = require('opossum');
const PrometheusMetrics = require('opossum-prometheus');

const RESET_MS = Number(process.env.RESET_MS || 2000);
let healthy = true;

// The dependency: answers 200 when healthy, 500 when not.
const dependency = http.createServer((req, res) => {
  res.statusCode = healthy ? 200 : 500;
  res.end(healthy ? 'ok' : 'down');
});

function callDependency (port) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/' }, res => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve('ok') : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
  });
}

dependency.listen(0, '127.0.0.1', () => {
  const depPort = dependency.address().port;
  const breaker = new CircuitBreaker(() => callDependency(depPort), {
    name: 'inventory',
    timeout: 1000,
    errorThresholdPercentage: 50,
    volumeThreshold: 3,
    resetTimeout: RESET_MS,
    rollingCountTimeout: 2000,
    rollingCountBuckets: 4
  });
  const metrics = new PrometheusMetrics({ circuits: [breaker] });
  for (const ev of ['open', 'halfOpen', 'close']) {
    breaker.on(ev, () => console.log(JSON.stringify({ event: ev, at_ms: Date.now() })));
  }
  // A steady trickle of calls, as a service under light load.
  const loop = setInterval(() => { breaker.fire().catch(() => {}); }, 100);

  let scrapes = 0;
  const metricsServer = http.createServer(async (req, res) => {
    console.log(JSON.stringify({ scrape: ++scrapes, at_ms: Date.now() }));
    const body = await Promise.resolve(metrics._registry.metrics());
    res.setHeader('Content-Type', metrics._registry.contentType);
    res.end(body);
  });
  const control = http.createServer((req, res) => {
    if (req.url === '/down') healthy = false;
    if (req.url === '/up') healthy = true;
    res.end(healthy ? 'up' : 'down');
  });
  metricsServer.listen(0, '127.0.0.1', () => {
    control.listen(0, '127.0.0.1', () => {
      console.log(JSON.stringify({ ready: true, metrics: metricsServer.address().port, control: control.address().port }));
    });
  });
  const stop = () => { clearInterval(loop); process.exit(0); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  setTimeout(stop, 120000).unref();
});
