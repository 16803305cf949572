ALTER TABLE `files` ADD `sealed_bytes` integer;--> statement-breakpoint
ALTER TABLE `files` ADD `sealed_sha256` text;--> statement-breakpoint
ALTER TABLE `files` ADD `sealed_to` text;--> statement-breakpoint
ALTER TABLE `segments` ADD `sealed_bytes` integer;--> statement-breakpoint
ALTER TABLE `segments` ADD `sealed_sha256` text;--> statement-breakpoint
ALTER TABLE `segments` ADD `sealed_to` text;