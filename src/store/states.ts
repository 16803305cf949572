// The states a recording, an upload object and a segment can be in: the one list of each,
// which the tables, the recordings library, the API's contract (its `state` picklists) and the
// OpenAPI document all take from here. Nothing is imported, so the client can load it too.

/** recording -> finalizing -> pending_upload -> uploading -> uploaded | failed; or cancelled. */
export const RECORDING_STATES = ["recording", "finalizing", "pending_upload", "uploading", "uploaded", "failed", "cancelled"] as const;
export const UPLOAD_STATES = ["pending", "uploading", "uploaded", "failed"] as const;
export const SEGMENT_STATES = ["open", "closed"] as const;
