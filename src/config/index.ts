export { FIELDS, FIELD_NAMES, LIVE_FIELDS, SECRET_FIELDS, LOG_LEVELS, envName, flagName } from "./fields.ts";
export type { Config, FieldName, Source, Sources, DefaultsContext } from "./fields.ts";
export { parseField } from "./parse.ts";
export { resolveConfig, redactConfig, type Resolved } from "./resolve.ts";
export { loadConfig, homeOf, instanceOf, type Loaded, type LoadInput } from "./load.ts";
export { resolvePaths, resolveSystemPaths, isSystemService, MAX_SOCKET_PATH, type Paths } from "./paths.ts";
export { createProfileStore, validateProfileName, type ProfileStore, type ProfileValues } from "./profiles.ts";
export { parseBytes, parseBool } from "./values.ts";
