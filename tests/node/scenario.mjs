// A small multi-service system traced with the real OpenTelemetry Node SDK, exported with
// @opentelemetry/exporter-trace-otlp-http, which sends OTLP/JSON (hex ids, string timestamps,
// integer enums).
//
//   node scenario.mjs ENDPOINT TRUTH_JSON [--compression gzip|none] [--traces N] [--seed S]
//
// ENDPOINT is the OTLP/HTTP base, e.g. http://127.0.0.1:4318 (spans go to ENDPOINT/v1/traces).
//
//   web  --http, SERVER child-->                 api
//        --http, service.peer.name-->            geo
//   api  --http, SERVER child (5% errors)-->     users
//        --db, new semconv-->                    mysql users-db/accounts
//        --PRODUCER, CONSUMER child-->           mailer        (rabbitmq "emails")
//        --http, old semconv http.url only-->    search.internal
//
// Like tests/py/scenario.py: every timestamp is explicit (HrTime, nanosecond exact), leaf
// latencies come from seeded distributions with known tails, calls with a server side last as
// long as the server's work plus its children plus the network, and the samples around the
// ranks of p50/p95/p99 are raised to one value so every quantile definition agrees. Each
// service has its own provider and exporter; the deepest flush first. Exits non-zero if any
// export failed or a span was not exported.

import { writeFileSync } from 'node:fs';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

const args = process.argv.slice(2);
function opt(name, dflt) {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
}
const compression = opt('--compression', 'none');
const nTraces = Number(opt('--traces', '300'));
const seed = Number(opt('--seed', '424242'));
if (args.length !== 2) {
  console.error('usage: node scenario.mjs ENDPOINT TRUTH_JSON [--compression gzip|none] [--traces N] [--seed S]');
  process.exit(2);
}
const [endpoint, truthPath] = args;

// ------------------------------------------------------------------ seeded randomness
function mulberry32(a) {
  return () => {
    a |= 0; a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = mulberry32(seed);
const gauss = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
const lognormal = (median, sigma) => () => median * Math.exp(sigma * gauss());
const exponential = (mean, off) => () => off - mean * Math.log(1 - rnd());
const uniform = (lo, hi) => () => lo + (hi - lo) * rnd();
const paretoTail = (body, share, lo, alpha) => () => (rnd() < share ? lo / Math.pow(1 - rnd(), 1 / alpha) : body());
// Latencies in whole microseconds, bounded to [50 us, cap].
const us = ([dist, capMs]) => Math.max(50, Math.min(Math.round(dist() * 1000), Math.round(capMs * 1000)));

const D = {
  users: [paretoTail(lognormal(12, 0.4), 0.03, 80, 1.8), 1500],
  mysql: [exponential(3, 0.4), 300],
  publish: [lognormal(1.5, 0.3), 50],
  search: [lognormal(35, 0.5), 1000],
  geo: [uniform(5, 15), 30],
  apiSelf: [lognormal(6, 0.5), 300],
  net: [uniform(0.3, 1.2), 5],
};
const EDGES = {
  web_api: { caller: 'web', dependency: 'api', contains: ['api'], kind: 'http' },
  web_geo: { caller: 'web', dependency: 'geo', contains: ['geo'], kind: 'http' },
  api_users: { caller: 'api', dependency: 'users', contains: ['users'], kind: 'http' },
  api_mysql: { caller: 'api', dependency: null, contains: ['mysql', 'users-db', 'accounts'], kind: 'db' },
  api_mailer: { caller: 'api', dependency: 'mailer', contains: ['mailer'], kind: 'messaging' },
  api_search: { caller: 'api', dependency: null, contains: ['search.internal'], kind: 'http' },
};

// ------------------------------------------------------------------ the plan
const byEdge = Object.fromEntries(Object.keys(EDGES).map((e) => [e, []]));
function leaf(edge, dist, errP = 0) {
  const c = { edge, dur: us(D[dist]), err: rnd() < errP, self: 0, net: 0 };
  byEdge[edge].push(c);
  return c;
}
function flatten(calls) {
  const n = calls.length;
  const order = [...calls].sort((a, b) => a.dur - b.dur);
  for (const q of [0.5, 0.95, 0.99]) {
    const k = Math.round(q * (n - 1));
    const lo = Math.max(0, k - 3);
    const hi = Math.min(n - 2, k + 3);
    const top = order[hi].dur;
    for (const c of order.slice(lo, hi + 1)) {
      c.self += top - c.dur;
      c.dur = top;
    }
  }
}

const traces = [];
for (let i = 0; i < nTraces; i++) {
  const t = {};
  t.geo = leaf('web_geo', 'geo');
  t.users = leaf('api_users', 'users', 0.05);
  t.mysql = [leaf('api_mysql', 'mysql', 0.01)];
  if (i % 2 === 0) t.mysql.push(leaf('api_mysql', 'mysql', 0.01));
  t.publish = i % 3 !== 2 ? leaf('api_mailer', 'publish') : null;
  t.search = i % 4 !== 3 ? leaf('api_search', 'search', 0.02) : null;
  t.api = { edge: 'web_api', dur: 0, err: false, self: us(D.apiSelf), net: us(D.net) };
  byEdge.web_api.push(t.api);
  traces.push(t);
}
for (const e of ['web_geo', 'api_users', 'api_mysql', 'api_mailer', 'api_search']) flatten(byEdge[e]);
// api calls users, then the queries, then publishes, then searches: one after another.
const apiWork = (t) =>
  t.users.dur + 100 + t.mysql.reduce((s, q) => s + q.dur + 30, 0) +
  (t.publish ? t.publish.dur + 30 : 0) + (t.search ? t.search.dur + 30 : 0);
for (const t of traces) {
  t.api.dur = t.api.net + t.api.self + apiWork(t);
  t.api.err = t.users.err; // a failed users call fails the request
}
flatten(byEdge.web_api);
for (const [e, calls] of Object.entries(byEdge)) {
  if (calls.length < 150) {
    console.error(`scenario.mjs: edge ${e} has only ${calls.length} calls; use --traces >= 300`);
    process.exit(2);
  }
}

// ------------------------------------------------------------------ providers
function seededIds(r) {
  const hex = (n) => Array.from({ length: n }, () => Math.floor(r() * 16).toString(16)).join('');
  return {
    generateTraceId: () => hex(32).replace(/^0{32}$/, '1'.padStart(32, '0')),
    generateSpanId: () => hex(16).replace(/^0{16}$/, '1'.padStart(16, '0')),
  };
}
const ids = seededIds(mulberry32(seed + 1));
const ledger = { calls: 0, failures: 0, spans: 0 };
const url = endpoint.replace(/\/+$/, '') + '/v1/traces';
const providers = {};
const tracers = {};
for (const svc of ['web', 'api', 'users', 'mailer']) {
  const exporter = new OTLPTraceExporter({ url, compression: compression === 'gzip' ? 'gzip' : 'none', timeoutMillis: 20000 });
  const inner = exporter.export.bind(exporter);
  exporter.export = (spans, done) =>
    inner(spans, (res) => {
      ledger.calls += 1;
      if (res.code === 0) ledger.spans += spans.length;
      else {
        ledger.failures += 1;
        console.error(`scenario.mjs: export of ${spans.length} spans failed: ${res.error}`);
      }
      done(res);
    });
  const tp = new BasicTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: svc, 'service.namespace': 'node-shop' }),
    idGenerator: ids,
    spanProcessors: [
      new BatchSpanProcessor(exporter, { maxQueueSize: 100000, maxExportBatchSize: 53, scheduledDelayMillis: 200 }),
    ],
  });
  providers[svc] = tp;
  tracers[svc] = tp.getTracer('faultline.scenario', '1.0');
}

