// The one table of configuration fields. Names follow one rule: `snake_case` in YAML and
// JSON, `NCD_<FIELD>` in the environment, `--kebab-case` on the command line.
import * as v from "valibot";
import { timetableValue, windowValue } from "./schedules.ts";
import {
  boolValue,
  bytesValue,
  durationValue,
  enumValue,
  intValue,
  listValue,
  modeValue,
  optionalDurationValue,
  optionalIntValue,
  rateValue,
  textValue,
} from "./values.ts";
import { isAgeRecipient } from "./age-recipient.ts";

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace"] as const;
export const RETENTION_WHEN_FULL = ["refuse", "delete-oldest"] as const;
/** retention_max_age's ceiling: ten calendar years, leap days included. */
const TEN_YEARS_S = 3653 * 86_400;
const WATCH_AFTER_UPLOAD = ["keep", "delete"] as const;
export const METERED_POLICIES = ["allow", "high-only", "pause"] as const;
/** A network interface name or a glob of one (`*` any run of characters, `?` one), as the kernel names them. */
const INTERFACE_GLOB = /^[A-Za-z0-9_.:@*?-]{1,32}$/;
/**
 * encrypt_to: a list of age recipients. An empty list, or null (PATCH unsets it with null), is
 * "not set": null, so nothing is sealed; a recipient given twice counts once.
 */
const recipientsValue = () => {
  const list = listValue(
    v.pipe(v.string(), v.check(isAgeRecipient, "not an age X25519 recipient (age1 followed by 58 letters and digits, as age-keygen prints)")),
    "age X25519 recipients",
  );
  return v.pipe(
    v.unknown(),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      if (dataset.value === null) return null;
      const r = v.safeParse(list, dataset.value);
      if (!r.success) {
        addIssue({ message: r.issues[0]?.message ?? "expected a list of age recipients" });
        return NEVER;
      }
      return r.output.length ? [...new Set(r.output)] : null;
    }),
  );
};
/** metrics_listen: a loopback address only; metrics say much about a robot, and a Prometheus agent
 * on the machine (or a proxy) is the way to reach them from elsewhere. Port 0 picks a free one. */
const LOOPBACK_LISTEN = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\]):(\d{1,5})$/i;
const LISTEN_HINT =
  "a loopback address and port such as 127.0.0.1:9464 or [::1]:9464 (metrics are served on this machine only: scrape them through a local agent or proxy)";
const UPLOAD_URL = /^(s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/\S*)?|https?:\/\/\S+|file:\/\/\/\S*)$/i;

/** What a default may depend on; passed in so resolution stays pure. */
export interface DefaultsContext {
  instanceRoot: string;
  cpuCount: number;
  /** Total size in bytes of the filesystem holding `path`, or undefined when unknown. */
  diskSize(path: string): number | undefined;
}

/** `list`: a list of texts (docs: the list rule); its flag may repeat and takes commas. */
type Kind = "bytes" | "rate" | "bool" | "int" | "duration" | "path" | "text" | "enum" | "mode" | "list";

export interface Config {
  storage_limit: number;
  bandwidth_limit: number | null;
  bandwidth_schedule: string | null;
  upload_window: string | null;
  path_to_store_record: string;
  num_threads: number;
  keep_wakelock_while_upload: boolean;
  offline: boolean;
  api_key: string | null;
  current_org_id: string | null;
  max_concurrent_uploads: number | null;
  upload_url: string | null;
  file_target_mode: string;
  keep_uploaded: boolean;
  log_level: (typeof LOG_LEVELS)[number];
  segment_max_bytes: number;
  segment_max_age: number;
  idle_finalize_after: number;
  idle_release_after: number;
  disk_free_margin: number;
  chunk_size: number;
  max_batch_bytes: number;
  metrics_listen: string | null;
  retention_max_age: number | null;
  retention_when_full: (typeof RETENTION_WHEN_FULL)[number];
  watch_paths: string[];
  watch_settle: number;
  watch_after_upload: (typeof WATCH_AFTER_UPLOAD)[number];
  encrypt_to: string[] | null;
  metered_interfaces: string[];
  metered_policy: (typeof METERED_POLICIES)[number];
  metered_bandwidth_limit: number | null;
}

