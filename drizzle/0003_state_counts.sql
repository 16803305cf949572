CREATE TABLE `recording_state_counts` (
	`state` text PRIMARY KEY NOT NULL,
	`n` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE `upload_state_counts` (
	`state` text PRIMARY KEY NOT NULL,
	`n` integer DEFAULT 0 NOT NULL,
	`bytes` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX `recordings_local_bytes` ON `recordings` (`local_bytes`) WHERE local_bytes != 0;--> statement-breakpoint
CREATE INDEX `segments_unhashed` ON `segments` (`recording_id`,`seq`) WHERE state = 'closed' AND sha256 IS NULL;--> statement-breakpoint
CREATE INDEX `uploads_evictable_size` ON `uploads` (`size`) WHERE state = 'uploaded' AND local_deleted = 0;--> statement-breakpoint
-- Seeded from what is there, then kept by the triggers below in the same transaction as every
-- insert, delete and state change (foreign-key cascades fire them too).
INSERT INTO `recording_state_counts` (`state`, `n`) SELECT `state`, COUNT(*) FROM `recordings` GROUP BY `state`;--> statement-breakpoint
INSERT INTO `upload_state_counts` (`state`, `n`, `bytes`) SELECT `state`, COUNT(*), COALESCE(SUM(`size`), 0) FROM `uploads` GROUP BY `state`;--> statement-breakpoint
CREATE TRIGGER `recordings_count_insert` AFTER INSERT ON `recordings` BEGIN
	INSERT OR IGNORE INTO `recording_state_counts` (`state`) VALUES (NEW.`state`);
	UPDATE `recording_state_counts` SET `n` = `n` + 1 WHERE `state` = NEW.`state`;
END;--> statement-breakpoint
CREATE TRIGGER `recordings_count_delete` AFTER DELETE ON `recordings` BEGIN
	UPDATE `recording_state_counts` SET `n` = `n` - 1 WHERE `state` = OLD.`state`;
END;--> statement-breakpoint
CREATE TRIGGER `recordings_count_update` AFTER UPDATE OF `state` ON `recordings` WHEN OLD.`state` IS NOT NEW.`state` BEGIN
	UPDATE `recording_state_counts` SET `n` = `n` - 1 WHERE `state` = OLD.`state`;
	INSERT OR IGNORE INTO `recording_state_counts` (`state`) VALUES (NEW.`state`);
	UPDATE `recording_state_counts` SET `n` = `n` + 1 WHERE `state` = NEW.`state`;
END;--> statement-breakpoint
CREATE TRIGGER `uploads_count_insert` AFTER INSERT ON `uploads` BEGIN
	INSERT OR IGNORE INTO `upload_state_counts` (`state`) VALUES (NEW.`state`);
	UPDATE `upload_state_counts` SET `n` = `n` + 1, `bytes` = `bytes` + NEW.`size` WHERE `state` = NEW.`state`;
END;--> statement-breakpoint
CREATE TRIGGER `uploads_count_delete` AFTER DELETE ON `uploads` BEGIN
	UPDATE `upload_state_counts` SET `n` = `n` - 1, `bytes` = `bytes` - OLD.`size` WHERE `state` = OLD.`state`;
END;--> statement-breakpoint
CREATE TRIGGER `uploads_count_update` AFTER UPDATE OF `state`, `size` ON `uploads` WHEN OLD.`state` IS NOT NEW.`state` OR OLD.`size` IS NOT NEW.`size` BEGIN
	UPDATE `upload_state_counts` SET `n` = `n` - 1, `bytes` = `bytes` - OLD.`size` WHERE `state` = OLD.`state`;
	INSERT OR IGNORE INTO `upload_state_counts` (`state`) VALUES (NEW.`state`);
	UPDATE `upload_state_counts` SET `n` = `n` + 1, `bytes` = `bytes` + NEW.`size` WHERE `state` = NEW.`state`;
END;
