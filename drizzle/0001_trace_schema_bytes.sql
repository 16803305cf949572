-- Trace schemas become bytes (a protobuf FileDescriptorSet is binary); existing text schemas are
-- kept as their UTF-8 bytes. No table references traces, so it is rebuilt inside the migration's
-- transaction without turning foreign keys off (a no-op inside a transaction anyway). Traces and
-- segments gain the time ranges the manifest reports.
CREATE TABLE `__new_traces` (
	`recording_id` text NOT NULL,
	`name` text NOT NULL,
	`encoding` text NOT NULL,
	`schema_name` text,
	`schema_encoding` text,
	`schema` blob,
	`declared` integer DEFAULT 1 NOT NULL,
	`message_count` integer DEFAULT 0 NOT NULL,
	`bytes` integer DEFAULT 0 NOT NULL,
	`first_timestamp_ns` integer,
	`last_timestamp_ns` integer,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`recording_id`, `name`),
	FOREIGN KEY (`recording_id`) REFERENCES `recordings`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
INSERT INTO `__new_traces`("recording_id", "name", "encoding", "schema_name", "schema_encoding", "schema", "declared", "message_count", "bytes", "first_timestamp_ns", "last_timestamp_ns", "created_at") SELECT "recording_id", "name", "encoding", "schema_name", "schema_encoding", CAST("schema" AS BLOB), "declared", "message_count", "bytes", NULL, NULL, "created_at" FROM `traces`;--> statement-breakpoint
DROP TABLE `traces`;--> statement-breakpoint
ALTER TABLE `__new_traces` RENAME TO `traces`;--> statement-breakpoint
ALTER TABLE `segments` ADD `start_time_ns` integer;--> statement-breakpoint
ALTER TABLE `segments` ADD `end_time_ns` integer;