interface Field<T> {
  kind: Kind;
  schema: v.GenericSchema<unknown, T>;
  /** Changeable on a running daemon (PATCH /v1/config); others need a restart. */
  live: boolean;
  secret: boolean;
  /** Extra flag spellings accepted for compatibility with the reference CLI. */
  aliases?: string[];
  default: (ctx: DefaultsContext, partial: { path_to_store_record: string }) => T;
  defaultText: string;
  description: string;
}

type Fields = { [K in keyof Config]: Field<Config[K]> };
const MiB = 1024 ** 2;

export const FIELDS: Fields = {
  storage_limit: {
    kind: "bytes",
    schema: bytesValue(1),
    live: true,
    secret: false,
    default: (ctx, p) => {
      const size = ctx.diskSize(p.path_to_store_record);
      return size ? Math.max(MiB, Math.floor(size / 2 / MiB) * MiB) : 10 * 1024 ** 3;
    },
    defaultText: "half the size of the disk holding the recordings (10 GiB if unknown)",
    description: "Largest local disk space used for recordings (bytes).",
  },
  bandwidth_limit: {
    kind: "rate",
    schema: rateValue(),
    live: true,
    secret: false,
    default: () => null,
    defaultText: "unlimited",
    description: "Largest upload rate (bytes per second); 0, off or unlimited for none.",
  },
  bandwidth_schedule: {
    kind: "text",
    schema: timetableValue(),
    live: true,
    secret: false,
    default: () => null,
    defaultText: "none",
    description:
      'Upload rate by local time, in rclone\'s timetable form ("08:00,512k 18:00,10M Sat-00:00,off"): the latest entry at or before now is in force, and off means no uploads start; bandwidth_limit still caps it.',
  },
  upload_window: {
    kind: "text",
    schema: windowValue(),
    live: true,
    secret: false,
    default: () => null,
    defaultText: "none (any time)",
    description: 'Local times when uploads may start ("22:00-06:00", several comma-separated); outside them parts in flight finish and the rest waits.',
  },
  path_to_store_record: {
    kind: "path",
    schema: textValue(undefined, "a directory path"),
    live: false,
    secret: false,
    aliases: ["storage-path"],
    default: (ctx) => `${ctx.instanceRoot}/recordings`,
    defaultText: "~/.neuracore/data_daemon/recordings",
    description: "Folder where recordings are stored.",
  },
  num_threads: {
    kind: "int",
    schema: intValue(1, 64),
    live: true,
    secret: false,
    default: (ctx) => Math.max(1, Math.min(8, ctx.cpuCount)),
    defaultText: "the CPU count, at most 8",
    description: "Number of concurrent upload workers.",
  },
  keep_wakelock_while_upload: {
    kind: "bool",
    schema: boolValue(),
    live: false,
    secret: false,
    default: () => false,
    defaultText: "false",
    description: "Keep the machine awake while uploads run (where supported).",
  },
  offline: {
    kind: "bool",
    schema: boolValue(),
    live: true,
    secret: false,
    default: () => false,
    defaultText: "false",
    description: "Store only: no network traffic, no uploads.",
  },
  api_key: {
    kind: "text",
    schema: textValue(undefined, "a non-empty API key"),
    live: false,
    secret: true,
    default: () => null,
    defaultText: "none",
    description: "API key sent as a Bearer token to HTTP upload targets. Never logged.",
  },
  current_org_id: {
    kind: "text",
    schema: textValue(/^[A-Za-z0-9._-]{1,128}$/, "an organisation id of letters, digits, '.', '_' or '-'"),
    live: false,
    secret: false,
    default: () => null,
    defaultText: "none (remote prefix uses 'default')",
    description: "Organisation the daemon works for; part of the remote prefix.",
  },
  max_concurrent_uploads: {
    kind: "int",
    schema: optionalIntValue(1, 64),
    live: true,
    secret: false,
    default: () => null,
    defaultText: "num_threads",
    description: "Most objects uploading at once; never more than num_threads (unset: num_threads).",
  },
  upload_url: {
    kind: "text",
    schema: textValue(UPLOAD_URL, "an s3://bucket/prefix, http(s):// (tus) or file:///dir URL"),
    live: false,
    secret: false,
    default: () => null,
    defaultText: "none (store only)",
    description: "Where recordings are uploaded: s3://bucket/prefix, a tus http(s):// endpoint, or file:///dir.",
  },
  file_target_mode: {
    kind: "mode",
    schema: modeValue(),
    live: false,
    secret: false,
    default: () => "0640",
    defaultText: "0640",
    description: "Mode of the objects a file:///dir upload_url writes (octal); they also take the group of that folder.",
  },
  keep_uploaded: {
    kind: "bool",
    schema: boolValue(),
    live: false,
    secret: false,
    default: () => false,
    defaultText: "false",
    description: "Keep uploaded recordings locally as a cache, evicted oldest first when space is needed.",
  },
  log_level: {
    kind: "enum",
    schema: enumValue(LOG_LEVELS),
    live: false,
    secret: false,
    default: () => "info",
    defaultText: "info",
    description: `Log detail: ${LOG_LEVELS.join(", ")}.`,
  },
  segment_max_bytes: {
    kind: "bytes",
    schema: bytesValue(64 * 1024),
    live: false,
    secret: false,
    default: () => 64 * MiB,
    defaultText: "64mb",
    description: "A recording segment is closed (and can upload) once it reaches this size.",
  },
  segment_max_age: {
    kind: "duration",
    schema: durationValue(1, 86_400),
    live: false,
    secret: false,
    default: () => 60,
    defaultText: "60 (seconds)",
    description: "A recording segment is closed (and can upload) once it is this old (seconds).",
  },
  idle_finalize_after: {
    kind: "duration",
    schema: durationValue(1, 7 * 86_400),
    live: false,
    secret: false,
    default: () => 600,
    defaultText: "600 (seconds)",
    description: "A recording with no writes for this long is stopped and queued for upload (seconds).",
  },
  idle_release_after: {
    kind: "duration",
    schema: durationValue(0, 86_400),
    live: false,
    secret: false,
    default: () => 30,
    defaultText: "30 (seconds)",
    description:
      "After start-up, or recording and upload work, and this long without either, the daemon hands the memory of code it is not running back to the kernel (seconds; 0 never).",
  },
  disk_free_margin: {
    kind: "bytes",
    schema: bytesValue(0),
    live: false,
    secret: false,
    default: () => 256 * MiB,
    defaultText: "256mb",
    description: "Writes are refused when the disk itself has less free space than this.",
  },
  chunk_size: {
    kind: "bytes",
    schema: bytesValue(4 * 1024),
    live: false,
    secret: false,
    default: () => MiB,
    defaultText: "1mb",
    description: "Uncompressed size of the MCAP chunks a closed segment is rewritten into (readers seek by chunk).",
  },
  max_batch_bytes: {
    kind: "bytes",
    schema: bytesValue(64 * 1024),
    live: false,
    secret: false,
    default: () => 64 * MiB,
    defaultText: "64mb",
    description: "Largest body of one messages request (413 beyond it); each request in flight holds its body in memory while it is parsed.",
  },
  metrics_listen: {
    kind: "text",
    schema: v.pipe(
      textValue(LOOPBACK_LISTEN, LISTEN_HINT),
      v.check((s) => Number(LOOPBACK_LISTEN.exec(s)?.[2]) <= 65535, `expected ${LISTEN_HINT}`),
    ),
    live: false,
    secret: false,
    default: () => null,
    defaultText: "off",
    description: "Loopback address:port serving only GET /metrics and GET /v1/health over TCP for a Prometheus scraper (never the control API); unset is off.",
  },
  // Retention is opt-in and never a default: it is the one path that deletes data not uploaded,
  // and only data of recordings stopped with no upload target (store-only, kept in their row).
  retention_max_age: {
    kind: "duration",
    schema: optionalDurationValue(1, TEN_YEARS_S, "10 years"),
    live: true,
    secret: false,
    default: () => null,
    defaultText: "off",
    description:
      "Delete stopped store-only recordings (stopped with no upload target) this long after their stop (s, m, h or d; at most 10 years); with an upload target, only the local copies keep_uploaded kept. Off by default.",
  },
  retention_when_full: {
    kind: "enum",
    schema: enumValue(RETENTION_WHEN_FULL),
    live: true,
    secret: false,
    default: () => "refuse",
    defaultText: "refuse",
    description:
      "When storage_limit is reached: refuse the write (507), or delete-oldest stopped store-only recordings until it fits. Never a recording that had an upload target.",
  },
  watch_paths: {
    kind: "list",
    schema: listValue(textValue(undefined, "a folder path"), "folder paths"),
    live: false,
    secret: false,
    aliases: ["watch-path"],
    default: () => [],
    defaultText: "none",
    description:
      "Folders whose finished files (and rosbag2 folders) are adopted as recordings and uploaded; only read. A list: a YAML list in a profile, commas in the variable; the flag takes commas and may repeat.",
  },
  watch_settle: {
    kind: "duration",
    schema: durationValue(0.1, 86_400),
    live: true,
    secret: false,
    default: () => 5,
    defaultText: "5 (seconds)",
    description: "A watched file is adopted once it has been unchanged (size and modification time) for this long (seconds).",
  },
  watch_after_upload: {
    kind: "enum",
    schema: enumValue(WATCH_AFTER_UPLOAD),
    live: true,
    secret: false,
    default: () => "keep",
    defaultText: "keep",
    description: "What happens to a watched file once its recording is uploaded: keep, or delete (only if it is still the file that was uploaded).",
  },
  encrypt_to: {
    kind: "list",
    schema: recipientsValue(),
    live: true,
    secret: false,
    default: () => null,
    defaultText: "none (recordings are stored and uploaded as written)",
    description:
      "age recipients (age1... public keys) every closed segment and file is sealed to; only their identities can read the recording. Applies to objects sealed after a change.",
  },
  metered_interfaces: {
    kind: "list",
    schema: listValue(textValue(INTERFACE_GLOB, "a network interface name or glob such as wwan* (letters, digits, . _ - : @, and * or ?)"), "interface globs"),
    live: true,
    secret: false,
    default: () => ["wwan*", "wwp*", "ppp*"],
    defaultText: "wwan*,wwp*,ppp*",
    description:
      "Network interfaces that cost money (globs: * any characters, ? one): an upload whose route to the target leaves through one of them follows metered_policy and metered_bandwidth_limit. A list: a YAML list in a profile, commas in the variable and the flag.",
  },
  metered_policy: {
    kind: "enum",
    schema: enumValue(METERED_POLICIES),
    live: true,
    secret: false,
    default: () => "allow",
    defaultText: "allow",
    description:
      "Uploads over a metered interface: allow (as any other link), high-only (only high-priority recordings start there), or pause (none; parts in flight finish).",
  },
  metered_bandwidth_limit: {
    kind: "rate",
    schema: rateValue(),
    live: true,
    secret: false,
    default: () => null,
    defaultText: "unlimited",
    description:
      "Largest upload rate over a metered interface (bytes per second); bandwidth_limit and bandwidth_schedule still cap it. 0, off or unlimited for none.",
  },
};

export type FieldName = keyof Config;
export const FIELD_NAMES = Object.keys(FIELDS) as FieldName[];
type Source = "default" | "profile" | "env" | "flag";
export type Sources = Record<FieldName, Source>;

export const envName = (f: FieldName) => `NCD_${f.toUpperCase()}`;
export const flagName = (f: FieldName) => f.replaceAll("_", "-");
export const LIVE_FIELDS = FIELD_NAMES.filter((f) => FIELDS[f].live);
export const SECRET_FIELDS = FIELD_NAMES.filter((f) => FIELDS[f].secret);