// ------------------------------------------------------------------ emitting
const NS = 1_000_000_000n;
const hr = (ns) => [Number(ns / NS), Number(ns % NS)];
let nSpans = 0;
function start(svc, name, kind, tNs, parent, attributes, status) {
  const ctx = parent ? trace.setSpan(ROOT_CONTEXT, parent) : ROOT_CONTEXT;
  const s = tracers[svc].startSpan(name, { kind, attributes: attributes ?? {}, startTime: hr(tNs) }, ctx);
  if (status) s.setStatus(status);
  nSpans += 1;
  return s;
}
const end = (s, tNs) => s.end(hr(tNs));
const U = 1000n; // ns per us
const ERR = { code: SpanStatusCode.ERROR, message: 'error' };

const t0 = BigInt(Date.now()) * 1_000_000n - BigInt(nTraces * 300 + 60_000) * 1_000_000n;
traces.forEach((t, i) => {
  const ts = t0 + BigInt(i * 300) * 1_000_000n;
  const root = start('web', 'GET /profile', SpanKind.SERVER, ts, null, { 'http.request.method': 'GET', 'http.route': '/profile' });
  let cur = ts + 500n * U;

  const g = start('web', 'GET', SpanKind.CLIENT, cur, root, {
    'http.request.method': 'GET', 'url.full': 'http://10.1.2.3:7000/geo?ip=1', 'server.address': '10.1.2.3',
    'server.port': 7000, 'service.peer.name': 'geo', 'http.response.status_code': 200,
  });
  end(g, cur + BigInt(t.geo.dur) * U);
  cur += BigInt(t.geo.dur + 100) * U;

  const a = t.api;
  const ac = start('web', 'GET', SpanKind.CLIENT, cur, root, {
    'http.request.method': 'GET', 'server.address': 'api', 'server.port': 3000,
    'url.full': 'http://api:3000/v1/profile', 'http.response.status_code': a.err ? 503 : 200,
  }, a.err ? ERR : undefined);
  const sStart = cur + BigInt(Math.floor(a.net / 2)) * U;
  const sEnd = cur + BigInt(a.dur - Math.floor(a.net / 2)) * U;
  const as = start('api', 'GET /v1/profile', SpanKind.SERVER, sStart, ac, {
    'http.request.method': 'GET', 'http.route': '/v1/profile', 'http.response.status_code': a.err ? 503 : 200,
  }, a.err ? ERR : undefined);
  let c = sStart + BigInt(Math.floor(a.self / 2)) * U;

  const u = t.users;
  const uc = start('api', 'GET', SpanKind.CLIENT, c, as, {
    'http.request.method': 'GET', 'server.address': 'users', 'server.port': 3001,
    'url.full': 'http://users:3001/users/7', 'http.response.status_code': u.err ? 503 : 200,
  }, u.err ? ERR : undefined);
  const us0 = c + 40n * U;
  const usrv = start('users', 'GET /users/:id', SpanKind.SERVER, us0, uc, {
    'http.request.method': 'GET', 'http.route': '/users/:id', 'http.response.status_code': u.err ? 503 : 200,
  }, u.err ? ERR : undefined);
  end(usrv, c + BigInt(Math.max(u.dur - 40, 41)) * U);
  end(uc, c + BigInt(u.dur) * U);
  c += BigInt(u.dur + 100) * U;

  for (const q of t.mysql) {
    const qs = start('api', 'SELECT accounts', SpanKind.CLIENT, c, as, {
      'db.system.name': 'mysql', 'server.address': 'users-db', 'server.port': 3306, 'db.namespace': 'accounts',
      'db.operation.name': 'SELECT', ...(q.err ? { 'error.type': '1213' } : {}),
    }, q.err ? ERR : undefined);
    end(qs, c + BigInt(q.dur) * U);
    c += BigInt(q.dur + 30) * U;
  }

  if (t.publish) {
    const p = t.publish;
    const ps = start('api', 'publish emails', SpanKind.PRODUCER, c, as, {
      'messaging.system': 'rabbitmq', 'messaging.destination.name': 'emails', 'messaging.operation.type': 'send',
    });
    const pEnd = c + BigInt(p.dur) * U;
    end(ps, pEnd);
    // The consumer runs later, after the producer is done: asynchronous, as queues are.
    const cs = start('mailer', 'process emails', SpanKind.CONSUMER, pEnd + 2000n * U, ps, {
      'messaging.system': 'rabbitmq', 'messaging.destination.name': 'emails', 'messaging.operation.type': 'process',
    });
    end(cs, pEnd + 9000n * U);
    c += BigInt(p.dur + 30) * U;
  }

  if (t.search) {
    const s = t.search;
    const ss = start('api', 'HTTP GET', SpanKind.CLIENT, c, as, {
      // old semconv, and nothing but the URL names the dependency
      'http.method': 'GET', 'http.url': 'http://search.internal:9200/users/_search?q=x',
      'http.status_code': s.err ? 500 : 200,
    }, s.err ? ERR : undefined);
    end(ss, c + BigInt(s.dur) * U);
    c += BigInt(s.dur + 30) * U;
  }

  end(as, sEnd);
  end(ac, cur + BigInt(a.dur) * U);
  cur += BigInt(a.dur + 200) * U;
  end(root, cur);
});

