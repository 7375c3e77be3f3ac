-- V12: the catalogue also holds LoRA adapters (one safetensors file each), which jobs apply to
-- a main model of the same family.

alter table models drop constraint models_type_check;
alter table models add constraint models_type_check check (type in ('main', 'vae', 'lora'));
