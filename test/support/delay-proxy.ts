// A TCP proxy that holds every chunk for a fixed time before passing it on, in both directions:
// a link's latency where the kernel's netem is not available. Each request's answer comes back
// twice that time later; the sender's own TCP connection ends here, so its window does not see
// the delay. Run as its own process (under `ip netns exec` by the real-link benchmark):
//   bun delay-proxy.ts <listen address> <port> <upstream address> <port> <one-way ms>
// Prints "ready" once it listens; stops on SIGTERM.
import { connect, createServer, type Socket } from "node:net";

const [address, port, upAddress, upPort, oneWay] = process.argv.slice(2);
const delayMs = Number(oneWay);

/** Writes what `from` sends to `to`, each chunk `delayMs` after it arrived, in order; the end likewise. */
function delayed(from: Socket, to: Socket) {
  const queue: { due: number; chunk?: Buffer }[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const drain = () => {
    timer = undefined;
    const now = performance.now();
    while (queue.length && queue[0]!.due <= now) {
      const { chunk } = queue.shift()!;
      if (chunk) to.write(chunk);
      else to.end();
    }
    if (queue.length) timer = setTimeout(drain, queue[0]!.due - now);
  };
  const push = (chunk?: Buffer) => {
    queue.push({ due: performance.now() + delayMs, chunk });
    if (timer === undefined) timer = setTimeout(drain, delayMs);
  };
  from.on("data", (c: Buffer) => push(c));
  from.on("end", () => push());
}

// Half-open: an end is passed on (delayed) like the data before it, not answered at once.
const server = createServer({ allowHalfOpen: true }, (client) => {
  const upstream = connect({ host: upAddress, port: Number(upPort), allowHalfOpen: true });
  // Without it, Nagle holds a second small write until the first is acknowledged (40 ms of delayed ACK).
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  delayed(client, upstream);
  delayed(upstream, client);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on("error", close);
  upstream.on("error", close);
});
server.listen(Number(port), address, () => console.log("ready"));
process.on("SIGTERM", () => {
  server.close();
  process.exit(0);
});
