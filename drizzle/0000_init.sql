CREATE TABLE `files` (
	`recording_id` text NOT NULL,
	`name` text NOT NULL,
	`path` text NOT NULL,
	`bytes` integer NOT NULL,
	`sha256` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`recording_id`, `name`),
	FOREIGN KEY (`recording_id`) REFERENCES `recordings`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `recordings` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text,
	`dataset` text,
	`robot_id` text,
	`metadata` text DEFAULT '{}' NOT NULL,
	`state` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`last_write_at` integer NOT NULL,
	`stopped_at` integer,
	`message_count` integer DEFAULT 0 NOT NULL,
	`bytes` integer DEFAULT 0 NOT NULL,
	`local_bytes` integer DEFAULT 0 NOT NULL,
	`next_segment_seq` integer DEFAULT 1 NOT NULL,
	`error` text
);
--> statement-breakpoint
CREATE INDEX `recordings_state_created` ON `recordings` (`state`,`created_at`);--> statement-breakpoint
CREATE INDEX `recordings_created` ON `recordings` (`created_at`);--> statement-breakpoint
CREATE TABLE `segments` (
	`recording_id` text NOT NULL,
	`seq` integer NOT NULL,
	`path` text NOT NULL,
	`state` text NOT NULL,
	`bytes` integer NOT NULL,
	`message_count` integer DEFAULT 0 NOT NULL,
	`sha256` text,
	`created_at` integer NOT NULL,
	`closed_at` integer,
	PRIMARY KEY(`recording_id`, `seq`),
	FOREIGN KEY (`recording_id`) REFERENCES `recordings`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `segments_state` ON `segments` (`state`);--> statement-breakpoint
CREATE TABLE `traces` (
	`recording_id` text NOT NULL,
	`name` text NOT NULL,
	`encoding` text NOT NULL,
	`schema_name` text,
	`schema_encoding` text,
	`schema` text,
	`declared` integer DEFAULT 1 NOT NULL,
	`message_count` integer DEFAULT 0 NOT NULL,
	`bytes` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`recording_id`, `name`),
	FOREIGN KEY (`recording_id`) REFERENCES `recordings`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `upload_parts` (
	`upload_id` integer NOT NULL,
	`part_number` integer NOT NULL,
	`size` integer NOT NULL,
	`etag` text,
	`checksum` text,
	PRIMARY KEY(`upload_id`, `part_number`),
	FOREIGN KEY (`upload_id`) REFERENCES `uploads`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `uploads` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`recording_id` text NOT NULL,
	`kind` text NOT NULL,
	`local_path` text NOT NULL,
	`remote_key` text NOT NULL,
	`size` integer NOT NULL,
	`sha256` text NOT NULL,
	`state` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_error` text,
	`upload_id` text,
	`bytes_sent` integer DEFAULT 0 NOT NULL,
	`local_deleted` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`uploaded_at` integer,
	FOREIGN KEY (`recording_id`) REFERENCES `recordings`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `uploads_state` ON `uploads` (`state`,`id`);--> statement-breakpoint
CREATE INDEX `uploads_recording` ON `uploads` (`recording_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `uploads_remote_key` ON `uploads` (`recording_id`,`remote_key`);--> statement-breakpoint
CREATE INDEX `uploads_evictable` ON `uploads` (`local_deleted`,`state`,`uploaded_at`);