CREATE TABLE `watched_files` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`path` text NOT NULL,
	`kind` text NOT NULL,
	`size` integer NOT NULL,
	`mtime_ns` text NOT NULL,
	`sha256` text NOT NULL,
	`recording_id` text,
	`state` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `watched_files_path` ON `watched_files` (`path`,`state`);--> statement-breakpoint
CREATE INDEX `watched_files_recording` ON `watched_files` (`recording_id`);