-- Stored metadata (PNG text chunks, generation parameters) counts towards the owner's quota, so
-- that text cannot be used to store data outside it. An image's charge is its bytes plus the
-- length of its metadata as text; metadata is never updated after insert (no column grant), so
-- the insert and delete branches stay symmetric. Existing totals are recomputed.
create or replace function atelier_track_used_bytes() returns trigger
    language plpgsql security definer set search_path = pg_catalog, public
    as $$
begin
    if tg_op in ('DELETE', 'UPDATE') then
        update public.users
           set used_bytes = used_bytes - old.byte_size - coalesce(octet_length(old.metadata::text), 0)
         where id = old.owner_id;
    end if;
    if tg_op in ('INSERT', 'UPDATE') then
        update public.users
           set used_bytes = used_bytes + new.byte_size + coalesce(octet_length(new.metadata::text), 0)
         where id = new.owner_id;
    end if;
    return null;
end $$;

set local role atelier_admin;
update users u
   set used_bytes = coalesce((select sum(i.byte_size + coalesce(octet_length(i.metadata::text), 0))
                                from images i where i.owner_id = u.id), 0);
reset role;
