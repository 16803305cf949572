// The states a recording, an upload object and a segment can be in: the one list of each,
// which the tables, the recordings library, the API's contract (its `state` picklists) and the
// OpenAPI document all take from here. Nothing is imported, so the client can load it too.

/** recording -> finalizing -> pending_upload -> uploading -> uploaded | failed; or cancelled. */
export const RECORDING_STATES = ["recording", "finalizing", "pending_upload", "uploading", "uploaded", "failed", "cancelled"] as const;
export const UPLOAD_STATES = ["pending", "uploading", "uploaded", "failed"] as const;
export const SEGMENT_STATES = ["open", "closed"] as const;

/**
 * Upload priorities, most urgent first: a recording's `priority` column holds the index here
 * (its rank), so the upload order is an ascending index walk. "normal" is the default.
 */
export const PRIORITIES = ["high", "normal", "low"] as const;
export type Priority = (typeof PRIORITIES)[number];
export const DEFAULT_PRIORITY: Priority = "normal";
export const priorityRank = (p: Priority): number => PRIORITIES.indexOf(p);
export const priorityOfRank = (rank: number): Priority => PRIORITIES[rank] ?? DEFAULT_PRIORITY;
