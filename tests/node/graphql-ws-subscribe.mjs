// Subscribes with the `graphql-ws` client (the one front ends use) and prints
// one JSON line per event: {"connected":true}, {"ping":true} for each server
// ping it answers, {"next":data} per result; exits 0 after COUNT results.
//
// usage: node graphql-ws-subscribe.mjs WS_URL COUNT QUERY
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, count, query] = process.argv.slice(2);
const wanted = Number(count);
const print = (value) => process.stdout.write(JSON.stringify(value) + '\n');

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  retryAttempts: 0,
  // The library's default: the client never pings on its own.
  keepAlive: 0,
  on: {
    connected: () => print({ connected: true }),
    ping: (received) => received && print({ ping: true }),
    closed: (event) => print({ closed: event.code ?? null }),
  },
});

const fail = (error) => {
  print({ error: String(error?.message ?? error?.reason ?? error) });
  process.exit(1);
};
setTimeout(() => fail('timed out'), 30_000).unref();

let seen = 0;
client.subscribe(
  { query },
  {
    next: (result) => {
      print({ next: result });
      seen += 1;
      if (seen === wanted) {
        client.dispose();
        process.exit(0);
      }
    },
    error: fail,
    complete: () => fail('completed early'),
  },
);
