// Runs the graphql-http server audit against a running chargegraph and
// prints one JSON line per audit: {id, name, status, reason?}.
//
// Usage: node audit.mjs http://127.0.0.1:PORT/graphql
// Exit code 0 when every audit ran (the Rust test judges the statuses).
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs URL');
  process.exit(2);
}

for (const audit of serverAudits({ url })) {
  const result = await audit.fn();
  const line = { id: result.id, name: result.name, status: result.status };
  if (result.status !== 'ok') {
    line.reason = result.reason;
    line.httpStatus = result.response.status;
    line.body = await result.response.text().catch(() => '');
  }
  console.log(JSON.stringify(line));
}
