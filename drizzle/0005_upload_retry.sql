ALTER TABLE `uploads` ADD `next_retry_at` integer;--> statement-breakpoint
-- Status counts each object in exactly one state: the data objects (segments and files) a
-- person can count, not the manifest row each stopped recording also has (one stopped
-- recording with one segment showed "1 pending, 1 uploading"). Reseeded, and the triggers of
-- 0003 now leave manifests out.
DROP TRIGGER `uploads_count_insert`;--> statement-breakpoint
DROP TRIGGER `uploads_count_delete`;--> statement-breakpoint
DROP TRIGGER `uploads_count_update`;--> statement-breakpoint
DELETE FROM `upload_state_counts`;--> statement-breakpoint
INSERT INTO `upload_state_counts` (`state`, `n`, `bytes`) SELECT `state`, COUNT(*), COALESCE(SUM(`size`), 0) FROM `uploads` WHERE `kind` != 'manifest' GROUP BY `state`;--> statement-breakpoint
CREATE TRIGGER `uploads_count_insert` AFTER INSERT ON `uploads` WHEN NEW.`kind` != 'manifest' BEGIN
	INSERT OR IGNORE INTO `upload_state_counts` (`state`) VALUES (NEW.`state`);
	UPDATE `upload_state_counts` SET `n` = `n` + 1, `bytes` = `bytes` + NEW.`size` WHERE `state` = NEW.`state`;
END;--> statement-breakpoint
CREATE TRIGGER `uploads_count_delete` AFTER DELETE ON `uploads` WHEN OLD.`kind` != 'manifest' BEGIN
	UPDATE `upload_state_counts` SET `n` = `n` - 1, `bytes` = `bytes` - OLD.`size` WHERE `state` = OLD.`state`;
END;--> statement-breakpoint
CREATE TRIGGER `uploads_count_update` AFTER UPDATE OF `state`, `size` ON `uploads` WHEN NEW.`kind` != 'manifest' AND (OLD.`state` IS NOT NEW.`state` OR OLD.`size` IS NOT NEW.`size`) BEGIN
	UPDATE `upload_state_counts` SET `n` = `n` - 1, `bytes` = `bytes` - OLD.`size` WHERE `state` = OLD.`state`;
	INSERT OR IGNORE INTO `upload_state_counts` (`state`) VALUES (NEW.`state`);
	UPDATE `upload_state_counts` SET `n` = `n` + 1, `bytes` = `bytes` + NEW.`size` WHERE `state` = NEW.`state`;
END;
