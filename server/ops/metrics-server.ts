import http from 'node:http';
import type { AddressInfo } from 'node:net';
import client from 'prom-client';
import { registry } from './metrics';

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * `/metrics` on its own port (METRICS_PORT), never on the public one. `cluster`: the primary of
 * WORKERS > 1, which gathers every worker's metrics over IPC and sums them.
 */
export async function serveMetrics(opts: { host: string; port: number; cluster?: boolean }): Promise<MetricsServer> {
  const aggregator = opts.cluster ? new client.AggregatorRegistry() : undefined;
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') { res.writeHead(404).end(); return; }
    const body = aggregator ? aggregator.clusterMetrics() : registry.metrics();
    body.then((text) => {
      res.writeHead(200, { 'Content-Type': aggregator ? aggregator.contentType : registry.contentType }).end(text);
    }, () => { res.writeHead(503, { 'Content-Type': 'text/plain' }).end('metrics unavailable\n'); });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}/metrics`,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}
