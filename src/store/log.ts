/** The slice of a consola instance the store and recordings use; any consola logger fits. */
export interface Log {
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string, ...args: unknown[]): void;
  debug(message: string, ...args: unknown[]): void;
}

export const silentLog: Log = { info() {}, warn() {}, error() {}, debug() {} };
