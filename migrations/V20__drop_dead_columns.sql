-- V20: dead schema goes. `models.preview_image_id` was never read or written, and
-- `queue_items.measured_cost` was written at completion (the last unit's seconds only) and never
-- read: measured time already reaches the owner's fair-share tag at every unit (`charged`,
-- reconciled in `queue_charge`). Functions that select `q.*` are SQL-language and re-read the
-- table's columns when they run.
alter table models drop column preview_image_id;
alter table queue_items drop column measured_cost;
