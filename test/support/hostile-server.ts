// A small HTTP server on loopback that answers every request the same chosen way: a status, a
// body and headers (a far-off Date, an S3 error document). For tests of what the daemon says
// about a target that refuses it, or whose clock is wrong.
export interface HostileServer {
  /** Base URL, e.g. http://127.0.0.1:PORT */
  url: string;
  port: number;
  /** Method and path of every request answered so far. */
  readonly requests: string[];
  stop(): void;
}

export interface HostileAnswer {
  status?: number;
  body?: string;
  headers?: Record<string, string>;
  /** The Date header sent, as epoch milliseconds (default: now). */
  dateMs?: () => number;
}

/** An S3 error document, as S3 answers a request it refuses. */
export const s3Error = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>0</RequestId></Error>`;

export function startHostileServer(answer: HostileAnswer = {}): HostileServer {
  const requests: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      requests.push(`${req.method} ${new URL(req.url).pathname}`);
      const date = new Date(answer.dateMs?.() ?? Date.now()).toUTCString();
      return new Response(req.method === "HEAD" ? null : (answer.body ?? ""), {
        status: answer.status ?? 200,
        headers: { date, ...answer.headers },
      });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    port: server.port!,
    requests,
    stop: () => void server.stop(true),
  };
}
