-- V19: gallery listings without masks read their page straight from an index.
--
-- A gallery page (a board, Uncategorized, or all of a user's images) shows generated images and
-- assets, not inpainting masks, so it filters `category <> 'mask'` (V14). The V2 indexes have
-- `category` before the sort key, so with an inequality on it PostgreSQL could not return rows
-- in order: it read the whole board and sorted it (a 100k-image board's first page took 328 ms
-- at p50 instead of 24 ms). These partial indexes carry exactly the gallery's predicate and end
-- with its sort keys, so a page is the next `limit` index entries whatever the board's size.
-- They lead with owner_id, the policy column (rls.md §4).
create index images_gallery_board_created_idx
    on images (owner_id, board_id, created_at desc, id desc) where category <> 'mask';
create index images_gallery_board_starred_idx
    on images (owner_id, board_id, starred desc, created_at desc, id desc) where category <> 'mask';
create index images_gallery_created_idx
    on images (owner_id, created_at desc, id desc) where category <> 'mask';
create index images_gallery_starred_idx
    on images (owner_id, starred desc, created_at desc, id desc) where category <> 'mask';
