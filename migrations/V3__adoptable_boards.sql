-- V3: let `atelier user adopt` move boards that hold images. Changing a board's owner now
-- carries its images along (ON UPDATE CASCADE on the same-owner key), instead of failing on
-- the composite foreign key. Images still cannot point at another owner's board.

alter table images drop constraint images_board_same_owner_fkey;
alter table images add constraint images_board_same_owner_fkey foreign key (board_id, owner_id)
    references boards (id, owner_id) on update cascade on delete set null (board_id);