let flushed = true;
for (const svc of ['mailer', 'users', 'api', 'web']) {
  try {
    await providers[svc].forceFlush();
  } catch (e) {
    flushed = false;
    console.error(`scenario.mjs: forceFlush(${svc}) failed: ${e}`);
  }
}
for (const svc of ['mailer', 'users', 'api', 'web']) await providers[svc].shutdown();

const nearestRank = (sorted, q) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
const edges = Object.entries(EDGES).map(([name, e]) => {
  const vals = byEdge[name].map((c) => c.dur).sort((x, y) => x - y);
  return {
    edge: name,
    caller: e.caller,
    dependency: e.dependency,
    match: e.dependency ? 'exact' : 'contains',
    contains: e.contains,
    kind: e.kind,
    calls: vals.length,
    errors: byEdge[name].filter((c) => c.err).length,
    p50_ms: nearestRank(vals, 0.5) / 1000,
    p95_ms: nearestRank(vals, 0.95) / 1000,
    p99_ms: nearestRank(vals, 0.99) / 1000,
    max_ms: vals[vals.length - 1] / 1000,
    min_ms: vals[0] / 1000,
  };
});
writeFileSync(truthPath, JSON.stringify({
  scenario: 'node', exporter: 'http/json', compression, seed, traces: nTraces, spans: nSpans,
  spans_exported: ledger.spans, span_export_calls: ledger.calls, edges,
}, null, 1));

const failed = [];
if (!flushed) failed.push('forceFlush failed');
if (ledger.failures) failed.push(`${ledger.failures} export calls failed`);
if (ledger.spans !== nSpans) failed.push(`exported ${ledger.spans} of ${nSpans} spans`);
if (failed.length) {
  console.error('scenario.mjs: FAILED: ' + failed.join('; '));
  process.exit(1);
}
console.error(`scenario.mjs: ${nTraces} traces, ${nSpans} spans in ${ledger.calls} requests (http/json, ${compression}); truth in ${truthPath}`);
