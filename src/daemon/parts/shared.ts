import type { UploadInfo } from "../../api/index.ts";
import type { Recordings } from "../../recordings/recordings.ts";
import type { Store } from "../../store/store.ts";

/** What the recordings part hands to the uploads part once both exist. */
export interface UploadsHandle {
  kick(): void;
  cancel(recordingId: string): Promise<void>;
  /** Progress and remote location of one recording, merged into its API view. */
  info(recordingId: string): UploadInfo;
}

export interface SharedParts {
  store?: Store;
  recordings?: Recordings;
  uploads?: UploadsHandle;
}
