-- Inpainting masks get their own image category, so that they stay out of the gallery and the
-- sweeper can delete the ones no job or image needs any more (src/images/mask_sweep.rs).
alter table images drop constraint images_category_check;
alter table images add constraint images_category_check
    check (category in ('general', 'user', 'mask'));
