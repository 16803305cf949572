// The running daemon's configuration. Live fields change in place (PATCH /v1/config, `update`)
// and listeners (uploader, storage) are told; any other field needs a restart.
import { FIELD_NAMES, LIVE_FIELDS, parseField, sameValue, type Config, type FieldName } from "../config/index.ts";
import { ConflictError, ValidationError } from "../errors.ts";
import type { LiveConfig } from "../api/index.ts";

type ConfigListener = (config: Config, changed: FieldName[]) => void;

export interface LiveConfigHolder extends LiveConfig {
  onChange(listener: ConfigListener): () => void;
}

const isLive = (f: FieldName) => (LIVE_FIELDS as readonly string[]).includes(f);

export function createLiveConfig(initial: Config): LiveConfigHolder {
  let current: Config = { ...initial };
  const listeners = new Set<ConfigListener>();
  return {
    get: () => current,
    patch(changes) {
      const parsed: Partial<Record<FieldName, unknown>> = {};
      // Validate everything first so that a request is applied whole or not at all.
      for (const [key, raw] of Object.entries(changes)) {
        if (!(FIELD_NAMES as readonly string[]).includes(key)) {
          throw new ValidationError(`Unknown config field "${key}". Fields: ${FIELD_NAMES.join(", ")}.`, key);
        }
        const field = key as FieldName;
        if (!isLive(field)) {
          throw new ConflictError(
            `"${field}" cannot change while the daemon runs; restart it (nc-data-daemon restart) to apply. Live fields: ${LIVE_FIELDS.join(", ")}.`,
          );
        }
        // JSON null for a rate means "unlimited", the same as the word.
        const value = raw === null && field === "bandwidth_limit" ? "unlimited" : raw;
        try {
          parsed[field] = parseField(field, value, `request field "${field}"`);
        } catch (err) {
          throw new ValidationError((err as Error).message, field);
        }
      }
      const changed = (Object.keys(parsed) as FieldName[]).filter((f) => !sameValue(parsed[f], current[f]));
      if (changed.length) {
        current = { ...current, ...(parsed as Partial<Config>) };
        for (const l of listeners) l(current, changed);
      }
      return { config: current, changed };
    },
    onChange(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  };
}
