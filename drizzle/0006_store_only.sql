-- Whether a recording was store-only when it stopped (no upload target set then), for the
-- opt-in retention policy. Existing rows keep NULL: unknown, treated as had-a-target, so
-- retention never deletes a recording stopped before this column existed.
ALTER TABLE `recordings` ADD `store_only` integer;--> statement-breakpoint
CREATE INDEX `recordings_store_only` ON `recordings` (`stopped_at`,`id`) WHERE store_only = 1;
