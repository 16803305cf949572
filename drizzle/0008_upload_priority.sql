-- Upload priority (0 high, 1 normal, 2 low; existing recordings are normal). The scheduler's
-- partial index leads with it, so a page of pending work is still an index walk that stops at its LIMIT.
DROP INDEX `recordings_upload_order`;--> statement-breakpoint
ALTER TABLE `recordings` ADD `priority` integer DEFAULT 1 NOT NULL;--> statement-breakpoint
CREATE INDEX `recordings_upload_order` ON `recordings` (`priority`,`created_at`,`id`) WHERE state IN ('recording', 'finalizing', 'pending_upload', 'uploading');