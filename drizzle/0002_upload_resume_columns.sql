ALTER TABLE `uploads` ADD `multipart_upload_id` text;--> statement-breakpoint
ALTER TABLE `uploads` ADD `multipart_key` text;--> statement-breakpoint
ALTER TABLE `uploads` ADD `part_size` integer;--> statement-breakpoint
ALTER TABLE `uploads` ADD `tus_url` text;--> statement-breakpoint
-- Resume state used to be JSON in upload_id: {"multipart":{"uploadId","key","partSize"},"tusUrl"}.
-- Anything else there was never read back (it resumed nothing), so it is left behind.
UPDATE `uploads` SET
	`multipart_upload_id` = json_extract(`upload_id`, '$.multipart.uploadId'),
	`multipart_key` = json_extract(`upload_id`, '$.multipart.key'),
	`part_size` = json_extract(`upload_id`, '$.multipart.partSize'),
	`tus_url` = json_extract(`upload_id`, '$.tusUrl')
	WHERE json_valid(`upload_id`) AND json_type(`upload_id`) = 'object';--> statement-breakpoint
ALTER TABLE `uploads` DROP COLUMN `upload_id`;
